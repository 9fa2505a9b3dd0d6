package sdk

import (
	"fmt"
	"time"
)

// TaskID identifies a task for its whole life. IDs are never reused by one
// server.
type TaskID uint64

// WorkerID identifies a worker, 0..workers-1.
type WorkerID int

// Class is the service class a policy assigns to a task (multi-tenant
// policies use it; others leave it ClassDefault).
type Class uint8

const (
	ClassDefault Class = iota
	ClassGuaranteed
	ClassBestEffort
)

func (c Class) String() string {
	switch c {
	case ClassDefault:
		return "default"
	case ClassGuaranteed:
		return "guaranteed"
	case ClassBestEffort:
		return "best-effort"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Task is what a policy knows about one request. It is a value: the core
// passes a fresh copy on every call, so a policy may keep it.
type Task struct {
	ID     TaskID
	Tenant string
	Route  string
	// Arrival and Deadline are on the server clock; Deadline is absolute
	// (Arrival + the route's relative deadline).
	Arrival  time.Duration
	Deadline time.Duration
	// Expected is the route's execution-time estimate for one request.
	Expected time.Duration
	// Ran is the CPU time (time in Running) the task has used so far.
	Ran   time.Duration
	Class Class
}

// Remaining is the expected execution still to run, floored at zero.
func (t Task) Remaining() time.Duration {
	if r := t.Expected - t.Ran; r > 0 {
		return r
	}
	return 0
}

// EnqueueReason says why a task becomes runnable.
type EnqueueReason uint8

const (
	// Arrived: a new request.
	Arrived EnqueueReason = iota
	// Preempted: the task was running and gave up its worker after
	// OnInterrupt said so.
	Preempted
	// Woke: the task was blocked in a host call that has now finished.
	Woke
)

func (r EnqueueReason) String() string {
	return [...]string{"arrived", "preempted", "woke"}[r]
}

// DequeueReason says why a task leaves the system.
type DequeueReason uint8

const (
	// Completed: the task ran to completion (any exit status).
	Completed DequeueReason = iota
	// Failed: the task trapped or was killed while it held a worker.
	Failed
	// Cancelled: the task was removed while it was queued (timeout, client
	// gone, shutdown, dropped past its deadline).
	Cancelled
)

func (r DequeueReason) String() string {
	return [...]string{"completed", "failed", "cancelled"}[r]
}

// Policy orders runnable tasks. Every method is called with the core's
// scheduler lock held and must return quickly: no I/O, no blocking.
type Policy interface {
	// Name is the policy's registry name.
	Name() string

	// Enqueue hands the policy a task that is now runnable. The policy
	// owns it until GetNext returns its ID or Dequeue removes it. A task
	// is never enqueued twice without a GetNext in between.
	Enqueue(t Task, why EnqueueReason)

	// GetNext picks the task worker w runs next and gives up ownership of
	// it. ok is false when the policy holds no task w may run. It must
	// return only IDs it holds. A policy that holds work back (says no
	// while it holds tasks) is asked again every quantum while a worker
	// is idle, so it may release work as time passes without an event.
	GetNext(w WorkerID, now time.Duration) (id TaskID, ok bool)

	// OnInterrupt is called when cur's quantum on worker w expired (or a
	// preemption asked for by WouldPreempt is due). It returns true if cur
	// should give up w; the core then Enqueues cur (reason Preempted) and
	// calls GetNext(w), which may return cur again. It must not change
	// what the policy holds.
	OnInterrupt(w WorkerID, cur Task, now time.Duration) bool

	// WouldPreempt reports whether arriving, just enqueued, should take
	// worker w away from cur at once rather than at the next quantum. It
	// must not change any state: the core may ask it for every worker.
	// The core also uses it to compare two running tasks when it picks
	// which worker to preempt, so it must be a strict order at one now:
	// never true for a task against itself, nor for both (a, b) and
	// (b, a).
	WouldPreempt(w WorkerID, cur Task, arriving Task, now time.Duration) bool

	// Dequeue tells the policy a task left the system. If the policy
	// still holds it (reason Cancelled), it must forget it; otherwise the
	// call is a notification (the task was running).
	Dequeue(id TaskID, why DequeueReason)
}

// Charger is implemented by policies that account CPU time, e.g. per-tenant
// budgets. The core calls Charge each time a task stops running (preempted,
// blocked, returned, failed) with the CPU time it used since it last
// started running; the sum over calls equals the task's final Ran.
type Charger interface {
	Charge(t Task, used time.Duration, now time.Duration)
}

// Gauge is one value a policy reports for observability, e.g. a tenant's
// remaining budget. Tenant is "" for policy-wide values.
type Gauge struct {
	Name   string
	Tenant string
	Value  float64
}

// HeadroomGauge is the name of the policy-wide Gauge (Tenant "") in which
// a Reporter says what share of its capacity it could still admit, from 0
// (it would refuse any new task) to 1 (idle). The core reports it to load
// balancers (runtime.agent, GET /load) instead of its own estimate; a
// policy that does not report it is judged by the core's utilisation test
// or its queue length (RATIONALE.md, "Load report").
const HeadroomGauge = "headroom"

// Reporter is implemented by policies that expose internal state as
// gauges (served as gosledge_policy_gauge{policy,name,tenant}). Report is
// called under the scheduler lock at scrape time and must be cheap.
type Reporter interface {
	Report(now time.Duration) []Gauge
}

// Configurer is implemented by policies that take settings: the worker
// count, and tables of their own in the config file ([policy.NAME] and a
// tenant's policy.NAME, see Config). The core calls Configure once,
// before any other method. An error about one key should be an
// *OptionError (Options.Decode returns them), so the operator gets the
// key's file:line; a policy that is not a Configurer may not have tables.
type Configurer interface {
	Configure(c Config) error
}

// Admitter is implemented by policies that decide admission themselves,
// replacing the core's utilisation test. Admit is called for each new
// request before Enqueue; it returns the class the task is admitted in, or
// ok=false to refuse it (429). An admitted task always ends in exactly one
// Dequeue, whatever its outcome, so the policy can release what it
// reserved there.
type Admitter interface {
	Admit(t Task, now time.Duration) (class Class, ok bool)
}

// Shedder is implemented by policies that may give up queued tasks to
// protect others (answered 409). The core calls Shed after every Enqueue;
// the policy returns the IDs it has removed from its queue (each one it
// held). They are then Dequeued with reason Cancelled like any other task
// that leaves the queue.
type Shedder interface {
	Shed(now time.Duration) []TaskID
}
