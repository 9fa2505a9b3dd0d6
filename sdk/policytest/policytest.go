package policytest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Options describes what else the policy under test promises. The zero
// value suits any work-conserving policy.
type Options struct {
	// NonWorkConserving lets GetNext return ok=false while the policy
	// still holds tasks (it keeps work back: per-worker affinity, exhausted
	// budgets...). By default GetNext must hand out a task whenever the
	// policy holds one. Either way, the final drain must empty the policy;
	// for a non-work-conserving one it advances the clock a second at a
	// time, up to 1000 s, while nothing is handed out.
	NonWorkConserving bool

	// RoundRobin adds a liveness check: with no new work and every running
	// task interrupted once per round, every waiting task is handed out
	// within as many rounds as there are tasks in the system.
	RoundRobin bool

	// Before, if set, is an order GetNext must respect: it never returns a
	// task while it holds another that is Before it. Before(a, b) reports
	// that a must run before b; it must be a strict order. Held tasks are
	// passed as they were enqueued, so a.Remaining() is the remaining
	// execution at Enqueue.
	Before func(a, b sdk.Task) bool

	// Preemptive, with Before, also requires preemption to follow the
	// order exactly: OnInterrupt(w, cur) is true iff the policy holds a task
	// Before cur (cur with Ran as of the interrupt), and WouldPreempt(w,
	// cur, arriving) is Before(arriving, cur).
	Preemptive bool

	// PolicyOptions and TenantOptions are the config tables a policy that
	// is an sdk.Configurer gets: its own [policy.NAME] table, and the
	// tables of the scenarios' tenants, "t0", "t1" and "t2" (tasks are
	// spread over the three). Default: none.
	PolicyOptions sdk.Options
	TenantOptions map[string]sdk.Options
}

const (
	seeds  = 8    // random sequences, each run twice (with and without queries)
	events = 3000 // per random sequence
)

// Run checks the policy instances factory returns against the contract of
// sdk.Policy; see the package documentation for what is checked. It calls
// factory for every scenario, so each one starts from a fresh policy. At
// most one Options may be given.
func Run(t *testing.T, factory func() sdk.Policy, opts ...Options) {
	t.Helper()
	var opt Options
	switch len(opts) {
	case 0:
	case 1:
		opt = opts[0]
	default:
		t.Fatalf("policytest.Run: %d Options, want at most one", len(opts))
	}
	if opt.Preemptive && opt.Before == nil {
		t.Fatal("policytest.Run: Options.Preemptive needs Options.Before")
	}
	n := events
	if testing.Short() {
		n /= 3
	}
	cs := cases(factory, opt, n)
	for i := 0; i < len(cs); {
		if cs[i].group == "" {
			c := cs[i]
			t.Run(c.name, func(t *testing.T) { c.run(t) })
			i++
			continue
		}
		j := i
		for j < len(cs) && cs[j].group == cs[i].group {
			j++
		}
		group := cs[i:j]
		t.Run(group[0].group, func(t *testing.T) {
			for _, c := range group {
				t.Run(c.name, func(t *testing.T) { c.run(t) })
			}
		})
		i = j
	}
}

// testCase is one subtest of Run.
type testCase struct {
	group, name string
	run         func(tb testing.TB)
}

func cases(factory func() sdk.Policy, opt Options, n int) []testCase {
	cs := []testCase{{"", "Name", func(tb testing.TB) { checkName(tb, factory, opt) }}}
	for _, sc := range scripts {
		if sc.name == "round robin" && !opt.RoundRobin {
			continue
		}
		for _, workers := range []int{1, 3} {
			name := fmt.Sprintf("%s/workers=%d", sc.name, workers)
			cs = append(cs, testCase{"Scripted", name, func(tb testing.TB) {
				s := newSim(tb, factory, opt, fmt.Sprintf("script %q workers=%d", sc.name, workers), workers, 1)
				func() {
					defer s.catch()
					sc.run(s)
				}()
				s.drain()
			}})
		}
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		cs = append(cs, testCase{"Random", fmt.Sprintf("seed=%d", seed), func(tb testing.TB) {
			random(tb, factory, opt, seed, n)
		}})
	}
	return cs
}

