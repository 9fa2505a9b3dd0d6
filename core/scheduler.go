package core

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/sdk"
)

// scheduler is the runtime's shell over core/dispatch, which decides
// everything (admission, the queue limit, shedding, dropping late work,
// charging, preemption, failover). The shell feeds it events from the
// sandboxes' own goroutines, under one mutex and on the server clock, and
// carries its actions out: a Grant is a send on the sandbox's wake
// channel, a Raise a fuel hint, an Answer a verdict on that channel. What
// stays here is what only a real runtime has: the mutex, the clock, the
// channels, the lifecycle states and the switch-delay figures.
type scheduler struct {
	now        func() time.Duration
	quantum    time.Duration
	preemption bool
	metrics    *metrics       // nil in tests that build a scheduler alone
	onFallback func(Fallback) // told of an ejection (Server.recordFallback)

	// preempt[w] asks the sandbox on worker w to call interrupt at its
	// next safepoint, before its quantum is up (set by a Raise). Read
	// lock-free on the yield hot path.
	preempt []atomic.Bool
	// kicks are each worker's way to have the network polled when it
	// yields while every Go processor runs a sandbox (netyield.go); busy
	// is how many workers run one, as of the last event, and procs
	// GOMAXPROCS when the scheduler was made.
	kicks []*pollKick
	busy  atomic.Int32
	procs int32

	mu        sync.Mutex
	cfg       dispatch.Config // without Policy and Guard (install)
	d         *dispatch.Dispatcher
	policy    sdk.Policy              // the policy in charge: the configured one or its fallback
	guard     *pluginGuard            // while a plugin is in charge; nil for a built-in or once ejected
	sandboxes map[sdk.TaskID]*Sandbox // admitted and not yet left the dispatcher
	pollTimer *time.Timer             // armed while the policy holds work back from an idle worker
	stats     schedStats              // the shell's own; the dispatcher's are merged by snapshot
	recording atomic.Bool             // stats' slices are being filled (tests, benchmarks)
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

// schedConfig sets up a scheduler.
type schedConfig struct {
	Workers    int
	Quantum    time.Duration
	Preemption bool
	MaxQueue   int     // 0: unbounded
	Admission  bool    // the core's utilisation test, for a policy that is no sdk.Admitter
	Headroom   float64 // of the utilisation test
	Policy     sdk.Policy
	Guard      *pluginGuard // nil for a built-in
	Now        func() time.Duration
	Log        *slog.Logger
	Metrics    *metrics
	OnFallback func(Fallback)
}

func newScheduler(c schedConfig) (*scheduler, error) {
	s := &scheduler{
		now:        c.Now,
		quantum:    c.Quantum,
		preemption: c.Preemption,
		metrics:    c.Metrics,
		onFallback: c.OnFallback,
		preempt:    make([]atomic.Bool, c.Workers),
		kicks:      make([]*pollKick, c.Workers),
		sandboxes:  map[sdk.TaskID]*Sandbox{},
		cfg: dispatch.Config{
			Workers:    c.Workers,
			Quantum:    c.Quantum,
			Preemption: c.Preemption,
			MaxQueue:   c.MaxQueue,
			Admission:  c.Admission,
			Headroom:   c.Headroom,
			Log:        c.Log,
		},
	}
	s.procs = int32(runtime.GOMAXPROCS(0))
	for w := range s.kicks {
		k, err := newPollKick()
		if err != nil {
			s.close()
			return nil, err
		}
		s.kicks[w] = k
	}
	if c.Metrics != nil {
		s.cfg.Timer = decisionTimer{now: c.Now, m: c.Metrics}
	}
	if err := s.install(c.Policy, c.Guard); err != nil {
		return nil, err
	}
	return s, nil
}

// close releases the kicks' pipes; nothing may run any more.
func (s *scheduler) close() {
	for _, k := range s.kicks {
		if k != nil {
			k.close()
		}
	}
}

// install gives the scheduler a fresh dispatcher over p, guarded by g (nil
// for a built-in). Nothing may be in flight; the caller holds the lock or
// owns the scheduler alone.
func (s *scheduler) install(p sdk.Policy, g *pluginGuard) error {
	cfg := s.cfg
	cfg.Policy = p
	if g != nil {
		cfg.Guard = s.dispatchGuard(g)
	}
	d, err := dispatch.New(cfg)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	s.d, s.policy, s.guard = d, p, g
	return nil
}

// decisionTimer feeds policy_decision_seconds from the dispatcher's
// GetNext calls, on the server clock.
type decisionTimer struct {
	now func() time.Duration
	m   *metrics
}

func (t decisionTimer) Start() time.Duration { return t.now() }

func (t decisionTimer) Stop(start time.Duration) {
	t.m.decisions.Observe((t.now() - start).Seconds())
}

// apply carries out the dispatcher's actions, in order; the caller holds
// the lock.
func (s *scheduler) apply(acts []dispatch.Action, now time.Duration) {
	for _, a := range acts {
		sb := s.sandboxes[a.ID]
		switch a.Kind {
		case dispatch.Grant:
			s.preempt[a.Worker].Store(false)
			sb.worker, sb.sliceStart, sb.switchDue = a.Worker, now, a.Due
			if sb.route.cfg.CPULimit > 0 {
				t, _ := s.d.Task(a.ID, now)
				sb.ranBase, sb.runStart = t.Ran, now
			}
			sb.to(StateRunning, now)
			sb.trace.phase(phaseRun, now, int(a.Worker), false)
			sb.wake <- wakeup{worker: a.Worker} // buffered: at most one per wait
		case dispatch.Raise:
			s.preempt[a.Worker].Store(true)
			sb.raise()
		case dispatch.Answer: // dropped or shed; refusals are answered by submit
			delete(s.sandboxes, a.ID)
			sb.to(StateError, now)
			sb.trace.phase(phaseNone, now, 0, false)
			sb.wake <- wakeup{verdict: a.Verdict}
		}
	}
	s.busy.Store(int32(s.busyLocked()))
	s.armPoll()
}

// armPoll offers the idle workers to the policy again a quantum from now
// if it holds tasks and left a worker idle: a policy that holds work back
// (a budget not refilled yet, affinity) may release it as time passes,
// and no event may come to ask it. Work-conserving policies never leave
// both, so for them this is two comparisons. The caller holds the lock.
func (s *scheduler) armPoll() {
	if s.pollTimer != nil || s.d.Queued() == 0 || s.busyLocked() == len(s.preempt) {
		return
	}
	s.pollTimer = time.AfterFunc(s.quantum, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.pollTimer = nil
		now := s.now()
		s.apply(s.d.Poll(now), now)
	})
}

