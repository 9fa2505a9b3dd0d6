package core

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
)

// holdBack is FIFO that keeps each task back for hold after its arrival:
// GetNext says no while it holds tasks, as a policy waiting for a budget
// to refill does.
type holdBack struct {
	q    []sdk.Task
	hold time.Duration
	asks int // GetNext calls that found the head still held
}

func (*holdBack) Name() string                                           { return "hold" }
func (h *holdBack) Enqueue(t sdk.Task, _ sdk.EnqueueReason)              { h.q = append(h.q, t) }
func (*holdBack) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool { return false }
func (*holdBack) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool {
	return false
}

func (h *holdBack) GetNext(_ sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	if len(h.q) == 0 {
		return 0, false
	}
	if now < h.q[0].Arrival+h.hold {
		h.asks++
		return 0, false
	}
	id := h.q[0].ID
	h.q = h.q[1:]
	return id, true
}

func (h *holdBack) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	h.q = slices.DeleteFunc(h.q, func(t sdk.Task) bool { return t.ID == id })
}

// TestPollHeldWork: a policy that holds a task back while a worker is
// idle is asked again as time passes, with no other event to prompt it:
// the lone request is served, after the policy said no at least once.
func TestPollHeldWork(t *testing.T) {
	h := &holdBack{hold: 20 * time.Millisecond}
	reg := sdk.NewRegistry()
	reg.Register("hold", func() sdk.Policy { return h })
	ts := startWithPolicies(t, config.Runtime{Workers: 1, Policy: "hold", Preemption: true, Quantum: time.Millisecond},
		reg, nil, config.Tenant{Name: "t", Routes: []config.Route{testRoute(t, "/fib", "fib")}})
	for i := range 3 {
		if status, body := ts.do(t, "POST", "/fib", "5"); status != 200 || strings.TrimSpace(body) != "5" {
			t.Fatalf("request %d: fib 5 = %d %q", i, status, body)
		}
	}
	ts.sched.mu.Lock()
	asks := h.asks
	ts.sched.mu.Unlock()
	if asks < 3 {
		t.Errorf("the policy held work back %d times, want at least once per request", asks)
	}
}
