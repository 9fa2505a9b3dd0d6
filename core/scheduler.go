package core

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// scheduler hands workers to sandboxes as the policy decides. It has no
// goroutines of its own: a worker is a slot, and every decision is made on
// the goroutine of the sandbox that arrives, yields, blocks or finishes.
// One mutex serialises the policy and the slots.
type scheduler struct {
	now        func() time.Duration
	quantum    time.Duration
	preemption bool
	maxQueue   int // 0: unbounded
	log        *slog.Logger
	metrics    *metrics

	// preempt[w] asks the sandbox on worker w to consult OnInterrupt at its
	// next safepoint, before its quantum is up (set on arrival when
	// WouldPreempt says so). Read lock-free on the yield hot path.
	preempt []atomic.Bool

	mu        sync.Mutex
	policy    sdk.Policy
	charger   sdk.Charger             // policy as a Charger, or nil
	admitter  sdk.Admitter            // policy as an Admitter, or nil
	shedder   sdk.Shedder             // policy as a Shedder, or nil
	admission *admission              // the core's admission test, or nil
	guard     *pluginGuard            // set while the policy is a plugin
	running   []*Sandbox              // per worker; nil when idle
	queued    map[sdk.TaskID]*Sandbox // sandboxes the policy holds
	stats     schedStats
	recording atomic.Bool // stats' slices are being filled (tests, benchmarks)
}

// schedStats are counters read by tests and benchmarks.
type schedStats struct {
	Preemptions uint64 // a running sandbox gave its worker to another
	Interrupts  uint64 // OnInterrupt calls
	Blocks      uint64 // sandboxes that gave up a worker in a host call
	// SwitchDelays, when recording, holds the delay from a quantum's
	// expiry to the next sandbox resuming on that worker.
	SwitchDelays []time.Duration
	// Finished, when recording, lists the routes of finished sandboxes
	// in the order they released their worker.
	Finished []string
	// Events, when recording, lists arrivals ("+route") and finishes
	// ("-route") in the order they happened.
	Events []string
}

func newScheduler(p sdk.Policy, workers int, quantum time.Duration, preemption bool, now func() time.Duration, log *slog.Logger) *scheduler {
	s := &scheduler{
		now:        now,
		quantum:    quantum,
		preemption: preemption,
		log:        log,
		preempt:    make([]atomic.Bool, workers),
		policy:     p,
		running:    make([]*Sandbox, workers),
		queued:     map[sdk.TaskID]*Sandbox{},
	}
	s.setPolicyLocked(p)
	return s
}

// submit makes a new sandbox runnable and starts it on an idle worker, or
// asks a busy one to preempt if the policy wants that. It returns
// errQueueFull or errRefused, with sb in Error, if sb may not enter.
func (s *scheduler) submit(sb *Sandbox) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.maxQueue > 0 && len(s.queued) >= s.maxQueue {
		sb.to(StateError, now)
		return errQueueFull
	}
	if !s.admitLocked(sb, now) {
		sb.to(StateError, now)
		return errRefused
	}
	sb.to(StateRunnable, now)
	if s.recording.Load() {
		s.stats.Events = append(s.stats.Events, "+"+sb.task.Route)
	}
	s.enqueueLocked(sb, sdk.Arrived, now)
	s.shedLocked(now)
	s.kickLocked(sb, now)
	return nil
}

// admitLocked applies admission control: the policy's own (sdk.Admitter)
// or, when runtime.admission is on, the core's utilisation test.
func (s *scheduler) admitLocked(sb *Sandbox, now time.Duration) bool {
	if s.admitter != nil {
		class, ok := s.admitter.Admit(sb.task, now)
		if s.faultedLocked() {
			return s.admitLocked(sb, now)
		}
		sb.task.Class = class
		return ok
	}
	if s.admission == nil {
		return true
	}
	cost := admissionCost(sb.task.Expected, sb.task.Deadline-sb.task.Arrival)
	if !s.admission.admit(cost) {
		return false
	}
	sb.cost = cost
	return true
}

// shedLocked answers 409 to the tasks the policy gives up.
func (s *scheduler) shedLocked(now time.Duration) {
	if s.shedder == nil {
		return
	}
	ids := s.shedder.Shed(now)
	if s.faultedLocked() {
		return
	}
	for _, id := range ids {
		sb, held := s.queued[id]
		if !held {
			if s.faultLocked(fmt.Errorf("shed task %d: %w", id, errUnheldTask)) {
				return
			}
			continue
		}
		delete(s.queued, id)
		s.leaveLocked(sb, sdk.Cancelled)
		sb.to(StateError, now)
		sb.wake <- shed
	}
}

// enqueueLocked gives sb to the policy.
func (s *scheduler) enqueueLocked(sb *Sandbox, why sdk.EnqueueReason, now time.Duration) {
	s.queued[sb.task.ID] = sb
	s.policy.Enqueue(sb.task, why)
	s.faultedLocked() // the fallback was given every queued task, sb too
}

