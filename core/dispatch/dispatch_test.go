package dispatch

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

const ms = time.Millisecond

// edf is a small, obviously correct test policy: earliest deadline first,
// ties by ID; WouldPreempt by deadline; OnInterrupt yes when it holds an
// earlier deadline, or always with keep (then GetNext may hand cur back).
type edf struct {
	name  string
	held  []sdk.Task
	keep  bool
	calls []string
	bug   string // "unheld": GetNext names a task it never got
}

func (p *edf) Name() string { return p.name }

func (p *edf) Enqueue(t sdk.Task, why sdk.EnqueueReason) {
	p.calls = append(p.calls, fmt.Sprintf("enq %d %v", t.ID, why))
	p.held = append(p.held, t)
}

func before(a, b sdk.Task) bool {
	return a.Deadline < b.Deadline || a.Deadline == b.Deadline && a.ID < b.ID
}

func (p *edf) best() int {
	b := 0
	for i := range p.held {
		if before(p.held[i], p.held[b]) {
			b = i
		}
	}
	return b
}

func (p *edf) GetNext(w sdk.WorkerID, _ time.Duration) (sdk.TaskID, bool) {
	if p.bug == "unheld" {
		return 4242, true
	}
	if len(p.held) == 0 {
		p.calls = append(p.calls, fmt.Sprintf("next w%d none", w))
		return 0, false
	}
	i := p.best()
	t := p.held[i]
	p.held = slices.Delete(p.held, i, i+1)
	p.calls = append(p.calls, fmt.Sprintf("next w%d %d", w, t.ID))
	return t.ID, true
}

func (p *edf) OnInterrupt(_ sdk.WorkerID, cur sdk.Task, _ time.Duration) bool {
	if p.keep {
		return true
	}
	return len(p.held) > 0 && before(p.held[p.best()], cur)
}

func (p *edf) WouldPreempt(_ sdk.WorkerID, cur, arriving sdk.Task, _ time.Duration) bool {
	return before(arriving, cur)
}

func (p *edf) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	p.calls = append(p.calls, fmt.Sprintf("deq %d %v", id, why))
	p.held = slices.DeleteFunc(p.held, func(t sdk.Task) bool { return t.ID == id })
}

func (p *edf) heldIDs() []sdk.TaskID {
	var ids []sdk.TaskID
	for _, t := range p.held {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

// full adds every optional capability to edf.
type full struct {
	edf
	refuse  map[sdk.TaskID]bool // Admit says no
	shedIDs []sdk.TaskID        // the next Shed returns these
	charged map[sdk.TaskID]time.Duration
}

func (p *full) Admit(t sdk.Task, _ time.Duration) (sdk.Class, bool) {
	return sdk.ClassGuaranteed, !p.refuse[t.ID]
}

func (p *full) Shed(time.Duration) []sdk.TaskID {
	ids := p.shedIDs
	p.shedIDs = nil
	for _, id := range ids {
		p.held = slices.DeleteFunc(p.held, func(t sdk.Task) bool { return t.ID == id })
	}
	return ids
}

func (p *full) Charge(t sdk.Task, used, _ time.Duration) {
	if p.charged == nil {
		p.charged = map[sdk.TaskID]time.Duration{}
	}
	p.charged[t.ID] += used
}

// faulty makes a guard's Err report a fault right after the named call,
// the way a plugin client records its first failure.
type faulty struct {
	*full
	on    string // method name
	after int    // calls of it that succeed first
	err   error
}

func (f *faulty) hit(m string) {
	if m == f.on && f.err == nil {
		if f.after == 0 {
			f.err = fmt.Errorf("plugin %s: boom", m)
			return
		}
		f.after--
	}
}

func (f *faulty) Enqueue(t sdk.Task, why sdk.EnqueueReason) { f.full.Enqueue(t, why); f.hit("Enqueue") }
func (f *faulty) GetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	id, ok := f.full.GetNext(w, now)
	f.hit("GetNext")
	return id, ok
}
func (f *faulty) OnInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	f.hit("OnInterrupt")
	return f.full.OnInterrupt(w, cur, now)
}
func (f *faulty) WouldPreempt(w sdk.WorkerID, cur, arriving sdk.Task, now time.Duration) bool {
	f.hit("WouldPreempt")
	return f.full.WouldPreempt(w, cur, arriving, now)
}
func (f *faulty) Dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	f.full.Dequeue(id, why)
	f.hit("Dequeue")
}
func (f *faulty) Admit(t sdk.Task, now time.Duration) (sdk.Class, bool) {
	f.hit("Admit")
	return f.full.Admit(t, now)
}
func (f *faulty) Shed(now time.Duration) []sdk.TaskID {
	f.hit("Shed")
	return f.full.Shed(now)
}
func (f *faulty) Charge(t sdk.Task, used, now time.Duration) {
	f.full.Charge(t, used, now)
	f.hit("Charge")
}

