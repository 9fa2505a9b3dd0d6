package policytest

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/sdk"
)

// state is where a task is, as the suite sees it from the policy calls
// and the dispatcher's actions.
type state uint8

const (
	queued    state = iota // the policy holds it
	running                // on a worker
	blocked                // in a host call, held by nobody
	done                   // completed or failed
	cancelled              // removed while queued: cancelled, dropped late or shed
	refused                // never admitted
)

// task is one request of a run.
type task struct {
	sdk.Task // as last enqueued
	st       state
	since    int          // event of the last state change
	w        sdk.WorkerID // when running
	heldAt   int          // index in sim.held while queued
	handouts int          // times GetNext returned it
}

// decision is one answer of the policy to a call the core makes; two runs
// of one script must produce the same decisions.
type decision struct {
	call  call
	w     sdk.WorkerID
	id    sdk.TaskID
	ok    bool
	class sdk.Class
}

type call uint8

const (
	cEnqueue call = iota
	cGetNext
	cOnInterrupt
	cWouldPreempt
	cDequeue
	cCharge
	cAdmit
	cShed
	cQuery // a WouldPreempt or OnInterrupt asked only by the query run
)

// logEntry is one policy call, kept for failure messages.
type logEntry struct {
	event int
	call  call
	w     sdk.WorkerID
	id    sdk.TaskID    // the task, or cur
	id2   sdk.TaskID    // WouldPreempt: arriving
	why   uint8         // enqueue or dequeue reason; for cQuery 0 = OnInterrupt, 1 = WouldPreempt
	ok    bool          // GetNext ok, OnInterrupt or WouldPreempt result
	d     time.Duration // Charge: used; Enqueue: Ran
}

const logSize = 24

// sim is one run: events drive the real dispatcher (core/dispatch), the
// protocol the server runs, and every policy call it makes goes through
// checked, which checks the answer against what the policy was given.
type sim struct {
	t     testing.TB
	opt   Options
	label string // e.g. "random seed=3 workers=2"
	p     sdk.Policy
	ch    sdk.Charger
	adm   sdk.Admitter
	shed  sdk.Shedder
	rep   sdk.Reporter
	name  string
	d     *dispatch.Dispatcher

	rng     *rand.Rand
	q       *rand.Rand // extra queries; nil when not asked for
	now     time.Duration
	nextID  sdk.TaskID
	queryID sdk.TaskID // IDs of hypothetical tasks, disjoint from real ones
	event   int
	kind    string // the current event

	tasks   map[sdk.TaskID]*task
	held    []*task // queued, in no particular order
	blocked []*task
	running []*task // per worker, as the dispatcher has it after each event
	preempt []bool  // per worker: a Raise not yet reached its safepoint

	trace []decision
	log   [logSize]logEntry
	logN  int
}

// newPolicy returns a fresh policy, configured first if it is an
// sdk.Configurer, as the core does.
func newPolicy(t testing.TB, factory func() sdk.Policy, opt Options, workers int) sdk.Policy {
	t.Helper()
	p := factory()
	if c := sdk.ExtensionsOf(p).Configurer; c != nil {
		cfg := sdk.Config{Workers: workers, Options: opt.PolicyOptions}
		for _, name := range tenants {
			cfg.Tenants = append(cfg.Tenants, sdk.TenantConfig{Name: name, Options: opt.TenantOptions[name]})
		}
		if err := c.Configure(cfg); err != nil {
			t.Fatalf("policy %q: Configure(%+v): %v", p.Name(), cfg, err)
		}
	}
	return p
}

func newSim(t testing.TB, factory func() sdk.Policy, opt Options, label string, workers int, seed uint64) *sim {
	p := newPolicy(t, factory, opt, workers)
	s := &sim{
		t:       t,
		opt:     opt,
		label:   label,
		p:       p,
		rng:     rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		now:     time.Second,
		nextID:  1,
		queryID: 1 << 62,
		tasks:   map[sdk.TaskID]*task{},
		running: make([]*task, workers),
		preempt: make([]bool, workers),
	}
	x := sdk.ExtensionsOf(p)
	s.ch, s.adm, s.shed, s.rep = x.Charger, x.Admitter, x.Shedder, x.Reporter
	s.name = p.Name()
	if s.name == "" {
		s.fail("Name() is empty")
	}
	d, err := dispatch.New(dispatch.Config{
		Workers: workers, Quantum: time.Millisecond, Preemption: true, Policy: checked{s},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), // the checks fail first
	})
	if err != nil {
		t.Fatal(err)
	}
	s.d = d
	return s
}

