package core

import (
	"fmt"
	"os"
	"sync/atomic"
)

// pollKick makes the Go scheduler poll the network from a worker that
// yields. Go cannot preempt Wasm, and runtime.Gosched puts the yielding
// goroutine on the global run queue, which the scheduler takes from
// before it polls the network: with every processor running a sandbox,
// an arriving request waited for sysmon's 10 ms poll. A goroutine that
// parks on a pipe instead leaves its processor nothing to run but the
// kick's writer, after which the scheduler's non-blocking netpoll readies
// both the reader and whatever the network has.
type pollKick struct {
	r, w  *os.File
	buf   [1]byte
	kicks atomic.Uint64 // yields through the pipe, for tests
}

func newPollKick() (*pollKick, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("poll kick: %w", err)
	}
	return &pollKick{r: r, w: w}, nil
}

// yield parks the calling goroutine until the network poller has run.
func (k *pollKick) yield() {
	k.kicks.Add(1)
	go k.w.Write([]byte{1})
	k.r.Read(k.buf[:])
}

func (k *pollKick) close() {
	k.r.Close()
	k.w.Close()
}
