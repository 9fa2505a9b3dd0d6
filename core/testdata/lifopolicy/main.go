//go:build wasip1

// Command lifopolicy is the cheapest Go policy module the core's decision
// benchmark has: a slice used as a stack, no map and no allocation once it
// has grown, so its cost is mostly the ABI and the Go reactor's call.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o lifo.wasm ./core/testdata/lifopolicy
package main

import (
	"time"

	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/wasmpolicy"
)

type lifo struct{ q []sdk.TaskID }

func (*lifo) Name() string                                                      { return "lifo" }
func (l *lifo) Enqueue(t sdk.Task, _ sdk.EnqueueReason)                         { l.q = append(l.q, t.ID) }
func (l *lifo) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool          { return false }
func (*lifo) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool { return false }

func (l *lifo) GetNext(sdk.WorkerID, time.Duration) (sdk.TaskID, bool) {
	if len(l.q) == 0 {
		return 0, false
	}
	id := l.q[len(l.q)-1]
	l.q = l.q[:len(l.q)-1]
	return id, true
}

// Dequeue scans: a queued task is found and removed, a running one
// (already popped) is not found.
func (l *lifo) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	for i, x := range l.q {
		if x == id {
			l.q = append(l.q[:i], l.q[i+1:]...)
			return
		}
	}
}

func init() { wasmpolicy.Serve(&lifo{}) }

func main() {}