// fail stops the test with the seed, event and recent calls.
func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "policy %q, %s, event %d (%s), now %v:\n    %s", s.name, s.label, s.event, s.kind, s.now, fmt.Sprintf(format, args...))
	n := min(s.logN, logSize)
	if n > 0 {
		fmt.Fprintf(&b, "\n  last %d policy calls, oldest first:", n)
		for i := s.logN - n; i < s.logN; i++ {
			fmt.Fprintf(&b, "\n    %s", s.format(s.log[i%logSize]))
		}
	}
	s.t.Fatal(b.String())
}

func (s *sim) format(e logEntry) string {
	var c string
	switch e.call {
	case cEnqueue:
		t := s.tasks[e.id]
		c = fmt.Sprintf("Enqueue(%d{deadline %v expected %v ran %v}, %v)", e.id, t.Deadline, t.Expected, e.d, sdk.EnqueueReason(e.why))
	case cGetNext:
		if e.ok {
			c = fmt.Sprintf("GetNext(w%d) = %d", e.w, e.id)
		} else {
			c = fmt.Sprintf("GetNext(w%d) = none", e.w)
		}
	case cOnInterrupt:
		c = fmt.Sprintf("OnInterrupt(w%d, %d) = %v", e.w, e.id, e.ok)
	case cWouldPreempt:
		c = fmt.Sprintf("WouldPreempt(w%d, %d, %d) = %v", e.w, e.id, e.id2, e.ok)
	case cDequeue:
		c = fmt.Sprintf("Dequeue(%d, %v)", e.id, sdk.DequeueReason(e.why))
	case cCharge:
		c = fmt.Sprintf("Charge(%d, %v)", e.id, e.d)
	case cAdmit:
		c = fmt.Sprintf("Admit(%d) = %v, %v", e.id, sdk.Class(e.why), e.ok)
	case cShed:
		c = fmt.Sprintf("Shed() -> %d", e.id)
	case cQuery:
		if e.why == 0 {
			c = fmt.Sprintf("query OnInterrupt(w%d, %d) = %v", e.w, e.id, e.ok)
		} else {
			c = fmt.Sprintf("query WouldPreempt(w%d, %d, %d) = %v", e.w, e.id, e.id2, e.ok)
		}
	}
	return fmt.Sprintf("#%d %s", e.event, c)
}

func (s *sim) note(e logEntry) {
	e.event = s.event
	s.log[s.logN%logSize] = e
	s.logN++
}

func (s *sim) decide(c call, w sdk.WorkerID, id sdk.TaskID, ok bool) {
	s.trace = append(s.trace, decision{call: c, w: w, id: id, ok: ok})
}

// catch turns a panic in the policy into a failure that names the event.
func (s *sim) catch() {
	if r := recover(); r != nil {
		s.fail("panic: %v\n%s", r, debug.Stack())
	}
}

func (s *sim) setState(t *task, st state) {
	t.st = st
	t.since = s.event
}

// ---- policy calls, checked ----

// checked is the policy as the dispatcher sees it: every call is logged,
// checked and forwarded. It has every optional capability and forwards
// each only if the policy has it; without one it answers as the
// dispatcher would decide alone (admit, shed nothing, charge nothing).
type checked struct{ s *sim }

func (c checked) Name() string { return c.s.p.Name() }

func (c checked) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	s := c.s
	m := s.tasks[t.ID]
	m.Task = t
	s.setState(m, queued)
	m.heldAt = len(s.held)
	s.held = append(s.held, m)
	s.note(logEntry{call: cEnqueue, id: t.ID, why: uint8(why), d: t.Ran})
	s.p.Enqueue(t, why)
}

func (c checked) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	c.s.dequeue(id, why)
}

func (c checked) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	t := c.s.getNext(w)
	if t == nil {
		return 0, false
	}
	return t.ID, true
}

func (c checked) OnInterrupt(w sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	return c.s.onInterrupt(w, cur, false)
}

func (c checked) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	return c.s.wouldPreempt(w, cur, arriving, now, false)
}

func (c checked) Charge(t sdk.Task, used, now time.Duration) {
	s := c.s
	if s.ch != nil {
		s.note(logEntry{call: cCharge, id: t.ID, d: used})
		s.ch.Charge(t, used, now)
	}
}