// checkName: non-empty and the same for every instance. (The random runs
// also check that it does not change over time.)
func checkName(t testing.TB, factory func() sdk.Policy, opt Options) {
	name := newPolicy(t, factory, opt, 1).Name()
	if name == "" {
		t.Fatal("Name() is empty")
	}
	if n := newPolicy(t, factory, opt, 2).Name(); n != name {
		t.Fatalf("Name() differs between instances: %q and %q", name, n)
	}
}

// random plays one seeded sequence twice in lockstep, the second run with
// extra WouldPreempt and OnInterrupt queries, and requires the same
// decisions from both.
func random(t testing.TB, factory func() sdk.Policy, opt Options, seed uint64, n int) {
	workers := 1 + int(seed-1)%4
	label := fmt.Sprintf("random seed=%d workers=%d", seed, workers)
	a := newSim(t, factory, opt, label, workers, seed)
	b := newSim(t, factory, opt, label+" (run with extra queries)", workers, seed)
	b.q = newRand(seed, 7)
	compare := func(i int) {
		if !slices.Equal(a.trace, b.trace) {
			k := 0
			for k < min(len(a.trace), len(b.trace)) && a.trace[k] == b.trace[k] {
				k++
			}
			b.fail("WouldPreempt, OnInterrupt or Report changed the policy's state (or the policy is not deterministic): at event %d, a run without the extra queries decided %s, this run %s",
				i, showDecision(a.trace, k), showDecision(b.trace, k))
		}
		a.trace, b.trace = a.trace[:0], b.trace[:0]
	}
	for i := range n {
		a.step(i)
		b.step(i)
		compare(i)
	}
	if opt.RoundRobin {
		a.roundRobin()
		b.roundRobin()
		compare(a.event)
	}
	a.drain()
	b.drain()
	compare(a.event)
}

func showDecision(tr []decision, k int) string {
	if k >= len(tr) {
		return "nothing more"
	}
	d := tr[k]
	switch d.call {
	case cGetNext:
		if !d.ok {
			return fmt.Sprintf("GetNext(w%d) = none", d.w)
		}
		return fmt.Sprintf("GetNext(w%d) = %d", d.w, d.id)
	case cOnInterrupt:
		return fmt.Sprintf("OnInterrupt(w%d, %d) = %v", d.w, d.id, d.ok)
	case cWouldPreempt:
		return fmt.Sprintf("WouldPreempt(w%d, arriving %d) = %v", d.w, d.id, d.ok)
	case cAdmit:
		return fmt.Sprintf("Admit(%d) = %v, %v", d.id, d.class, d.ok)
	case cShed:
		return fmt.Sprintf("Shed() -> %d", d.id)
	}
	return "?"
}

// ---- scripted scenarios ----

const ms = time.Millisecond

// script is a fixed scenario; drain follows it.
type script struct {
	name string
	run  func(s *sim)
}

// ev starts the next scripted event.
func (s *sim) ev(kind string) {
	s.event++
	s.kind = kind
}

// Scripted moves on worker w do nothing if w is idle.
func (s *sim) quantum(w sdk.WorkerID) {
	s.ev("quantum")
	if s.running[w] != nil {
		s.interrupt(w)
	}
}

func (s *sim) complete(w sdk.WorkerID, failed bool) {
	s.ev("complete")
	if s.running[w] != nil {
		s.finish(w, failed)
	}
}

func (s *sim) add(rel, expected time.Duration, tenant, route string) *task {
	s.ev("arrive")
	return s.arrive(rel, expected, tenant, route, route == "/late")
}

func (s *sim) all(f func(w sdk.WorkerID)) {
	for w := range s.running {
		f(sdk.WorkerID(w))
	}
}

