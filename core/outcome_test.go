package core

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
)

// TestKilledOutcomeSaysWhy: a killed sandbox unwinds with the kill's exit
// code, but its answer and its logged error name the reason, never the
// code ("exit_code(57005)" meant nothing to an operator).
func TestKilledOutcomeSaysWhy(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1}, testRoute(t, "/fib", "fib"))
	rt := ts.tenants[0].routeMap()["/fib"]
	for _, tc := range []struct {
		reason int32
		result Result
		err    error
	}{
		{killTimeout, ResultTimeout, errKilledTimeout},
		{killShutdown, ResultShutdown, errKilledShutdown},
		{killCanceled, ResultCancelled, errKilledCanceled},
		{killCPULimit, ResultCPULimit, errKilledCPULimit},
	} {
		sb := newSandbox(rt, 1, ts.now(), nil, nil)
		sb.Kill(tc.reason)
		out := sb.outcome(sys.NewExitError(exitKilled))
		if out.Result != tc.result || !errors.Is(out.Err, tc.err) || strings.Contains(out.Err.Error(), "exit_code") {
			t.Errorf("kill %d: %v, err %v; want %v, %v", tc.reason, out.Result, out.Err, tc.result, tc.err)
		}
		ts.forget(sb)
	}
}

// TestEveryResultHasAStatus: the listener's table gives every result a
// status of the HTTP contract (README.md) and a name for the logs, so a
// result added without a row cannot answer 0.
func TestEveryResultHasAStatus(t *testing.T) {
	contract := map[int]bool{200: true, 408: true, 409: true, 429: true, 499: true, 500: true, 502: true, 504: true}
	for r := Result(0); r < numResults; r++ {
		if st := httpStatus[r]; !contract[st] {
			t.Errorf("%v answers %d, not a status of the contract", r, st)
		}
		if strings.HasPrefix(r.String(), "Result(") {
			t.Errorf("result %d has no name", r)
		}
	}
}

// shedPreempted is FIFO that sheds every task enqueued after a
// preemption: the one path where a sandbox is shed after it started, while
// it waits in yield to resume.
type shedPreempted struct {
	*fifo.FIFO
	ran []sdk.TaskID
}

func (p *shedPreempted) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	p.FIFO.Enqueue(t, why)
	if why == sdk.Preempted {
		p.ran = append(p.ran, t.ID)
	}
}

func (p *shedPreempted) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	id, ok := p.FIFO.GetNext(w, now)
	p.ran = slices.DeleteFunc(p.ran, func(r sdk.TaskID) bool { return r == id })
	return id, ok
}

func (p *shedPreempted) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	p.FIFO.Dequeue(id, why)
	p.ran = slices.DeleteFunc(p.ran, func(r sdk.TaskID) bool { return r == id })
}

// Shed gives up the queued tasks that have run, at the next arrival.
func (p *shedPreempted) Shed(time.Duration) []sdk.TaskID {
	ids := p.ran
	p.ran = nil
	for _, id := range ids {
		p.FIFO.Dequeue(id, sdk.Cancelled)
	}
	return ids
}

// TestShedAfterPreemption: a sandbox shed after it has run answers 409,
// not 500 with the kill's exit code. Two spins take turns on one worker,
// so one of them is always queued after a preemption when fib arrives.
func TestShedAfterPreemption(t *testing.T) {
	reg := sdk.NewRegistry()
	reg.Register("shedder", func() sdk.Policy { return &shedPreempted{FIFO: fifo.New()} })
	ts := startWithPolicies(t, config.Runtime{Workers: 1, Policy: "shedder", Preemption: true, Quantum: time.Millisecond},
		reg, nil, config.Tenant{Name: "t", Routes: []config.Route{testRoute(t, "/spin", "spin"), testRoute(t, "/fib", "fib")}})
	a := ts.doAsync(t, "POST", "/spin", "300")
	b := ts.doAsync(t, "POST", "/spin", "300")
	for deadline := time.Now().Add(10 * time.Second); ts.sched.snapshot().Preemptions < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two spins never took turns")
		}
	}
	if status, body := ts.do(t, "POST", "/fib", "5"); status != 200 || strings.TrimSpace(body) != "5" {
		t.Errorf("fib 5 = %d %q", status, body)
	}
	got := map[int]int{}
	for _, r := range []response{<-a, <-b} {
		got[r.status]++
		if r.status == 409 && !strings.Contains(r.body, "shed") {
			t.Errorf("409 body %q, want it to say shed", r.body)
		}
	}
	if got[409] != 1 || got[200] != 1 {
		t.Errorf("spins answered %v, want one 200 and one 409 (the one shed while preempted)", got)
	}
}