func (c checked) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	s := c.s
	if s.adm == nil {
		return sdk.ClassDefault, true
	}
	class, ok := s.adm.Admit(t, now)
	s.note(logEntry{call: cAdmit, id: t.ID, why: uint8(class), ok: ok})
	s.trace = append(s.trace, decision{call: cAdmit, id: t.ID, ok: ok, class: class})
	return class, ok
}

func (c checked) Shed(now time.Duration) []sdk.TaskID {
	s := c.s
	if s.shed == nil {
		return nil
	}
	ids := s.shed.Shed(now)
	for _, id := range ids {
		s.note(logEntry{call: cShed, id: id})
		s.decide(cShed, 0, id, true)
		v := s.tasks[id]
		if v == nil || v.st != queued {
			s.fail("Shed returned task %d, which the policy does not hold: %s", id, s.whereIs(id))
		}
		s.unhold(v)
		s.setState(v, cancelled)
	}
	return ids
}

func (s *sim) unhold(t *task) {
	last := s.held[len(s.held)-1]
	s.held[t.heldAt] = last
	last.heldAt = t.heldAt
	s.held = s.held[:len(s.held)-1]
	t.heldAt = -1
}

// dequeue is a Dequeue, from the dispatcher or a script.
func (s *sim) dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	if t := s.tasks[id]; t != nil {
		if t.st == queued {
			s.unhold(t)
		}
		if why == sdk.Cancelled {
			s.setState(t, cancelled)
		} else {
			s.setState(t, done)
		}
	}
	s.note(logEntry{call: cDequeue, id: id, why: uint8(why)})
	s.p.Dequeue(id, why)
}

// getNext asks the policy for worker w's next task and checks the answer.
// The task returned is no longer held; the dispatcher decides its fate.
func (s *sim) getNext(w sdk.WorkerID) *task {
	id, ok := s.p.GetNext(w, s.now)
	s.note(logEntry{call: cGetNext, w: w, id: id, ok: ok})
	s.decide(cGetNext, w, id, ok)
	if !ok {
		if !s.opt.NonWorkConserving && len(s.held) > 0 {
			s.fail("GetNext(w%d) returned nothing while the policy holds %d tasks %v", w, len(s.held), s.heldIDs())
		}
		return nil
	}
	t := s.tasks[id]
	if t == nil || t.st != queued {
		s.fail("GetNext(w%d) returned task %d, which the policy does not hold: %s", w, id, s.whereIs(id))
	}
	if s.opt.Before != nil {
		for _, h := range s.held {
			if h != t && s.opt.Before(h.Task, t.Task) {
				s.fail("GetNext(w%d) returned %s while holding %s, which Options.Before puts first", w, show(t.Task), show(h.Task))
			}
		}
	}
	s.unhold(t)
	s.setState(t, running)
	t.w = w
	t.handouts++
	return t
}

// onInterrupt asks the policy whether cur, running on w, gives up w.
func (s *sim) onInterrupt(w sdk.WorkerID, cur sdk.Task, query bool) bool {
	yes := s.p.OnInterrupt(w, cur, s.now)
	if query {
		s.note(logEntry{call: cQuery, w: w, id: cur.ID, why: 0, ok: yes})
	} else {
		s.note(logEntry{call: cOnInterrupt, w: w, id: cur.ID, ok: yes})
		s.decide(cOnInterrupt, w, cur.ID, yes)
	}
	if s.opt.Before != nil && s.opt.Preemptive {
		var first *task
		for _, h := range s.held {
			if s.opt.Before(h.Task, cur) {
				first = h
				break
			}
		}
		if yes && first == nil {
			s.fail("OnInterrupt(w%d, %s) = true, but no held task is Before it (Options.Preemptive); held %v", w, show(cur), s.heldIDs())
		}
		if !yes && first != nil {
			s.fail("OnInterrupt(w%d, %s) = false, but held %s is Before it (Options.Preemptive)", w, show(cur), show(first.Task))
		}
	}
	return yes
}