// submit makes a new sandbox runnable and starts it on an idle worker, or
// raises a busy one if the policy wants that. It returns errQueueFull or
// errRefused, with sb in Error, if sb may not enter.
func (s *scheduler) submit(sb *Sandbox) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	acts := s.d.Arrive(now, sb.task, sb.route.dropLate)
	if len(acts) > 0 && acts[0].Kind == dispatch.Answer && acts[0].ID == sb.task.ID {
		switch acts[0].Verdict {
		case dispatch.QueueFull:
			sb.to(StateError, now)
			return errQueueFull
		case dispatch.Refused:
			sb.to(StateError, now)
			return errRefused
		}
	}
	sb.to(StateRunnable, now)
	s.sandboxes[sb.task.ID] = sb
	if s.recording.Load() {
		s.stats.Events = append(s.stats.Events, "+"+sb.task.Route)
	}
	s.apply(acts, now)
	return nil
}

// interrupt runs on sb's goroutine at a safepoint when its quantum expired
// or a raise asked for one. It returns once sb holds a worker again
// (switched tells whether another sandbox ran meanwhile), or with the
// error of await if sb left the queue meanwhile.
func (s *scheduler) interrupt(sb *Sandbox) (switched bool, err error) {
	if !s.decideInterrupt(sb) {
		return false, nil
	}
	return true, s.await(sb)
}

// decideInterrupt is interrupt's decision, taken under the lock (released
// by defer, so that a panic cannot leave it held); it reports whether sb
// gave its worker away.
func (s *scheduler) decideInterrupt(sb *Sandbox) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.preempt[sb.worker].Store(false)
	preempted, acts := s.d.Interrupt(now, sb.worker)
	if preempted {
		sb.to(StatePreempted, now)
		sb.trace.phase(phaseQueue, now, 0, true)
		sb.holding = false
		if s.metrics != nil {
			s.metrics.preemptions.Inc()
		}
	} else {
		sb.sliceStart = now
	}
	s.apply(acts, now) // other sandboxes only: a grant to sb would have been "not preempted"
	return preempted
}

// wakeup is what a waiting sandbox receives: a worker, or the verdict
// that it leaves without one.
type wakeup struct {
	worker  sdk.WorkerID
	verdict dispatch.Verdict // 0 for a grant
}