// kickLocked fills idle workers, then, if arriving is still queued, asks
// the policy whether it should take a busy worker before the quantum ends.
func (s *scheduler) kickLocked(arriving *Sandbox, now time.Duration) {
	for w, cur := range s.running {
		if cur != nil {
			continue
		}
		next := s.nextLocked(sdk.WorkerID(w), now)
		if next == nil {
			break // the policy has nothing (for this worker)
		}
		s.grantLocked(sdk.WorkerID(w), next, now, -1)
	}
	if !s.preemption {
		return
	}
	if _, waiting := s.queued[arriving.task.ID]; !waiting {
		return
	}
	// Preempt the least urgent running sandbox the arrival should
	// displace. WouldPreempt is pure, so it also serves as the policy's
	// comparator between two running tasks: if cur would not preempt the
	// current victim, cur is no more urgent and becomes the victim.
	victim := -1
	var victimTask sdk.Task
	for w, cur := range s.running {
		if cur == nil {
			continue
		}
		ct := cur.taskAt(now)
		if !s.policy.WouldPreempt(sdk.WorkerID(w), ct, arriving.task) {
			continue
		}
		if victim < 0 || !s.policy.WouldPreempt(sdk.WorkerID(victim), victimTask, ct) {
			victim, victimTask = w, ct
		}
	}
	if s.faultedLocked() {
		return // answers from a failed plugin are not to be trusted
	}
	if victim >= 0 {
		s.preempt[victim].Store(true)
		s.running[victim].raise()
	}
}

// nextLocked asks the policy what worker w runs next and checks the
// answer. A request whose deadline passed before it ever ran is dropped
// here when its route says so, and the policy is asked again.
func (s *scheduler) nextLocked(w sdk.WorkerID, now time.Duration) *Sandbox {
	for {
		start := time.Now()
		id, ok := s.policy.GetNext(w, now)
		if s.metrics != nil {
			s.metrics.decisions.Observe(time.Since(start).Seconds())
		}
		if s.faultedLocked() {
			continue // ask the fallback
		}
		if !ok {
			return nil
		}
		sb, held := s.queued[id]
		if !held {
			if s.faultLocked(fmt.Errorf("GetNext(%d) = task %d: %w", w, id, errUnheldTask)) {
				continue
			}
			// A built-in never does this (the conformance suite checks);
			// treating it as "nothing to run" keeps the slot consistent.
			return nil
		}
		delete(s.queued, id)
		if !sb.started && sb.route.dropLate && now > sb.task.Deadline {
			s.leaveLocked(sb, sdk.Cancelled)
			sb.to(StateError, now)
			sb.wake <- dropped
			continue
		}
		return sb
	}
}

// grantLocked gives worker w to sb and wakes sb's goroutine. due is when
// the previous sandbox's quantum expired (for the switch-delay figure), or
// -1.
func (s *scheduler) grantLocked(w sdk.WorkerID, sb *Sandbox, now, due time.Duration) {
	s.running[w] = sb
	s.preempt[w].Store(false)
	sb.worker = w
	sb.started = true
	sb.sliceStart, sb.runStart = now, now
	sb.switchDue = due
	sb.to(StateRunning, now)
	sb.wake <- w // buffered: a sandbox is granted at most once per wait
}

// chargeLocked accounts the CPU time sb used since it last started running.
func (s *scheduler) chargeLocked(sb *Sandbox, now time.Duration) {
	used := now - sb.runStart
	sb.task.Ran += used
	sb.runStart = now
	if s.charger != nil {
		s.charger.Charge(sb.task, used, now)
		s.faultedLocked()
	}
}

// interrupt runs on sb's goroutine at a safepoint when its quantum expired
// or a preemption was asked for. It returns once sb holds a worker again
// (switched tells whether another sandbox ran meanwhile), or with
// errCancelled if sb was cancelled while it waited.
func (s *scheduler) interrupt(sb *Sandbox) (switched bool, err error) {
	if !s.decideInterrupt(sb) {
		return false, nil
	}
	return true, s.await(sb)
}

// decideInterrupt is interrupt's decision, taken under the lock (released by
// defer, so that a panic cannot leave it held); it reports whether sb gave
// its worker away.
func (s *scheduler) decideInterrupt(sb *Sandbox) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w := sb.worker
	s.preempt[w].Store(false)
	s.stats.Interrupts++
	preempt := s.policy.OnInterrupt(w, sb.taskAt(now), now)
	if s.faultedLocked() {
		preempt = s.policy.OnInterrupt(w, sb.taskAt(now), now)
	}
	if !preempt {
		sb.sliceStart = now
		return false
	}
	due := sb.sliceStart + s.quantum
	if due > now {
		due = now // asked early by WouldPreempt: the request is due now
	}
	s.chargeLocked(sb, now)
	sb.to(StatePreempted, now)
	s.running[w] = nil
	s.enqueueLocked(sb, sdk.Preempted, now)
	next := s.nextLocked(w, now)
	if next == sb { // the policy kept it: resume without a switch
		s.running[w] = sb
		sb.sliceStart = now
		sb.to(StateRunning, now)
		return false
	}
	if next != nil {
		s.grantLocked(w, next, now, due)
	}
	s.stats.Preemptions++
	if s.metrics != nil {
		s.metrics.preemptions.Inc()
	}
	sb.holding = false
	return true
}