// wouldPreempt asks whether arriving should take w from cur.
func (s *sim) wouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration, query bool) bool {
	yes := s.p.WouldPreempt(w, cur, arriving, now)
	if query {
		s.note(logEntry{call: cQuery, w: w, id: cur.ID, id2: arriving.ID, why: 1, ok: yes})
	} else {
		s.note(logEntry{call: cWouldPreempt, w: w, id: cur.ID, id2: arriving.ID, ok: yes})
		s.decide(cWouldPreempt, w, arriving.ID, yes)
	}
	if yes && cur.ID == arriving.ID {
		s.fail("WouldPreempt(w%d, %s, itself) = true: it must be a strict order", w, show(cur))
	}
	if s.opt.Before != nil && s.opt.Preemptive {
		if want := s.opt.Before(arriving, cur); yes != want {
			s.fail("WouldPreempt(w%d, cur %s, arriving %s) = %v, Options.Before says %v (Options.Preemptive)", w, show(cur), show(arriving), yes, want)
		}
	}
	return yes
}

// ---- events, through the dispatcher ----

// take applies a dispatcher event's actions and refreshes what runs.
func (s *sim) take(acts []dispatch.Action) {
	for _, a := range acts {
		switch a.Kind {
		case dispatch.Grant:
			s.preempt[a.Worker] = false
		case dispatch.Raise:
			s.preempt[a.Worker] = true
		case dispatch.Answer:
			t := s.tasks[a.ID]
			if a.Verdict == dispatch.Refused {
				s.setState(t, refused)
			} else {
				s.setState(t, cancelled)
			}
		}
	}
	for w := range s.running {
		s.running[w] = nil
		if id, ok := s.d.Running(sdk.WorkerID(w)); ok {
			s.running[w] = s.tasks[id]
		}
	}
}

// cur is the task on w as the policy sees it now.
func (s *sim) cur(w sdk.WorkerID) sdk.Task {
	t, _ := s.d.Task(s.running[w].ID, s.now)
	return t
}

// arrive submits a new task.
func (s *sim) arrive(rel, expected time.Duration, tenant, route string, dropLate bool) *task {
	t := &task{
		Task: sdk.Task{
			ID:       s.nextID,
			Tenant:   tenant,
			Route:    route,
			Arrival:  s.now,
			Deadline: s.now + rel,
			Expected: expected,
		},
		heldAt: -1,
	}
	s.nextID++
	s.tasks[t.ID] = t
	s.take(s.d.Arrive(s.now, t.Task, dropLate))
	return t
}

// interrupt: the quantum of the task on w expired or a raise reached its
// safepoint.
func (s *sim) interrupt(w sdk.WorkerID) {
	s.preempt[w] = false
	_, acts := s.d.Interrupt(s.now, w)
	s.take(acts)
}

// finish ends the task on w (completed or failed) and hands w on.
func (s *sim) finish(w sdk.WorkerID, failed bool) {
	s.preempt[w] = false
	s.take(s.d.Finish(s.now, w, !failed))
}

// block puts the task on w in a host call and hands w on.
func (s *sim) block(w sdk.WorkerID) {
	t := s.running[w]
	s.preempt[w] = false
	s.take(s.d.Block(s.now, w))
	s.setState(t, blocked)
	s.blocked = append(s.blocked, t)
}

// wake ends blocked task i's host call: it is runnable again.
func (s *sim) wake(i int) {
	t := s.blocked[i]
	s.blocked = slices.Delete(s.blocked, i, i+1)
	s.take(s.d.Wake(s.now, t.ID))
}

// killBlocked kills blocked task i: it leaves without being queued again.
func (s *sim) killBlocked(i int) {
	t := s.blocked[i]
	s.blocked = slices.Delete(s.blocked, i, i+1)
	if !s.d.Cancel(s.now, t.ID) {
		s.fail("the dispatcher did not take blocked task %d out", t.ID)
	}
}

// cancel kills a queued task (timeout, client gone).
func (s *sim) cancel(t *task) {
	if !s.d.Cancel(s.now, t.ID) {
		s.fail("the dispatcher did not take queued task %d out", t.ID)
	}
}

// poll offers idle workers to the policy.
func (s *sim) poll() { s.take(s.d.Poll(s.now)) }

// ---- random events ----

var (
	rels      = []time.Duration{0, 500 * time.Microsecond, time.Millisecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, time.Hour}
	expecteds = []time.Duration{0, 100 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, time.Millisecond, 5 * time.Millisecond, 30 * time.Millisecond}
	tenants   = []string{"t0", "t1", "t2"}    // Options.TenantOptions gives them tables
	routes    = []string{"/a", "/b", "/late"} // /late drops late requests
)