var scripts = []script{
	{"empty", func(s *sim) {
		s.ev("next")
		s.all(func(w sdk.WorkerID) { s.getNext(w) })
		// Notifications about tasks the policy never held are harmless.
		s.ev("dequeue unknown")
		s.dequeue(999, sdk.Completed)
		s.dequeue(998, sdk.Cancelled)
		s.ev("next")
		s.all(func(w sdk.WorkerID) { s.getNext(w) })
	}},
	{"one task interrupted", func(s *sim) {
		s.add(5*ms, 2*ms, "t0", "/a")
		for range 10 {
			s.now += ms
			s.quantum(0)
		}
		s.complete(0, false)
	}},
	{"cancel everything queued", func(s *sim) {
		var ts []*task
		for i := range len(s.running) + 10 {
			ts = append(ts, s.add(time.Duration(i%4)*ms, time.Duration(i%3)*ms, tenants[i%3], "/a"))
		}
		for _, i := range []int{5, 0, 9, 3, 12, 1, 7, 2, 11, 4, 8, 6, 10} {
			s.ev("cancel")
			if i < len(ts) && ts[i].st == queued {
				s.cancel(ts[i])
			}
		}
		s.all(func(w sdk.WorkerID) { s.complete(w, false) })
	}},
	{"cancel in the middle", func(s *sim) {
		var ts []*task
		for i := range 20 {
			ts = append(ts, s.add(time.Duration(20-i)*ms, time.Duration(i%5)*ms, tenants[i%3], routes[i%2]))
			s.now += 10 * time.Microsecond
		}
		for _, i := range []int{10, 11, 17, 4, 15, 0} {
			s.ev("cancel")
			if ts[i].st == queued {
				s.cancel(ts[i])
			}
		}
		for i := range 6 {
			s.now += ms
			if i%2 == 0 {
				s.quantum(0)
			} else {
				s.complete(0, i == 3)
			}
		}
	}},
	{"identical tasks", func(s *sim) {
		for range 16 {
			s.add(ms, ms, "t0", "/a")
		}
		for i := range 8 {
			s.quantum(sdk.WorkerID(i % len(s.running)))
		}
	}},
	{"overrun, late and extreme", func(s *sim) {
		long := s.add(time.Hour, ms, "t0", "/a") // will overrun Expected
		s.add(0, 0, "t1", "/b")                  // due now, nothing to run
		s.add(1<<62, 1<<40, "t2", "/b")          // far deadline, huge estimate
		for i := range 12 {
			s.now += 3 * ms
			s.all(func(w sdk.WorkerID) { s.quantum(w) })
			if i%3 == 0 {
				s.add(time.Duration(i)*ms, time.Duration(i)*100*time.Microsecond, tenants[i%3], "/a")
			}
		}
		// Whatever the policy did, enqueue the long task with Ran >
		// Expected: a host call blocks it and it wakes.
		if long.st == running {
			s.now += 3 * ms
			s.ev("block")
			s.block(long.w)
			s.ev("wake")
			s.wake(len(s.blocked) - 1)
		}
	}},
	{"block and wake", func(s *sim) {
		for i := range 6 {
			s.add(time.Duration(i+1)*ms, ms, tenants[i%3], "/a")
		}
		for i := range 30 {
			s.now += 200 * time.Microsecond
			switch {
			case i%3 == 0:
				s.ev("block")
				if w, ok := s.busyWorker(); ok {
					s.block(w)
				}
			case i%7 == 1 && len(s.blocked) > 0:
				s.ev("kill blocked")
				s.killBlocked(0)
			case len(s.blocked) > 0:
				s.ev("wake")
				s.wake(len(s.blocked) - 1)
			}
		}
	}},
	{"dropped late", func(s *sim) {
		for range 2 * len(s.running) {
			s.add(time.Hour, 10*ms, "t0", "/a")
		}
		for i := range 6 {
			s.add(time.Duration(i)*100*time.Microsecond, ms, "t1", "/late")
		}
		s.now += 10 * ms // every /late request is now past its deadline
		s.all(func(w sdk.WorkerID) { s.complete(w, false) })
	}},
	{"round robin", func(s *sim) {
		for i := range 4*len(s.running) + 3 {
			// Deadlines and estimates favour the tasks that run first,
			// so a priority policy would not rotate.
			s.add(time.Duration(1+i)*ms, time.Duration(1+i)*ms, tenants[i%3], "/a")
		}
		s.roundRobin()
	}},
}