// err is the wakeup's verdict as the sandbox's error, nil for a grant.
func (w wakeup) err() error {
	switch w.verdict {
	case dispatch.Dropped:
		return errDropped
	case dispatch.Shed:
		return errShed
	}
	return nil
}

// await parks sb's goroutine until a worker is granted or sb is killed.
// It returns nil when sb holds a worker (even if it was killed meanwhile:
// the caller checks the kill reason and finishes), errCancelled when sb
// was taken out of the queue and holds nothing, errDropped or errShed
// when the dispatcher answered it.
func (s *scheduler) await(sb *Sandbox) error {
	if len(sb.wake) == 0 { // not granted yet: it may wait long
		sb.watch()
	}
	var w wakeup
	select {
	case w = <-sb.wake:
		if w.verdict == 0 {
			sb.holding = true
			s.recordSwitch(sb)
		}
		return w.err()
	case <-sb.killed:
	}
	if s.cancel(sb) {
		return errCancelled
	}
	// Granted, dropped or shed just before the kill.
	w = <-sb.wake
	sb.holding = w.verdict == 0
	return w.err()
}

// cancel takes a killed sb out of the dispatcher if it holds no worker
// there (queued, or blocked in a host call) and reports whether it did.
func (s *scheduler) cancel(sb *Sandbox) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	id := sb.task.ID
	t, known := s.d.Task(id, now)
	if !known || !s.d.Cancel(now, id) {
		return false // running (it finishes), or already answered
	}
	sb.task = t
	delete(s.sandboxes, id)
	sb.to(StateError, now)
	sb.trace.phase(phaseNone, now, 0, false)
	return true
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
	acts := s.d.Block(now, sb.worker)
	sb.to(StateBlocked, now)
	sb.trace.phase(phaseBlocked, now, 0, false)
	sb.holding = false
	s.apply(acts, now)
}

// unblock queues sb again after a waiting host call and parks until it
// holds a worker; errCancelled if it was killed while blocked.
func (s *scheduler) unblock(sb *Sandbox) error {
	if !s.wake(sb) {
		return errCancelled
	}
	return s.await(sb)
}

// wake makes a blocked sb runnable again or, if it was killed meanwhile,
// ends it (it holds no worker).
func (s *scheduler) wake(sb *Sandbox) bool {
	if sb.kill.Load() != killNone {
		s.cancel(sb) // out of its host call: it leaves as Failed
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sb.to(StateRunnable, now)
	sb.trace.phase(phaseQueue, now, 0, false)
	s.apply(s.d.Wake(now, sb.task.ID), now)
	return true
}

// finish runs on sb's goroutine when its Wasm returned, trapped or was
// killed: the dispatcher is told and the worker, if sb holds one, goes to
// the next sandbox.
func (s *scheduler) finish(sb *Sandbox, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sb.trace.phase(phaseNone, now, 0, false)
	if !sb.holding { // cancelled or answered while waiting: already out
		if st := sb.state(); st != StateError {
			sb.to(StateError, now)
		}
		return
	}
	sb.holding = false
	sb.task, _ = s.d.Task(sb.task.ID, now) // its CPU time up to now
	acts := s.d.Finish(now, sb.worker, ok)
	delete(s.sandboxes, sb.task.ID)
	st := StateReturned
	if !ok {
		st = StateError
	}
	sb.to(st, now)
	if s.recording.Load() {
		s.stats.Finished = append(s.stats.Finished, sb.task.Route)
		s.stats.Events = append(s.stats.Events, "-"+sb.task.Route)
	}
	s.apply(acts, now)
}

// busyLocked counts the workers that run a sandbox.
func (s *scheduler) busyLocked() int {
	n := 0
	for w := range s.preempt {
		if _, ok := s.d.Running(sdk.WorkerID(w)); ok {
			n++
		}
	}
	return n
}

// snapshot returns a copy of the counters.
func (s *scheduler) snapshot() schedStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	ds := s.d.Stats()
	st.Preemptions, st.Interrupts, st.Blocks = ds.Preemptions, ds.Interrupts, ds.Blocks
	st.SwitchDelays = append([]time.Duration(nil), s.stats.SwitchDelays...)
	st.Finished = append([]string(nil), s.stats.Finished...)
	st.Events = append([]string(nil), s.stats.Events...)
	return st
}

// record turns on the recording of SwitchDelays, Finished and Events.
func (s *scheduler) record() { s.recording.Store(true) }