// await parks sb's goroutine until a worker is granted or sb is killed.
// It returns nil when sb holds a worker (even if it was killed meanwhile:
// the caller checks the kill reason and finishes), errCancelled when sb
// was taken out of the queue and holds nothing, errDropped when it was
// dropped past its deadline.
func (s *scheduler) await(sb *Sandbox) error {
	select {
	case w := <-sb.wake:
		if err := verdict(w); err != nil {
			return err
		}
		sb.holding = true
		s.recordSwitch(sb)
		return nil
	case <-sb.killed:
	}
	if s.cancelQueued(sb) {
		return errCancelled
	}
	// Granted, dropped or shed just before the kill.
	if err := verdict(<-sb.wake); err != nil {
		return err
	}
	sb.holding = true
	return nil
}

// cancelQueued takes a killed sb out of the queue if the policy
// still holds it.
func (s *scheduler) cancelQueued(sb *Sandbox) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.queued[sb.task.ID]; !held {
		return false
	}
	delete(s.queued, sb.task.ID)
	s.leaveLocked(sb, sdk.Cancelled)
	sb.to(StateError, s.now())
	return true
}

// verdict maps what a sandbox received on its wake channel to an error
// when it is not a worker.
func verdict(w sdk.WorkerID) error {
	switch w {
	case dropped:
		return errDropped
	case shed:
		return errShed
	}
	return nil
}

// leaveLocked tells the policy sb left the system and returns its
// admission cost. Every path that ends an admitted request goes through
// here exactly once.
func (s *scheduler) leaveLocked(sb *Sandbox, why sdk.DequeueReason) {
	s.policy.Dequeue(sb.task.ID, why)
	s.faultedLocked()
	if sb.cost > 0 {
		s.admission.release(sb.cost)
		sb.cost = 0
	}
}

func (s *scheduler) recordSwitch(sb *Sandbox) {
	if sb.switchDue < 0 || !s.recording.Load() {
		return // not a switch after a quantum, or nobody is measuring
	}
	s.mu.Lock()
	s.stats.SwitchDelays = append(s.stats.SwitchDelays, s.now()-sb.switchDue)
	s.mu.Unlock()
}

// block runs on sb's goroutine when it enters a waiting host call: it gives
// its worker to the next sandbox. unblock makes it runnable again.
func (s *scheduler) block(sb *Sandbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.chargeLocked(sb, now)
	sb.to(StateBlocked, now)
	s.stats.Blocks++
	sb.holding = false
	s.releaseLocked(sb, now)
}

// unblock queues sb again after a waiting host call and parks until it
// holds a worker.
func (s *scheduler) unblock(sb *Sandbox) error {
	if !s.requeue(sb) {
		return errCancelled
	}
	return s.await(sb)
}

// requeue makes a blocked sb runnable again, or, if it was killed
// meanwhile, ends it (it holds no worker).
func (s *scheduler) requeue(sb *Sandbox) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if sb.state() == StateBlocked && sb.kill.Load() == killNone {
		sb.to(StateRunnable, now)
		s.enqueueLocked(sb, sdk.Woke, now)
		s.kickLocked(sb, now)
		return true
	}
	s.leaveLocked(sb, sdk.Failed) // killed while blocked: it held no worker
	sb.to(StateError, now)
	return false
}

// finish runs on sb's goroutine when its Wasm returned, trapped or was
// killed: the policy is told and the worker, if sb holds one, goes to the
// next sandbox.
func (s *scheduler) finish(sb *Sandbox, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !sb.holding { // cancelled while queued or blocked: already out
		if st := sb.state(); st != StateError {
			sb.to(StateError, now)
		}
		return
	}
	sb.holding = false
	s.chargeLocked(sb, now)
	why, st := sdk.Completed, StateReturned
	if !ok {
		why, st = sdk.Failed, StateError
	}
	sb.to(st, now)
	if s.recording.Load() {
		s.stats.Finished = append(s.stats.Finished, sb.task.Route)
		s.stats.Events = append(s.stats.Events, "-"+sb.task.Route)
	}
	s.leaveLocked(sb, why)
	s.releaseLocked(sb, now)
}

// releaseLocked frees sb's worker and hands it to the next sandbox.
func (s *scheduler) releaseLocked(sb *Sandbox, now time.Duration) {
	w := sb.worker
	s.running[w] = nil
	if next := s.nextLocked(w, now); next != nil {
		s.grantLocked(w, next, now, -1)
	}
}

// snapshot returns a copy of the counters.
func (s *scheduler) snapshot() schedStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.SwitchDelays = append([]time.Duration(nil), s.stats.SwitchDelays...)
	st.Finished = append([]string(nil), s.stats.Finished...)
	st.Events = append([]string(nil), s.stats.Events...)
	return st
}

// record turns on the recording of SwitchDelays, Finished and Events.
func (s *scheduler) record() { s.recording.Store(true) }