// harness drives a dispatcher like a caller would and checks that every
// task ends exactly once: answered, or granted and finished.
type harness struct {
	t       *testing.T
	d       *Dispatcher
	now     time.Duration
	nextID  sdk.TaskID
	acts    []string // every action, in order
	ended   map[sdk.TaskID]string
	running map[sdk.WorkerID]sdk.TaskID
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	cfg.Log = quiet()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, d: d, nextID: 1, ended: map[sdk.TaskID]string{}, running: map[sdk.WorkerID]sdk.TaskID{}}
}

func (h *harness) take(acts []Action) {
	h.t.Helper()
	for _, a := range acts {
		h.acts = append(h.acts, a.String())
		switch a.Kind {
		case Grant:
			h.running[a.Worker] = a.ID
		case Answer:
			h.end(a.ID, a.Verdict.String())
		}
	}
}

func (h *harness) end(id sdk.TaskID, how string) {
	h.t.Helper()
	if prev, ok := h.ended[id]; ok {
		h.t.Fatalf("task %d ended twice: %s, then %s", id, prev, how)
	}
	h.ended[id] = how
}

// arrive submits a task due rel from now, expected to run exp.
func (h *harness) arrive(rel, exp time.Duration, dropLate bool) sdk.TaskID {
	id := h.nextID
	h.nextID++
	h.take(h.d.Arrive(h.now, sdk.Task{ID: id, Route: "/r", Arrival: h.now, Deadline: h.now + rel, Expected: exp}, dropLate))
	return id
}

func (h *harness) interrupt(w sdk.WorkerID) bool {
	pre, acts := h.d.Interrupt(h.now, w)
	h.take(acts)
	return pre
}

func (h *harness) finish(w sdk.WorkerID, ok bool) {
	h.t.Helper()
	id := h.running[w]
	delete(h.running, w)
	h.end(id, "finished")
	h.take(h.d.Finish(h.now, w, ok))
}

func (h *harness) block(w sdk.WorkerID) sdk.TaskID {
	id := h.running[w]
	delete(h.running, w)
	h.take(h.d.Block(h.now, w))
	return id
}

// drain finishes whatever runs until nothing is in flight, and checks that
// every task that arrived has ended.
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		if len(h.running) == 0 {
			break
		}
		for w := range h.d.running {
			if h.d.running[w] != nil {
				h.now += ms
				h.finish(sdk.WorkerID(w), true)
			}
		}
	}
	if n := h.d.InFlight(); n != 0 {
		h.t.Fatalf("%d tasks still in flight after drain", n)
	}
	for id := sdk.TaskID(1); id < h.nextID; id++ {
		if _, ok := h.ended[id]; !ok {
			h.t.Fatalf("task %d never ended; actions %v", id, h.acts)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Workers: 0, Policy: &edf{}}, "0 workers"},
		{Config{Workers: 1}, "no policy"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	d, err := New(Config{Workers: 1, Policy: &edf{name: "p"}})
	if err != nil || d.cfg.Log == nil || d.Policy().Name() != "p" {
		t.Fatalf("New with defaults: %v", err)
	}
}

