package policytest

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// ref is a simple, obviously correct O(n) policy with optional bugs, to
// check that the suite accepts what is right and catches what is wrong.
type ref struct {
	less func(a, b sdk.Task) bool // nil: FIFO with round robin
	bug  string
	held []sdk.Task
	n    int // calls, for bugs that strike late
}

func (r *ref) Name() string {
	if r.bug == "name" && r.n > 100 {
		return "renamed"
	}
	return "ref"
}

func (r *ref) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	r.n++
	if r.bug == "lose preempted" && why == sdk.Preempted && r.n%5 == 0 {
		return
	}
	r.held = append(r.held, t)
}

func (r *ref) best() int {
	b := 0
	for i := range r.held {
		if r.less != nil && r.less(r.held[i], r.held[b]) {
			b = i
		}
	}
	return b
}

func (r *ref) GetNext(_ sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	r.n++
	if len(r.held) == 0 {
		return 0, false
	}
	switch {
	case r.bug == "panic" && r.n > 500:
		panic("boom")
	case r.bug == "lazy" && len(r.held) == 1 && now%(2*time.Millisecond) < time.Millisecond:
		return 0, false
	case r.bug == "hold back" && now < r.held[0].Arrival+3*time.Millisecond:
		return 0, false // non-work-conserving, but everything comes out in time
	}
	i := r.best()
	if r.bug == "hold back" {
		i = 0
	}
	t := r.held[i]
	if r.bug == "duplicate" && r.n%50 == 0 {
		return t.ID, true
	}
	r.held = slices.Delete(r.held, i, i+1)
	return t.ID, true
}

func (r *ref) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	if r.bug == "interrupt mutates" && len(r.held) > 1 {
		r.held = append(r.held[1:], r.held[0]) // rotates: FIFO order changes
	}
	if r.less == nil {
		return r.bug != "no rotation" && len(r.held) > 0
	}
	for _, h := range r.held {
		if r.less(h, cur) || r.bug == "ties preempt" && !r.less(cur, h) {
			return true
		}
	}
	return false
}

func (r *ref) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, _ time.Duration) bool {
	switch r.bug {
	case "would preempt mutates":
		r.n++
		if r.n%7 == 0 && len(r.held) > 1 {
			r.held[0], r.held[1] = r.held[1], r.held[0]
		}
	case "always preempt":
		return true
	}
	return r.less != nil && r.less(arriving, cur)
}

func (r *ref) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	if r.bug == "ignore cancel" {
		return
	}
	r.held = slices.DeleteFunc(r.held, func(t sdk.Task) bool { return t.ID == id })
}

func byDeadline(a, b sdk.Task) bool { return a.Deadline < b.Deadline }

// mt is ref with every optional capability: admission, shedding, tenant
// configuration, gauges.
type mt struct {
	*ref
	tenants []sdk.TenantConfig
	refused int
}

func (m *mt) Configure(c sdk.Config) error {
	if c.Workers < 1 || len(c.Tenants) == 0 || m.bug == "configure" {
		return fmt.Errorf("bad configuration")
	}
	m.tenants = c.Tenants
	return nil
}

var _ sdk.Configurer = (*mt)(nil)

func (m *mt) Admit(t sdk.Task, _ time.Duration) (sdk.Class, bool) {
	if t.ID%7 == 0 {
		m.refused++
		return sdk.ClassDefault, false
	}
	if t.Tenant == m.tenants[0].Name {
		return sdk.ClassGuaranteed, true
	}
	return sdk.ClassBestEffort, true
}

// Shed gives up the latest deadline beyond 20 queued tasks.
func (m *mt) Shed(time.Duration) []sdk.TaskID {
	if len(m.held) <= 20 {
		return nil
	}
	i := 0
	for j, t := range m.held {
		if byDeadline(m.held[i], t) {
			i = j
		}
	}
	id := m.held[i].ID
	if m.bug == "shed unheld" {
		return []sdk.TaskID{id + 1000}
	}
	m.held = slices.Delete(m.held, i, i+1)
	return []sdk.TaskID{id}
}

func (m *mt) Report(time.Duration) []sdk.Gauge {
	return []sdk.Gauge{{Name: "queued", Value: float64(len(m.held))}}
}

func mtFactory(bug string) func() sdk.Policy {
	return func() sdk.Policy { return &mt{ref: &ref{less: byDeadline, bug: bug}} }
}

func factory(less func(a, b sdk.Task) bool, bug string) func() sdk.Policy {
	return func() sdk.Policy { return &ref{less: less, bug: bug} }
}

func TestAcceptsCorrectPolicies(t *testing.T) {
	t.Run("fifo", func(t *testing.T) { Run(t, factory(nil, ""), Options{RoundRobin: true}) })
	t.Run("edf", func(t *testing.T) {
		Run(t, factory(byDeadline, ""), Options{Before: byDeadline, Preemptive: true})
	})
	t.Run("non-work-conserving", func(t *testing.T) {
		Run(t, factory(nil, "hold back"), Options{NonWorkConserving: true})
	})
	t.Run("admits, sheds, reports", func(t *testing.T) { Run(t, mtFactory("")) })
}