const maxHeld = 48

// step plays random event i.
func (s *sim) step(i int) {
	defer s.catch()
	s.event = i
	r := s.rng
	// Time passes: often not at all (ties), sometimes a lot (idle).
	switch n := r.IntN(100); {
	case n < 25:
	case n < 99:
		s.now += time.Duration(r.Int64N(int64(300 * time.Microsecond)))
	default:
		s.now += 50 * time.Millisecond
	}
	if s.q != nil {
		s.queries()
	}
	// Early preemptions asked by WouldPreempt reach their safepoint at
	// some later event.
	for w, due := range s.preempt {
		if due && r.IntN(2) == 0 {
			s.kind = "safepoint"
			s.interrupt(sdk.WorkerID(w))
		}
	}
	arrive := 40
	if (i/250)%2 == 1 {
		arrive = 12 // quiet phase: the queue drains, workers go idle
	}
	n := r.IntN(arrive + 61)
	switch {
	case n < arrive:
		if len(s.held) >= maxHeld {
			s.randomFinish()
			return
		}
		s.kind = "arrive"
		ri := r.IntN(len(routes))
		s.arrive(rels[r.IntN(len(rels))], expecteds[r.IntN(len(expecteds))], tenants[r.IntN(len(tenants))], routes[ri], ri == 2)
		s.nextID += sdk.TaskID(r.IntN(3)) // IDs are unique, not dense
	case n < arrive+20:
		s.kind = "quantum"
		if w, ok := s.busyWorker(); ok {
			s.interrupt(w)
		}
	case n < arrive+35:
		s.randomFinish()
	case n < arrive+40:
		s.kind = "block"
		if w, ok := s.busyWorker(); ok {
			s.block(w)
		}
	case n < arrive+46:
		s.kind = "wake"
		if len(s.blocked) > 0 {
			s.wake(r.IntN(len(s.blocked)))
		}
	case n < arrive+48:
		s.kind = "kill blocked"
		if len(s.blocked) > 0 {
			s.killBlocked(r.IntN(len(s.blocked)))
		}
	default:
		s.kind = "cancel"
		if len(s.held) > 0 {
			s.cancel(s.held[r.IntN(len(s.held))])
		}
	}
}

func (s *sim) randomFinish() {
	s.kind = "complete"
	if w, ok := s.busyWorker(); ok {
		failed := s.rng.IntN(10) == 0
		if failed {
			s.kind = "fail"
		}
		s.finish(w, failed)
	}
}

// busyWorker picks a random busy worker.
func (s *sim) busyWorker() (sdk.WorkerID, bool) {
	n := len(s.running)
	start := s.rng.IntN(n)
	for k := range n {
		w := (start + k) % n
		if s.running[w] != nil {
			return sdk.WorkerID(w), true
		}
	}
	return 0, false
}

// queries asks WouldPreempt and OnInterrupt questions whose answers the
// core does not act on. They must change nothing.
func (s *sim) queries() {
	s.kind = "query"
	q := s.q
	for range q.IntN(3) {
		var busy []sdk.WorkerID
		for w, t := range s.running {
			if t != nil {
				busy = append(busy, sdk.WorkerID(w))
			}
		}
		if len(busy) == 0 {
			if s.p.Name() != s.name {
				s.fail("Name() changed from %q to %q", s.name, s.p.Name())
			}
			return
		}
		w := busy[q.IntN(len(busy))]
		cur := s.cur(w)
		switch q.IntN(5) {
		case 0:
			s.onInterrupt(w, cur, true)
		case 1: // a hypothetical arrival
			a := sdk.Task{
				ID:       s.queryID,
				Tenant:   tenants[q.IntN(len(tenants))],
				Route:    routes[q.IntN(len(routes))],
				Arrival:  s.now,
				Deadline: s.now + rels[q.IntN(len(rels))],
				Expected: expecteds[q.IntN(len(expecteds))],
			}
			s.queryID++
			s.wouldPreempt(w, cur, a, s.now, true)
		case 2: // a queued task
			if len(s.held) > 0 {
				s.wouldPreempt(w, cur, s.held[q.IntN(len(s.held))].Task, s.now, true)
			}
		case 3: // two running tasks, both ways: at most one may say yes
			w2 := busy[q.IntN(len(busy))]
			if w2 == w {
				s.wouldPreempt(w, cur, cur, s.now, true)
				break
			}
			other := s.cur(w2)
			ab := s.wouldPreempt(w, cur, other, s.now, true)
			ba := s.wouldPreempt(w2, other, cur, s.now, true)
			if ab && ba {
				s.fail("WouldPreempt is true both ways between %s on w%d and %s on w%d: it must be a strict order", show(cur), w, show(other), w2)
			}
		default:
			s.wouldPreempt(w, cur, cur, s.now, true)
			if s.p.Name() != s.name {
				s.fail("Name() changed from %q to %q", s.name, s.p.Name())
			}
			if s.rep != nil {
				s.rep.Report(s.now)
			}
		}
	}
}