func TestArriveFillsWorkersThenQueues(t *testing.T) {
	p := &edf{name: "edf"}
	h := newHarness(t, Config{Policy: p})
	for range 4 {
		h.arrive(10*ms, ms, false)
	}
	want := []string{"grant w0 to 1", "grant w1 to 2"}
	if !slices.Equal(h.acts, want) {
		t.Fatalf("actions %v, want %v", h.acts, want)
	}
	if h.d.Queued() != 2 || h.d.InFlight() != 4 {
		t.Fatalf("queued %d in flight %d, want 2 and 4", h.d.Queued(), h.d.InFlight())
	}
	if id, ok := h.d.Running(1); !ok || id != 2 {
		t.Fatalf("Running(1) = %d, %v", id, ok)
	}
	h.now += 3 * ms
	if tk, ok := h.d.Task(1, h.now); !ok || tk.Ran != 3*ms {
		t.Fatalf("Task(1) = %+v, %v; want Ran 3ms", tk, ok)
	}
	if _, ok := h.d.Task(99, h.now); ok {
		t.Fatal("Task(99) found")
	}
	h.finish(0, true)
	if got := h.acts[len(h.acts)-1]; got != "grant w0 to 3" {
		t.Fatalf("after finish: %s", got)
	}
	h.drain()
	if _, ok := h.d.Running(0); ok {
		t.Fatal("worker 0 still running after drain")
	}
}

func TestPreemption(t *testing.T) {
	cases := []struct {
		name       string
		preemption bool
		want       []string // actions after the urgent arrival
	}{
		// Worker 1's task has the later deadline, so it is the victim.
		{"raises the least urgent", true, []string{"raise w1 (2)"}},
		{"off", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{Policy: &edf{name: "edf"}, Preemption: c.preemption, Quantum: 5 * ms})
			h.arrive(50*ms, ms, false)
			h.arrive(90*ms, ms, false)
			h.acts = nil
			h.arrive(time.Millisecond, ms, false)
			if !slices.Equal(h.acts, c.want) {
				t.Fatalf("actions %v, want %v", h.acts, c.want)
			}
			h.drain()
		})
	}
}

func TestInterrupt(t *testing.T) {
	t.Run("yes hands the worker on with its due time", func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}, Preemption: true, Quantum: 5 * ms})
		h.arrive(50*ms, ms, false)
		h.now += ms
		h.arrive(10*ms, ms, false) // raises w0
		h.now += ms
		pre, acts := h.d.Interrupt(h.now, 0)
		if !pre || len(acts) != 1 || acts[0].ID != 2 || acts[0].Due != h.now {
			t.Fatalf("Interrupt = %v, %v; want a grant of 2 due now", pre, acts)
		}
		h.take(acts)
		if s := h.d.Stats(); s.Preemptions != 1 || s.Interrupts != 1 {
			t.Fatalf("stats %+v", s)
		}
		if tk, _ := h.d.Task(1, h.now); tk.Ran != 2*ms {
			t.Fatalf("preempted task ran %v, want 2ms", tk.Ran)
		}
		h.drain()
	})
	t.Run("no keeps the task and restarts its quantum", func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}, Quantum: 5 * ms})
		h.arrive(10*ms, ms, false)
		h.arrive(50*ms, ms, false)
		h.now += 6 * ms
		if h.interrupt(0) {
			t.Fatal("preempted for a later deadline")
		}
		if h.d.running[0].slice != h.now {
			t.Fatal("quantum not restarted")
		}
		h.drain()
	})
	t.Run("the policy hands the same task back", func(t *testing.T) {
		p := &edf{name: "edf", keep: true}
		h := newHarness(t, Config{Workers: 1, Policy: p, Quantum: 5 * ms})
		h.arrive(10*ms, ms, false)
		h.now += 6 * ms
		pre, acts := h.d.Interrupt(h.now, 0)
		if pre || len(acts) != 0 {
			t.Fatalf("Interrupt = %v, %v; want kept", pre, acts)
		}
		if id, ok := h.d.Running(0); !ok || id != 1 || h.d.Queued() != 0 {
			t.Fatal("task 1 not running again")
		}
		if s := h.d.Stats(); s.Preemptions != 0 {
			t.Fatalf("stats %+v", s)
		}
		h.drain()
	})
	t.Run("yes with a full quantum is due at its end", func(t *testing.T) {
		p := &edf{name: "edf", keep: true}
		h := newHarness(t, Config{Workers: 1, Policy: p, Quantum: 5 * ms})
		h.arrive(10*ms, ms, false)
		h.arrive(20*ms, ms, false)
		h.now += 7 * ms
		// keep: OnInterrupt is yes, and GetNext gives task 1 (earlier) back...
		if h.interrupt(0) {
			t.Fatal("task 1 has the earliest deadline; it should be kept")
		}
		p.held = slices.DeleteFunc(p.held, func(sdk.Task) bool { return false })
		h.d.running[0].Deadline = 30 * ms // ...until its deadline is the later one
		h.now += 6 * ms
		pre, acts := h.d.Interrupt(h.now, 0)
		if !pre || acts[0].Due != 7*ms+5*ms {
			t.Fatalf("Interrupt = %v, %v; want due at 12ms", pre, acts)
		}
		h.take(acts)
		h.drain()
	})
}