// fakeTB records the first failure and stops the goroutine, as t.Fatal
// does.
type fakeTB struct {
	testing.TB // nil: only the methods below are used
	msg        string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// firstFailure runs Run's cases in order on a fake TB and returns the
// first failure message, or "".
func firstFailure(f func() sdk.Policy, opt Options) string {
	for _, c := range cases(f, opt, events) {
		tb := &fakeTB{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(tb)
		}()
		<-done
		if tb.msg != "" {
			return strings.TrimPrefix(c.group+"/"+c.name, "/") + ": " + tb.msg
		}
	}
	return ""
}

func TestCatchesBrokenPolicies(t *testing.T) {
	edf := Options{Before: byDeadline, Preemptive: true}
	tests := []struct {
		name string
		bug  string
		less func(a, b sdk.Task) bool
		opt  Options
		want string
	}{
		{"returns cancelled", "ignore cancel", nil, Options{}, "which the policy does not hold: it was cancelled"},
		{"returns twice", "duplicate", nil, Options{}, "which the policy does not hold: it was handed out"},
		{"loses a task", "lose preempted", nil, Options{}, "returned nothing while the policy holds"},
		{"idles", "lazy", nil, Options{}, "returned nothing while the policy holds"},
		{"not work conserving", "hold back", nil, Options{}, "returned nothing while the policy holds"},
		{"OnInterrupt mutates", "interrupt mutates", nil, Options{}, "changed the policy's state"},
		{"WouldPreempt mutates", "would preempt mutates", byDeadline, Options{}, "changed the policy's state"},
		{"WouldPreempt not strict", "always preempt", nil, Options{}, "must be a strict order"},
		{"no round robin", "no rotation", nil, Options{RoundRobin: true}, "never ran (Options.RoundRobin)"},
		{"wrong order", "", func(a, b sdk.Task) bool { return a.Expected < b.Expected }, Options{Before: byDeadline}, "which Options.Before puts first"},
		{"preempts on ties", "ties preempt", byDeadline, edf, "but no held task is Before it"},
		{"not preemptive", "", nil, edf, "(Options.Preemptive)"},
		{"panics", "panic", nil, Options{}, "panic: boom"},
		{"renames itself", "name", nil, Options{}, "Name() changed"},
		{"sheds what it does not hold", "shed unheld", nil, Options{}, "Shed returned task"},
		{"rejects the configuration", "configure", nil, Options{}, "bad configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory(tt.less, tt.bug)
			if strings.HasPrefix(tt.bug, "shed") || tt.bug == "configure" {
				f = mtFactory(tt.bug)
			}
			msg := firstFailure(f, tt.opt)
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("failure %q, want one containing %q", msg, tt.want)
			}
			for _, part := range []string{`policy "ref"`, "event ", "last "} {
				if !strings.Contains(msg, part) && !strings.HasPrefix(msg, "Name:") {
					t.Errorf("failure message lacks %q:\n%s", part, msg)
				}
			}
			t.Logf("caught: %.300s", msg)
		})
	}
}

// counting wraps a policy and counts what the fake core asked of it.
type counting struct {
	sdk.Policy
	calls    map[string]int
	overruns int
}

func (c *counting) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	c.calls["enqueue "+why.String()]++
	if t.Ran > t.Expected {
		c.overruns++
	}
	c.Policy.Enqueue(t, why)
}

func (c *counting) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	id, ok := c.Policy.GetNext(w, now)
	if ok {
		c.calls["getnext"]++
	} else {
		c.calls["getnext none"]++
	}
	return id, ok
}

func (c *counting) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	yes := c.Policy.OnInterrupt(w, cur, now)
	c.calls[fmt.Sprint("interrupt ", yes)]++
	return yes
}

func (c *counting) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	yes := c.Policy.WouldPreempt(w, cur, arriving, now)
	c.calls[fmt.Sprint("wouldpreempt ", yes)]++
	return yes
}

func (c *counting) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	c.calls["dequeue "+why.String()]++
	c.Policy.Dequeue(id, why)
}

func (c *counting) Charge(t sdk.Task, used, now time.Duration) { c.calls["charge"]++ }

// TestRandomCoverage checks that the random sequences exercise every move
// of the core, for each worker count.
func TestRandomCoverage(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		c := &counting{calls: map[string]int{}}
		s := newSim(t, func() sdk.Policy { c.Policy = &ref{less: byDeadline}; return c }, Options{}, "coverage", int(seed), seed)
		maxHeld, idle := 0, 0
		for i := range events {
			s.step(i)
			maxHeld = max(maxHeld, len(s.held))
			if s.busy() == 0 {
				idle++
			}
		}
		s.drain()
		t.Logf("workers=%d: max held %d, all idle after %d events, overrun enqueues %d, calls %v", seed, maxHeld, idle, c.overruns, c.calls)
		for _, k := range []string{"enqueue arrived", "enqueue preempted", "enqueue woke", "getnext", "getnext none",
			"interrupt true", "interrupt false", "wouldpreempt true", "wouldpreempt false",
			"dequeue completed", "dequeue failed", "dequeue cancelled", "charge"} {
			if c.calls[k] < 10 {
				t.Errorf("workers=%d: only %d %q", seed, c.calls[k], k)
			}
		}
		if maxHeld < 20 || idle < 10 || c.overruns < 10 {
			t.Errorf("workers=%d: max held %d, all idle after %d events, overrun enqueues %d", seed, maxHeld, idle, c.overruns)
		}
	}
}
