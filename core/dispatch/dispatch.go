package dispatch

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Kind says what an Action asks the caller to do.
type Kind uint8

const (
	// Grant: worker Worker now runs task ID (a first start or a resume).
	Grant Kind = iota
	// Raise: the task on Worker should reach a safepoint and be
	// interrupted now rather than at the end of its quantum.
	Raise
	// Answer: task ID leaves without running further, for Verdict.
	Answer
)

func (k Kind) String() string { return [...]string{"grant", "raise", "answer"}[k] }

// Verdict is why a task was answered without running to completion.
type Verdict uint8

const (
	Refused   Verdict = iota + 1 // admission control said no
	QueueFull                    // the queue was at its limit on arrival
	Dropped                      // its deadline passed before it ever ran
	Shed                         // the policy gave it up to protect others
)

func (v Verdict) String() string {
	switch v {
	case Refused:
		return "refused"
	case QueueFull:
		return "queue full"
	case Dropped:
		return "dropped late"
	case Shed:
		return "shed"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Action is one thing the caller must do after an event.
type Action struct {
	Kind    Kind
	Worker  sdk.WorkerID // Grant, Raise
	ID      sdk.TaskID   // Grant, Answer; Raise: the task running on Worker
	Verdict Verdict      // Answer
	// Due, on a Grant after a preemption, is when the previous task's
	// quantum expired (for the switch-delay figure); otherwise -1.
	Due time.Duration
}

func (a Action) String() string {
	switch a.Kind {
	case Grant:
		return fmt.Sprintf("grant w%d to %d", a.Worker, a.ID)
	case Raise:
		return fmt.Sprintf("raise w%d (%d)", a.Worker, a.ID)
	}
	return fmt.Sprintf("answer %d: %v", a.ID, a.Verdict)
}

// Config sets up a Dispatcher.
type Config struct {
	Workers    int
	Quantum    time.Duration // for the Due of a Grant after an early preemption
	Preemption bool          // arrivals may raise a running worker
	MaxQueue   int           // queued tasks at most; 0: unbounded
	// Admission turns on the core's utilisation test for a policy that is
	// not an sdk.Admitter: a task costs Expected/relative deadline of a
	// worker, and tasks are admitted while the sum of admitted costs stays
	// within Workers × (1 − Headroom).
	Admission bool
	Headroom  float64
	Policy    sdk.Policy
	Guard     *Guard       // nil for a policy that cannot fail (a built-in)
	Log       *slog.Logger // default slog.Default()
	// Timer, if set, times every GetNext on the caller's clock (the
	// dispatcher has none): the server's decision-time metric.
	Timer Timer
}

// Timer measures policy decisions for the caller: Start before a call,
// Stop with Start's reading after it.
type Timer interface {
	Start() time.Duration
	Stop(start time.Duration)
}

// Stats are the dispatcher's counters.
type Stats struct {
	Preemptions uint64 // a running task gave its worker to another
	Interrupts  uint64 // OnInterrupt calls the core acted on
	Blocks      uint64 // tasks that gave up a worker in a host call
}

// state is where a task is.
type state uint8

const (
	queued  state = iota // the policy holds it
	running              // on a worker
	blocked              // in a host call
)

// task is one admitted task in flight.
type task struct {
	sdk.Task // Ran as of the last charge
	st       state
	w        sdk.WorkerID
	runStart time.Duration // when it last started running
	slice    time.Duration // start of its current quantum
	started  bool          // has held a worker at least once
	dropLate bool
	cost     int64 // admission cost to return when it leaves
}

// Dispatcher is the scheduling state machine. It is not safe for
// concurrent use: the server calls it under its scheduler mutex.
type Dispatcher struct {
	cfg     Config
	pol     *failover
	adm     admission
	tasks   map[sdk.TaskID]*task // in flight: queued, running or blocked
	queued  int
	running []*task // per worker; nil when idle
	stats   Stats
	acts    []Action
}

// ErrUnheldTask is the fault of a policy that answers with a task it does
// not hold.
var ErrUnheldTask = errors.New("answered with a task it does not hold")

// New returns a dispatcher with every worker idle.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("dispatch: %d workers, want at least 1", cfg.Workers)
	}
	if cfg.Policy == nil {
		return nil, errors.New("dispatch: no policy")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	d := &Dispatcher{
		cfg:     cfg,
		tasks:   map[sdk.TaskID]*task{},
		running: make([]*task, cfg.Workers),
	}
	if cfg.Admission {
		d.adm.capacity = int64(float64(cfg.Workers) * (1 - cfg.Headroom) * costUnit)
	}
	d.pol = newFailover(d, cfg.Policy, cfg.Guard)
	return d, nil
}

// Policy is the policy in charge now: the configured one, or its fallback.
func (d *Dispatcher) Policy() sdk.Policy { return d.pol.p }

// Fallbacks lists the ejections of the guarded policy, oldest first.
func (d *Dispatcher) Fallbacks() []Fallback { return d.pol.fallbacks }

// Guarded reports whether the policy in charge can fail: a guarded
// policy that has not been ejected.
func (d *Dispatcher) Guarded() bool { return d.pol.guard != nil }

// Admitted is the admission cost held by tasks in flight, in millionths
// of a worker; 0 once every admitted task has left.
func (d *Dispatcher) Admitted() int64 { return d.adm.admitted }

// Capacity is what the utilisation test admits up to, in the same unit; 0
// when Config.Admission is off.
func (d *Dispatcher) Capacity() int64 { return d.adm.capacity }

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats { return d.stats }

// Queued is how many tasks the policy holds.
func (d *Dispatcher) Queued() int { return d.queued }

// InFlight is how many admitted tasks have not left.
func (d *Dispatcher) InFlight() int { return len(d.tasks) }

// Running returns the task on worker w.
func (d *Dispatcher) Running(w sdk.WorkerID) (sdk.TaskID, bool) {
	if t := d.running[w]; t != nil {
		return t.ID, true
	}
	return 0, false
}

// Task returns task id as the policy would see it now: Ran includes the
// current running stretch.
func (d *Dispatcher) Task(id sdk.TaskID, now time.Duration) (sdk.Task, bool) {
	t := d.tasks[id]
	if t == nil {
		return sdk.Task{}, false
	}
	return t.at(now), true
}

func (t *task) at(now time.Duration) sdk.Task {
	v := t.Task
	if t.st == running {
		v.Ran += now - t.runStart
	}
	return v
}

// begin starts an event's list of actions.
func (d *Dispatcher) begin() { d.acts = d.acts[:0] }

func (d *Dispatcher) emit(a Action) { d.acts = append(d.acts, a) }

// Arrive submits a new task: admission, the queue limit, Enqueue, Shed,
// then idle workers and at most one raise. dropLate says its route drops
// it if its deadline passes before it starts. The returned actions are
// valid until the next call.
func (d *Dispatcher) Arrive(now time.Duration, t sdk.Task, dropLate bool) []Action {
	d.begin()
	if _, dup := d.tasks[t.ID]; dup {
		panic(fmt.Sprintf("dispatch: task %d arrived twice", t.ID))
	}
	if d.cfg.MaxQueue > 0 && d.queued >= d.cfg.MaxQueue {
		d.emit(Action{Kind: Answer, ID: t.ID, Verdict: QueueFull})
		return d.acts
	}
	tk := &task{Task: t, dropLate: dropLate}
	if !d.admit(tk, now) {
		d.emit(Action{Kind: Answer, ID: t.ID, Verdict: Refused})
		return d.acts
	}
	d.tasks[t.ID] = tk
	d.enqueue(tk, sdk.Arrived)
	d.shed(now)
	d.kick(tk, now)
	return d.acts
}

// admit applies admission control: the policy's own or the core's test.
func (d *Dispatcher) admit(t *task, now time.Duration) bool {
	if class, ok, decided := d.pol.admit(t.Task, now); decided {
		t.Class = class
		return ok
	}
	if !d.cfg.Admission {
		return true
	}
	cost := admissionCost(t.Expected, t.Deadline-t.Arrival)
	if !d.adm.admit(cost) {
		return false
	}
	t.cost = cost
	return true
}

// shed answers the tasks the policy gives up.
func (d *Dispatcher) shed(now time.Duration) {
	for _, id := range d.pol.shed(now) {
		t := d.tasks[id]
		if t == nil || t.st != queued {
			if d.pol.fault(fmt.Errorf("Shed() returned task %d: %w", id, ErrUnheldTask)) {
				return // the fallback holds every queued task again
			}
			continue
		}
		d.unqueue(t)
		d.leave(t, sdk.Cancelled)
		d.emit(Action{Kind: Answer, ID: id, Verdict: Shed})
	}
}

func (d *Dispatcher) enqueue(t *task, why sdk.EnqueueReason) {
	t.st = queued
	d.queued++
	d.pol.enqueue(t.Task, why)
}

// unqueue marks a queued task as no longer held by the policy.
func (d *Dispatcher) unqueue(t *task) {
	d.queued--
	t.st = running // provisional: the caller decides its fate
}

// kick fills idle workers, then, if arriving still waits, raises the least
// urgent running task it should displace.
func (d *Dispatcher) kick(arriving *task, now time.Duration) {
	d.fill(now)
	if !d.cfg.Preemption || d.tasks[arriving.ID] != arriving || arriving.st != queued {
		return
	}
	if w, ok := d.pol.victim(d.running, arriving.Task, now); ok {
		d.emit(Action{Kind: Raise, Worker: w, ID: d.running[w].ID})
	}
}

// fill asks the policy for a task for every idle worker, in order, until
// it has nothing.
func (d *Dispatcher) fill(now time.Duration) {
	for w, cur := range d.running {
		if cur != nil {
			continue
		}
		next := d.next(sdk.WorkerID(w), now)
		if next == nil {
			return // the policy has nothing (for this worker)
		}
		d.grant(sdk.WorkerID(w), next, now, -1)
	}
}

// next asks the policy what worker w runs next and checks the answer,
// dropping late tasks that never ran.
func (d *Dispatcher) next(w sdk.WorkerID, now time.Duration) *task {
	for {
		id, ok := d.pol.getNext(w, now)
		if !ok {
			return nil
		}
		t := d.tasks[id]
		if t == nil || t.st != queued {
			if d.pol.fault(fmt.Errorf("GetNext(%d) = task %d: %w", w, id, ErrUnheldTask)) {
				continue // ask the fallback
			}
			return nil // a built-in never does this (the conformance suite checks)
		}
		d.unqueue(t)
		if !t.started && t.dropLate && now > t.Deadline {
			d.leave(t, sdk.Cancelled)
			d.emit(Action{Kind: Answer, ID: id, Verdict: Dropped})
			continue
		}
		return t
	}
}

func (d *Dispatcher) grant(w sdk.WorkerID, t *task, now, due time.Duration) {
	d.running[w] = t
	t.st, t.w, t.started = running, w, true
	t.runStart, t.slice = now, now
	d.emit(Action{Kind: Grant, Worker: w, ID: t.ID, Due: due})
}

// charge accounts the CPU time t used since it last started running.
func (d *Dispatcher) charge(t *task, now time.Duration) {
	used := now - t.runStart
	t.Ran += used
	t.runStart = now
	d.pol.charge(t.Task, used, now)
}

// leave tells the policy t left and returns its admission cost. Every
// admitted task goes through here exactly once.
func (d *Dispatcher) leave(t *task, why sdk.DequeueReason) {
	delete(d.tasks, t.ID)
	d.pol.dequeue(t.ID, why)
	if t.cost > 0 {
		d.adm.release(t.cost)
		t.cost = 0
	}
}

func (d *Dispatcher) mustRun(w sdk.WorkerID, op string) *task {
	if int(w) < 0 || int(w) >= len(d.running) || d.running[w] == nil {
		panic(fmt.Sprintf("dispatch: %s on worker %d, which runs nothing", op, w))
	}
	return d.running[w]
}

// Interrupt is a safepoint of the task on w past its quantum, or after a
// Raise. It reports whether the task gave its worker up; if not, its new
// quantum starts now.
func (d *Dispatcher) Interrupt(now time.Duration, w sdk.WorkerID) (preempted bool, acts []Action) {
	d.begin()
	cur := d.mustRun(w, "Interrupt")
	d.stats.Interrupts++
	if !d.pol.onInterrupt(w, cur.at(now), now) {
		cur.slice = now
		return false, d.acts
	}
	due := min(cur.slice+d.cfg.Quantum, now) // asked early by a raise: due now
	d.charge(cur, now)
	d.running[w] = nil
	d.enqueue(cur, sdk.Preempted)
	next := d.next(w, now)
	if next == cur { // the policy kept it: resume without a switch
		d.running[w] = cur
		cur.st, cur.slice = running, now
		return false, d.acts
	}
	if next != nil {
		d.grant(w, next, now, due)
	}
	d.stats.Preemptions++
	return true, d.acts
}

// Block is the task on w entering a waiting host call: it gives its
// worker to the next task.
func (d *Dispatcher) Block(now time.Duration, w sdk.WorkerID) []Action {
	d.begin()
	cur := d.mustRun(w, "Block")
	d.charge(cur, now)
	cur.st = blocked
	d.stats.Blocks++
	d.release(w, now)
	return d.acts
}

// Wake is blocked task id's host call ending: it is runnable again.
func (d *Dispatcher) Wake(now time.Duration, id sdk.TaskID) []Action {
	d.begin()
	t := d.tasks[id]
	if t == nil || t.st != blocked {
		panic(fmt.Sprintf("dispatch: Wake of task %d, which is not blocked", id))
	}
	d.enqueue(t, sdk.Woke)
	d.kick(t, now)
	return d.acts
}

// Finish is the task on w returning (ok) or failing (trapped, killed).
func (d *Dispatcher) Finish(now time.Duration, w sdk.WorkerID, ok bool) []Action {
	d.begin()
	cur := d.mustRun(w, "Finish")
	d.charge(cur, now)
	why := sdk.Completed
	if !ok {
		why = sdk.Failed
	}
	d.leave(cur, why)
	d.release(w, now)
	return d.acts
}

func (d *Dispatcher) release(w sdk.WorkerID, now time.Duration) {
	d.running[w] = nil
	if next := d.next(w, now); next != nil {
		d.grant(w, next, now, -1)
	}
}

// Cancel takes killed task id out of the system if it holds no worker:
// out of the queue (Cancelled) or out of its host call (Failed). It
// reports whether it did; a running task must unwind and Finish instead,
// and an unknown one has already left.
func (d *Dispatcher) Cancel(now time.Duration, id sdk.TaskID) bool {
	d.begin()
	t := d.tasks[id]
	switch {
	case t == nil || t.st == running:
		return false
	case t.st == queued:
		d.queued--
		d.leave(t, sdk.Cancelled)
	default: // blocked
		d.leave(t, sdk.Failed)
	}
	return true
}

// Poll offers every idle worker to the policy: for a policy that holds
// work back (budgets, affinity) and may release it as time passes with
// no event.
func (d *Dispatcher) Poll(now time.Duration) []Action {
	d.begin()
	d.fill(now)
	return d.acts
}

// Each calls f for every task the policy holds, in no particular order.
func (d *Dispatcher) Each(f func(sdk.Task)) {
	for _, t := range d.tasks {
		if t.st == queued {
			f(t.Task)
		}
	}
}