func TestBlockWake(t *testing.T) {
	p := &full{edf: edf{name: "full"}}
	h := newHarness(t, Config{Workers: 1, Policy: p, Preemption: true})
	a := h.arrive(50*ms, ms, false)
	b := h.arrive(20*ms, ms, false)
	h.now += 2 * ms
	if got := h.block(0); got != a {
		t.Fatalf("blocked %d, want %d", got, a)
	}
	if h.acts[len(h.acts)-1] != "grant w0 to 2" {
		t.Fatalf("block did not hand the worker on: %v", h.acts)
	}
	if h.d.Stats().Blocks != 1 || p.charged[a] != 2*ms {
		t.Fatalf("stats %+v, charged %v", h.d.Stats(), p.charged)
	}
	h.now += ms
	h.acts = nil
	h.take(h.d.Wake(h.now, a)) // later deadline than b: queued, no raise
	if len(h.acts) != 0 || h.d.Queued() != 1 {
		t.Fatalf("wake: %v, queued %d", h.acts, h.d.Queued())
	}
	if !slices.Contains(p.calls, fmt.Sprintf("enq %d woke", a)) {
		t.Fatalf("no Woke enqueue in %v", p.calls)
	}
	h.finish(0, true) // b done, a runs
	h.now += ms
	h.block(0)
	h.take(h.d.Wake(h.now, a)) // idle worker: granted at once
	if h.running[0] != a {
		t.Fatalf("woken task not granted: %v", h.acts)
	}
	_ = b
	h.drain()
	if p.charged[a] != 4*ms { // 2ms, 1ms, then 1ms in drain
		t.Fatalf("charged %v, want 4ms for task %d", p.charged[a], a)
	}
}

func TestCancel(t *testing.T) {
	p := &edf{name: "edf"}
	h := newHarness(t, Config{Workers: 1, Policy: p})
	run := h.arrive(10*ms, ms, false)
	q := h.arrive(20*ms, ms, false)
	cases := []struct {
		name string
		id   sdk.TaskID
		want bool
		call string
	}{
		{"running", run, false, ""},
		{"queued", q, true, fmt.Sprintf("deq %d cancelled", q)},
		{"gone", q, false, ""},
		{"unknown", 77, false, ""},
	}
	for _, c := range cases {
		if got := h.d.Cancel(h.now, c.id); got != c.want {
			t.Errorf("%s: Cancel(%d) = %v, want %v", c.name, c.id, got, c.want)
		}
		if c.call != "" && p.calls[len(p.calls)-1] != c.call {
			t.Errorf("%s: last call %q, want %q", c.name, p.calls[len(p.calls)-1], c.call)
		}
	}
	h.end(q, "cancelled")
	blockedID := h.block(0)
	if !h.d.Cancel(h.now, blockedID) || p.calls[len(p.calls)-1] != fmt.Sprintf("deq %d failed", blockedID) {
		t.Fatalf("cancel of a blocked task: calls %v", p.calls)
	}
	h.end(blockedID, "killed")
	if h.d.InFlight() != 0 || h.d.Queued() != 0 {
		t.Fatalf("in flight %d queued %d", h.d.InFlight(), h.d.Queued())
	}
}

