//go:build wasip1

// Command faultypolicy is a FIFO policy module for the core's fault
// tests: GetNext goes wrong, the moment it would hand out a task of a
// route named after a fault, in that way: /loop never returns, /trap
// reads outside its memory, /foreign answers a task it never held, /oom
// allocates until its memory limit, /panic panics.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o faulty.wasm ./core/testdata/faultypolicy
package main

import (
	"time"
	"unsafe"

	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/wasmpolicy"
)

type faulty struct {
	*fifo.FIFO
	routes map[sdk.TaskID]string
}

func (*faulty) Name() string { return "faulty" }

func (f *faulty) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	f.routes[t.ID] = t.Route
	f.FIFO.Enqueue(t, why)
}

func (f *faulty) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	delete(f.routes, id)
	f.FIFO.Dequeue(id, why)
}

var sink [][]byte

func (f *faulty) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	id, ok := f.FIFO.GetNext(w, now)
	if !ok {
		return id, ok
	}
	switch f.routes[id] {
	case "/loop":
		for {
		}
	case "/trap":
		return sdk.TaskID(*(*uint64)(unsafe.Pointer(uintptr(0xfffffff0)))), true
	case "/foreign":
		return id + 1<<40, true
	case "/oom":
		for {
			sink = append(sink, make([]byte, 8<<20))
		}
	case "/panic":
		panic("boom")
	}
	return id, ok
}

func init() { wasmpolicy.Serve(&faulty{FIFO: fifo.New(), routes: map[sdk.TaskID]string{}}) }

func main() {}
