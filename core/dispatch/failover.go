package dispatch

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Guard is what the dispatcher knows of a policy that can fail: an
// out-of-process or Wasm plugin whose client records its first fault
// (stalled past its timeout, an error, a panic, the process gone).
type Guard struct {
	Name string       // the [[plugin]] name
	Err  func() error // the plugin's first fault, or nil
	// Fallback makes the built-in that takes over (runtime.plugin_fallback).
	Fallback func() (sdk.Policy, error)
	// Ejected, if set, is told of the ejection at once, from inside the
	// event that noticed it: the caller stops the plugin (not inline if
	// that may block) and keeps the record.
	Ejected func(Fallback)
}

// Fallback records the ejection of a failed policy.
type Fallback struct {
	At     time.Duration // on the dispatcher's clock: the event's now
	Plugin string        // Guard.Name
	To     string        // the fallback's Name()
	Cause  error         // the plugin's fault
	// Decisions counts the plugin's answers accepted before: one per
	// checked call (Enqueue, GetNext, OnInterrupt, Dequeue, …), one per
	// round of WouldPreempt questions on an arrival.
	Decisions uint64
	// Queued is how many tasks the fallback was handed.
	Queued int
}

// failover is the decorator every policy call goes through. After each
// call to a guarded policy it checks the guard; on a fault it ejects the
// policy (the fallback gets every queued task) and, for questions, asks
// the fallback instead. Callers never poll for faults.
type failover struct {
	d         *Dispatcher
	p         sdk.Policy
	x         sdk.Extensions
	guard     *Guard // nil once ejected, or for a built-in
	now       time.Duration
	decisions uint64
	fallbacks []Fallback
}

func newFailover(d *Dispatcher, p sdk.Policy, g *Guard) *failover {
	f := &failover{d: d, guard: g}
	f.install(p)
	return f
}

// install makes p the policy and derives its optional capabilities.
func (f *failover) install(p sdk.Policy) {
	f.p, f.x = p, sdk.ExtensionsOf(p)
}

// sound reports whether the policy's last answer stands; if it faulted,
// the policy is replaced first.
func (f *failover) sound() bool {
	if f.guard == nil {
		return true
	}
	err := f.guard.Err()
	if err == nil {
		f.decisions++
		return true
	}
	f.eject(err)
	return false
}

// fault records a fault the dispatcher itself found in an answer. It
// ejects a guarded policy and reports true; a built-in is only logged
// (the conformance suite keeps built-ins from doing this).
func (f *failover) fault(cause error) bool {
	if f.guard == nil {
		f.d.cfg.Log.Error("policy fault", "policy", f.p.Name(), "err", cause)
		return false
	}
	f.eject(cause)
	return true
}

// eject replaces the failed policy with the fallback and hands it every
// queued task, oldest first.
func (f *failover) eject(cause error) {
	g := f.guard
	f.guard = nil
	next, err := g.Fallback()
	if err != nil {
		// The fallback is a built-in checked at start; this cannot fail.
		panic(fmt.Sprintf("dispatch: policy fallback for %q: %v", g.Name, err))
	}
	var queued []sdk.Task
	f.d.Each(func(t sdk.Task) { queued = append(queued, t) })
	slices.SortFunc(queued, func(a, b sdk.Task) int { return cmp.Compare(a.ID, b.ID) })
	fb := Fallback{At: f.now, Plugin: g.Name, To: next.Name(), Cause: cause, Decisions: f.decisions, Queued: len(queued)}
	f.d.cfg.Log.Error("policy plugin failed; falling back", "plugin", g.Name, "err", cause,
		"fallback", fb.To, "queued", fb.Queued)
	f.fallbacks = append(f.fallbacks, fb)
	if g.Ejected != nil {
		g.Ejected(fb)
	}
	f.install(next)
	for _, t := range queued {
		why := sdk.Arrived
		if f.d.tasks[t.ID].started {
			why = sdk.Preempted
		}
		f.p.Enqueue(t, why)
	}
}

func (f *failover) enqueue(t sdk.Task, why sdk.EnqueueReason) {
	f.p.Enqueue(t, why)
	f.sound() // on a fault the fallback was given every queued task, t too
}

func (f *failover) dequeue(id sdk.TaskID, why sdk.DequeueReason) {
	f.p.Dequeue(id, why)
	f.sound()
}

func (f *failover) getNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	f.now = now
	for {
		id, ok := f.timedGetNext(w, now)
		if f.sound() {
			return id, ok
		}
	}
}

func (f *failover) timedGetNext(w sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	t := f.d.cfg.Timer
	if t == nil {
		return f.p.GetNext(w, now)
	}
	start := t.Start()
	id, ok := f.p.GetNext(w, now)
	t.Stop(start)
	return id, ok
}

func (f *failover) onInterrupt(w sdk.WorkerID, cur sdk.Task, now time.Duration) bool {
	f.now = now
	for {
		yes := f.p.OnInterrupt(w, cur, now)
		if f.sound() {
			return yes
		}
	}
}

// victim picks the least urgent running task arriving should displace.
// WouldPreempt is pure, so it also serves as the comparator between two
// running tasks: if cur would not preempt the current victim, cur is no
// more urgent and becomes the victim. A round asked of a policy that
// faulted meanwhile raises nobody: its answers are not to be trusted.
func (f *failover) victim(running []*task, arriving sdk.Task, now time.Duration) (sdk.WorkerID, bool) {
	f.now = now
	victim := -1
	var victimTask sdk.Task
	for w, cur := range running {
		if cur == nil {
			continue
		}
		ct := cur.at(now)
		if !f.p.WouldPreempt(sdk.WorkerID(w), ct, arriving, now) {
			continue
		}
		if victim < 0 || !f.p.WouldPreempt(sdk.WorkerID(victim), victimTask, ct, now) {
			victim, victimTask = w, ct
		}
	}
	if !f.sound() {
		return 0, false
	}
	return sdk.WorkerID(victim), victim >= 0
}

func (f *failover) charge(t sdk.Task, used, now time.Duration) {
	if f.x.Charger == nil {
		return
	}
	f.now = now
	f.x.Charger.Charge(t, used, now)
	f.sound()
}

// admit asks an sdk.Admitter; decided is false when the policy is not one.
func (f *failover) admit(t sdk.Task, now time.Duration) (class sdk.Class, ok, decided bool) {
	f.now = now
	for f.x.Admitter != nil {
		class, ok := f.x.Admitter.Admit(t, now)
		if f.sound() {
			return class, ok, true
		}
	}
	return 0, false, false
}

// shed asks an sdk.Shedder; a faulted one's answer is dropped.
func (f *failover) shed(now time.Duration) []sdk.TaskID {
	if f.x.Shedder == nil {
		return nil
	}
	f.now = now
	ids := f.x.Shedder.Shed(now)
	if !f.sound() {
		return nil
	}
	return ids
}