func TestDropLate(t *testing.T) {
	for _, c := range []struct {
		name     string
		dropLate bool
		want     string
	}{
		{"dropped", true, "answer 2: dropped late"},
		{"kept", false, "grant w0 to 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}})
			h.arrive(time.Second, ms, false)
			h.arrive(ms, ms, c.dropLate)
			h.arrive(2*time.Second, ms, c.dropLate) // not late: runs
			h.now += 5 * ms
			h.finish(0, true)
			if h.acts[1] != c.want {
				t.Fatalf("actions %v, want %q second", h.acts, c.want)
			}
			h.drain()
		})
	}
}

func TestAdmissionAndLimits(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, MaxQueue: 1, Policy: &edf{name: "edf"}})
		h.arrive(ms, ms, false)
		h.arrive(ms, ms, false)
		h.arrive(ms, ms, false)
		if h.ended[3] != "queue full" {
			t.Fatalf("task 3: %q", h.ended[3])
		}
		h.drain()
	})
	t.Run("utilisation test", func(t *testing.T) {
		// 2 workers × (1 − 0.5) = 1 worker: two tasks of half a worker.
		h := newHarness(t, Config{Workers: 2, Admission: true, Headroom: 0.5, Policy: &edf{name: "edf"}})
		h.arrive(10*ms, 5*ms, false)
		h.arrive(10*ms, 5*ms, false)
		h.arrive(10*ms, 5*ms, false)
		h.arrive(0, 0, false) // no relative deadline: a whole worker
		if h.ended[3] != "refused" || h.ended[4] != "refused" {
			t.Fatalf("ended %v", h.ended)
		}
		h.finish(0, true) // returns its cost
		h.arrive(10*ms, 5*ms, false)
		if _, refused := h.ended[5]; refused {
			t.Fatal("cost not returned on finish")
		}
		if h.d.Admitted() == 0 {
			t.Fatal("no cost admitted while tasks are in flight")
		}
		h.drain()
		if h.d.Admitted() != 0 {
			t.Fatalf("admitted %d after drain, want 0", h.d.Admitted())
		}
	})
	t.Run("policy admits", func(t *testing.T) {
		p := &full{edf: edf{name: "full"}, refuse: map[sdk.TaskID]bool{2: true}}
		h := newHarness(t, Config{Workers: 1, Admission: true, Policy: p})
		h.arrive(ms, ms, false)
		h.arrive(ms, ms, false)
		if h.ended[2] != "refused" {
			t.Fatalf("ended %v", h.ended)
		}
		if tk, _ := h.d.Task(1, h.now); tk.Class != sdk.ClassGuaranteed {
			t.Fatalf("class %v", tk.Class)
		}
		h.drain()
	})
	t.Run("shed", func(t *testing.T) {
		p := &full{edf: edf{name: "full"}}
		h := newHarness(t, Config{Workers: 1, Policy: p})
		h.arrive(ms, ms, false)
		h.arrive(5*ms, ms, false)
		p.shedIDs = []sdk.TaskID{2}
		h.arrive(3*ms, ms, false)
		if h.ended[2] != "shed" || p.calls[len(p.calls)-1] != "deq 2 cancelled" {
			t.Fatalf("ended %v calls %v", h.ended, p.calls)
		}
		p.shedIDs = []sdk.TaskID{1} // running: not held; a built-in is only logged
		h.arrive(3*ms, ms, false)
		if _, ok := h.ended[1]; ok || h.d.Policy() != sdk.Policy(p) {
			t.Fatal("a built-in's unheld Shed answer changed something")
		}
		h.drain()
	})
	t.Run("arrive twice panics", func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}})
		h.arrive(ms, ms, false)
		mustPanic(t, "arrived twice", func() { h.d.Arrive(0, sdk.Task{ID: 1}, false) })
	})
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