// ---- end-of-run checks ----

// roundRobin checks liveness: with no arrivals and every running task
// interrupted once per round, every task waiting now is handed out within
// as many rounds as there are tasks.
func (s *sim) roundRobin() {
	defer s.catch()
	s.kind = "round robin"
	for len(s.blocked) > 0 {
		s.event++
		s.wake(0)
	}
	waiting := map[*task]int{}
	for _, t := range s.held {
		waiting[t] = t.handouts
	}
	bound := len(s.held) + len(s.running) + 1
	for round := 1; len(waiting) > 0; round++ {
		if round > bound {
			var ids []sdk.TaskID
			for t := range waiting {
				ids = append(ids, t.ID)
			}
			slices.Sort(ids)
			s.fail("tasks %v waited %d rounds of interrupts and never ran (Options.RoundRobin)", ids, bound)
		}
		s.event++
		s.now += time.Millisecond
		for w := range s.running {
			if s.running[w] != nil {
				s.interrupt(sdk.WorkerID(w))
			} else {
				s.poll()
			}
		}
		for t, n := range waiting {
			if t.handouts > n {
				delete(waiting, t)
			}
		}
	}
}

// drain wakes every blocked task, then lets every worker run and complete
// until the policy holds nothing, and checks it then hands out nothing.
func (s *sim) drain() {
	defer s.catch()
	s.kind = "drain"
	for len(s.blocked) > 0 {
		s.event++
		s.wake(0)
	}
	stuck := 0
	for len(s.held) > 0 || s.busy() > 0 {
		s.event++
		progress := false
		for w := range s.running {
			if s.running[w] != nil {
				s.now += 100 * time.Microsecond
				s.finish(sdk.WorkerID(w), false)
				progress = true
			} else if len(s.held) > 0 {
				before := s.busy()
				s.poll()
				progress = s.busy() > before
			}
		}
		if progress {
			stuck = 0
			continue
		}
		// Only a non-work-conserving policy gets here: give it time.
		if stuck++; stuck > 1000 {
			s.fail("the policy holds %d tasks %v but has handed out nothing on any worker for %v of simulated time", len(s.held), s.heldIDs(), time.Duration(stuck)*time.Second)
		}
		s.now += time.Second
	}
	s.event++
	for w := range s.running {
		s.getNext(sdk.WorkerID(w)) // must be none: nothing is held
	}
}

func (s *sim) busy() int {
	n := 0
	for _, t := range s.running {
		if t != nil {
			n++
		}
	}
	return n
}

// ---- messages ----

func (s *sim) heldIDs() []sdk.TaskID {
	ids := make([]sdk.TaskID, 0, len(s.held))
	for _, t := range s.held {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

func (s *sim) whereIs(id sdk.TaskID) string {
	t := s.tasks[id]
	if t == nil {
		return "it was never enqueued"
	}
	switch t.st {
	case running:
		return fmt.Sprintf("it was handed out at event %d and is running on w%d", t.since, t.w)
	case blocked:
		return fmt.Sprintf("it was handed out and is blocked in a host call since event %d", t.since)
	case done:
		return fmt.Sprintf("it finished at event %d", t.since)
	case cancelled:
		return fmt.Sprintf("it was cancelled (Dequeue) at event %d", t.since)
	case refused:
		return fmt.Sprintf("Admit refused it at event %d", t.since)
	}
	return "?"
}

func show(t sdk.Task) string {
	return fmt.Sprintf("task %d{tenant %s route %s arrival %v deadline %v expected %v ran %v}", t.ID, t.Tenant, t.Route, t.Arrival, t.Deadline, t.Expected, t.Ran)
}

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
