package core

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
)

// flaky is a FIFO policy that goes wrong at its n-th GetNext in the way
// mode says, as a broken plugin would.
type flaky struct {
	*fifo.FIFO
	mode  string // "unknown": returns an ID it never held; "error": reports a fault
	n     int
	calls int
	err   error
}

func (f *flaky) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	f.calls++
	if f.calls == f.n {
		switch f.mode {
		case "unknown":
			return 1 << 60, true
		case "error":
			f.err = fmt.Errorf("plugin process exited")
			return 0, false
		}
	}
	return f.FIFO.GetNext(w, now)
}

// TestPolicyFallback: a policy plugin that fails mid-load is replaced by
// the fallback, which gets every queued request; each request is answered
// exactly once, with 200.
func TestPolicyFallback(t *testing.T) {
	for _, mode := range []string{"unknown", "error"} {
		t.Run(mode, func(t *testing.T) {
			ts := startServer(t, config.Runtime{Workers: 1, Preemption: true}, testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"))
			bad := &flaky{FIFO: fifo.New(), mode: mode, n: 5}
			ts.sched.mu.Lock()
			ts.sched.setPolicyLocked(bad)
			ts.sched.guard = &pluginGuard{
				name:     "flaky",
				err:      func() error { return bad.err },
				kill:     func() {},
				fallback: func() (sdk.Policy, error) { return fifo.New(), nil },
			}
			ts.sched.mu.Unlock()

			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // holds the worker so that the rest queue up
				defer wg.Done()
				if status, _ := ts.do(t, "POST", "/spin", "100"); status != 200 {
					t.Errorf("spin = %d", status)
				}
			}()
			waitRunning(t, ts.Server, 1)
			const n = 12
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, body := ts.do(t, "POST", "/fib", fmt.Sprint(10+i%5))
					if status != 200 || strings.TrimSpace(body) == "" {
						t.Errorf("fib = %d %q", status, body)
					}
				}()
			}
			wg.Wait()
			ts.sched.mu.Lock()
			name, guarded := ts.sched.policy.Name(), ts.sched.guard != nil
			ts.sched.mu.Unlock()
			if guarded || name != fifo.Name {
				t.Errorf("after the fault: policy %s, still guarded %v; want the fallback", name, guarded)
			}
			if st, _ := ts.RouteStats("t", "/fib"); st.Requests != n {
				t.Errorf("%d /fib answered, want %d", st.Requests, n)
			}
			if got := testutilCounter(t, ts.Server, "gosledge_policy_fallbacks_total"); got != 1 {
				t.Errorf("fallbacks metric = %v, want 1", got)
			}
		})
	}
}