func TestMisuse(t *testing.T) {
	h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "edf"}})
	h.arrive(ms, ms, false)
	h.arrive(ms, ms, false)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Finish", func() { h.d.Finish(0, 3, true) }},
		{"Block", func() { h.d.Block(0, -1) }},
		{"Interrupt", func() { h.d.Interrupt(0, 1) }},
		{"Wake", func() { h.d.Wake(0, 2) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustPanic(t, c.name, c.f)
		})
	}
}

func TestPollReleasesHeldBackWork(t *testing.T) {
	p := &edf{name: "edf"}
	h := newHarness(t, Config{Workers: 2, Policy: p})
	h.arrive(ms, ms, false)
	// A task the policy got without the dispatcher asking for it on an
	// idle worker: Poll is how held-back work gets a worker.
	p.held = append(p.held, sdk.Task{ID: 2})
	h.d.tasks[2] = &task{Task: sdk.Task{ID: 2}}
	h.d.queued++
	h.nextID = 3
	h.take(h.d.Poll(h.now))
	if h.running[1] != 2 {
		t.Fatalf("Poll: %v", h.acts)
	}
	var seen []sdk.TaskID
	h.d.Each(func(t sdk.Task) { seen = append(seen, t.ID) })
	if len(seen) != 0 {
		t.Fatalf("Each saw %v with nothing queued", seen)
	}
	h.drain()
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Grant.String(), "grant"},
		{Raise.String(), "raise"},
		{Answer.String(), "answer"},
		{Verdict(9).String(), "verdict(9)"},
		{QueueFull.String(), "queue full"},
		{Action{Kind: Raise, Worker: 1, ID: 4}.String(), "raise w1 (4)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestFailover injects a fault after each kind of policy call and checks
// that the fallback takes over holding exactly the queued tasks, that
// the fault is recorded once, and that every task still ends once.
func TestFailover(t *testing.T) {
	cases := []struct {
		on    string
		after int
	}{
		{"Enqueue", 3},
		{"GetNext", 2},
		{"OnInterrupt", 0},
		{"WouldPreempt", 0},
		{"Dequeue", 0},
		{"Charge", 0},
		{"Admit", 2},
		{"Shed", 2},
		{"unheld GetNext", 0},
		{"unheld Shed", 0},
	}
	for _, c := range cases {
		t.Run(c.on, func(t *testing.T) {
			f := &faulty{full: &full{edf: edf{name: "plugin"}}, on: c.on, after: c.after}
			var fb *edf
			var ejected []Fallback
			g := &Guard{
				Name: "plug",
				Err:  func() error { return f.err },
				Fallback: func() (sdk.Policy, error) {
					fb = &edf{name: "fifo"}
					return fb, nil
				},
				Ejected: func(x Fallback) { ejected = append(ejected, x) },
			}
			h := newHarness(t, Config{Workers: 2, Policy: f, Guard: g, Preemption: true, Quantum: ms})
			if !h.d.Guarded() {
				t.Fatal("a guarded policy is not Guarded")
			}
			for i := range 4 {
				h.arrive(time.Duration(50-i)*ms, ms, false)
			}
			switch c.on {
			case "OnInterrupt":
				h.now += 2 * ms
				h.interrupt(0)
			case "Dequeue", "Charge":
				h.now += ms
				h.finish(0, true)
			case "unheld GetNext":
				f.bug = "unheld"
				h.now += ms
				h.finish(0, true)
			case "unheld Shed":
				f.shedIDs = []sdk.TaskID{1} // running
				h.arrive(time.Second, ms, false)
			}
			if len(ejected) != 1 || h.d.Policy().Name() != "fifo" || h.d.Guarded() {
				t.Fatalf("ejected %v, policy %s; calls %v", ejected, h.d.Policy().Name(), f.calls)
			}
			e := ejected[0]
			if e.Plugin != "plug" || e.To != "fifo" || e.Cause == nil || e.At != h.now || !slices.Equal(h.d.Fallbacks(), ejected) {
				t.Fatalf("fallback record %+v", e)
			}
			if c.on == "unheld GetNext" || c.on == "unheld Shed" {
				if !errors.Is(e.Cause, ErrUnheldTask) {
					t.Fatalf("cause %v, want ErrUnheldTask", e.Cause)
				}
			} else if e.Decisions == 0 {
				t.Fatalf("no decisions before the %s fault", c.on)
			}
			var queued []sdk.TaskID
			h.d.Each(func(t sdk.Task) { queued = append(queued, t.ID) })
			slices.Sort(queued)
			if got := fb.heldIDs(); !slices.Equal(got, queued) {
				t.Fatalf("fallback holds %v, dispatcher queued %v", got, queued)
			}
			// The fallback serves the rest: more work, then drain.
			h.arrive(time.Millisecond, ms, false)
			h.now += 2 * ms
			h.interrupt(0)
			h.drain()
			if len(ejected) != 1 {
				t.Fatalf("ejected %d times", len(ejected))
			}
		})
	}
}

// TestFailoverPreemptedReason: a task that has run is handed to the
// fallback as Preempted, one that never ran as Arrived.
func TestFailoverPreemptedReason(t *testing.T) {
	f := &faulty{full: &full{edf: edf{name: "plugin", keep: true}}, on: "Admit", after: 2}
	var fb *edf
	g := &Guard{Name: "plug", Err: func() error { return f.err },
		Fallback: func() (sdk.Policy, error) { fb = &edf{name: "fifo"}; return fb, nil }}
	h := newHarness(t, Config{Workers: 1, Policy: f, Guard: g, Quantum: ms})
	h.arrive(50*ms, ms, false) // 1 runs
	h.now += 2 * ms
	f.keep = false
	h.arrive(10*ms, ms, false) // 2 queued
	h.interrupt(0)             // 2 earlier: 1 preempted, 2 runs
	h.arrive(60*ms, ms, false) // Admit faults
	want := []string{"enq 1 preempted", "enq 3 arrived"}
	if !slices.Equal(fb.calls, want) {
		t.Fatalf("fallback calls %v, want %v", fb.calls, want)
	}
	h.drain()
}

func TestFailoverFallbackFails(t *testing.T) {
	g := &Guard{Name: "plug", Err: func() error { return errors.New("gone") },
		Fallback: func() (sdk.Policy, error) { return nil, errors.New("no such built-in") }}
	h := newHarness(t, Config{Workers: 1, Policy: &edf{name: "p"}, Guard: g})
	mustPanic(t, "no such built-in", func() { h.arrive(ms, ms, false) })
}

func TestBuiltinUnheldAndFailed(t *testing.T) {
	p := &edf{name: "edf"}
	h := newHarness(t, Config{Workers: 1, Policy: p})
	h.arrive(ms, ms, false)
	h.arrive(ms, ms, false)
	p.bug = "unheld"
	h.now += ms
	h.finish(0, false) // failed; the built-in's unheld answer means "nothing"
	if !slices.Contains(p.calls, "deq 1 failed") {
		t.Fatalf("calls %v", p.calls)
	}
	if _, ok := h.d.Running(0); ok || h.d.Policy() != sdk.Policy(p) {
		t.Fatal("an unheld answer of a built-in was granted or ejected it")
	}
	p.bug = ""
	h.take(h.d.Poll(h.now))
	h.drain()
}
