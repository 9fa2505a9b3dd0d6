package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/gosledge/gosledge/sdk"
)

// Kill reasons, stored in Sandbox.kill. The first one set wins.
const (
	killNone     int32 = iota
	killTimeout        // past the route's timeout
	killCanceled       // the client went away
	killShutdown       // the server stopped before it finished
	killCPULimit       // past the route's cpu_limit
)

// exitKilled is the exit code a killed sandbox unwinds with; the kill
// reason, not this code, decides the response, so a guest exiting with the
// same code is not mistaken for a kill.
const exitKilled = 0xdead

// Yield pacing. fuel is recalibrated at every yield so that safepoint
// yields come about every yieldInterval whatever the guest's loop bodies
// cost. goschedInterval hands the Go scheduler a turn: Go cannot preempt
// Wasm, and a GC stop-the-world waits until every sandbox enters Go.
const (
	yieldInterval   = 20 * time.Microsecond
	goschedInterval = 200 * time.Microsecond
	minFuel         = 16
	maxFuel         = 1 << 24
	maxFuelGrowth   = 8
)

var (
	errCancelled = errors.New("sandbox cancelled while waiting for a worker")
	errDropped   = errors.New("deadline passed before the request could start")
	errQueueFull = errors.New("queue full")
	errRefused   = errors.New("refused by admission control")
	errShed      = errors.New("shed by the policy to save guaranteed work")

	errKilledTimeout  = errors.New("killed past the route's timeout")
	errKilledShutdown = errors.New("killed: the server shut down")
	errKilledCanceled = errors.New("killed: the client went away")
	errKilledCPULimit = errors.New("killed past the route's CPU limit")
)

// Sandbox is one request's execution: its task as the policy sees it, its
// lifecycle clock, and the goroutine (the caller of run) that executes it.
// Fields marked "lock" are guarded by the scheduler mutex; the others
// belong to the sandbox's own goroutine unless stated.
type Sandbox struct {
	route *route
	body  []byte
	args  []string
	// A WAGI route's whole argv and environment (KEY=value), set
	// by the listener (wagi.go); nil for a plain route.
	wagiArgv, wagiEnv []string

	// task is what the dispatcher was given on arrival; its Ran and Class
	// are the dispatcher's (copied back when the sandbox leaves it).
	task       sdk.Task      // lock
	clock      StateClock    // lock
	worker     sdk.WorkerID  // lock; read by own goroutine after a grant
	sliceStart time.Duration // lock; read by own goroutine: start of the current quantum
	switchDue  time.Duration // lock: the Due of its last grant (switch delay), or -1
	preempted  int           // own goroutine: times it gave its worker away
	holding    bool          // own goroutine: it holds a worker now

	// ranBase and runStart, set at a grant of a route with a cpu_limit,
	// are its charged CPU time then and the grant's time: yield adds the
	// current stretch without the lock. Both lock; read by own goroutine
	// after a grant.
	ranBase, runStart time.Duration
	trace             *requestTrace // its phases, if it is traced (tracing.go); lock

	wake   chan wakeup   // a worker grant, or the verdict that it leaves without one
	kill   atomic.Int32  // kill reason; any goroutine
	killed chan struct{} // closed when kill is first set
	once   sync.Once

	yields      int // own goroutine: calls into yield
	fuel        int32
	lastYield   time.Duration
	lastGosched time.Duration

	fuelMu     sync.Mutex
	fuelGlobal api.MutableGlobal // the instance's fuel, once its first yield found it
	raised     atomic.Bool       // a raise cut the current stretch short: do not calibrate on it

	stdout limitedBuffer
	stderr limitedBuffer
	memory memoryLease // its linear memory, from the engine's pool
	// verdict is why the scheduler ended it while it waited to resume
	// (errShed, errDropped); own goroutine.
	verdict error
	// answerFirst: the caller of run answers the request before the
	// pooled instance is restored, and then calls recycleInstance (the
	// listener does: the restore is not on the response's path).
	// recycle restores it and gives it back to its pool; own goroutine.
	answerFirst bool
	recycle     func()

	// The request's context (set by run, before anything can call
	// watch), and what watch armed on it and on the route's timeout: nil
	// until then. Own goroutine.
	ctx        context.Context
	timeout    *time.Timer
	stopCancel func() bool
}

// watch arms the sandbox's timeout, counted from its arrival, and its
// client's cancellation, once. It is lazy because two timers per request
// were a tenth of an echo's own cost (time.AfterFunc and context.AfterFunc,
// in a profile) and most requests end before either could matter: only a
// sandbox that waits or runs on needs them, so every place where one can
// spend long calls watch first. Those are a wait for a worker (await), a
// sleep, a yield (every yieldInterval of guest code) and an
// instantiation; everything else a sandbox does is bounded host code.
// Own goroutine.
func (sb *Sandbox) watch() {
	if sb.timeout != nil {
		return // armed already
	}
	left := sb.route.cfg.Timeout - (sb.route.srv.now() - sb.task.Arrival)
	sb.timeout = time.AfterFunc(max(left, 0), func() { sb.Kill(killTimeout) })
	sb.stopCancel = context.AfterFunc(sb.ctx, func() { sb.Kill(killCanceled) })
}

// unwatch disarms what watch armed, once run is over.
func (sb *Sandbox) unwatch() {
	if sb.timeout != nil {
		sb.timeout.Stop()
		sb.stopCancel()
	}
}

// recycleInstance restores the pooled instance sb ran on, if it is still
// to be, and gives it back to its pool.
func (sb *Sandbox) recycleInstance() {
	if f := sb.recycle; f != nil {
		sb.recycle = nil
		f()
	}
}

// Result is how a request ended, below HTTP: the listener alone maps it
// to a status code (httpStatus), and metrics, the perf log and the logs
// observe it.
type Result uint8

const (
	ResultOK          Result = iota // returned, or exited 0
	ResultTrapped                   // the guest trapped
	ResultExited                    // the guest exited non-zero
	ResultTimeout                   // killed past its route's timeout
	ResultShutdown                  // killed: the server stopped before it finished
	ResultCancelled                 // the client went away
	ResultRefused                   // admission control said no
	ResultQueueFull                 // the queue was at runtime.max_queue
	ResultDropped                   // its deadline passed before it could start
	ResultShed                      // the policy gave it up to save guaranteed work
	ResultInternal                  // a bug in the core or wazero (a recovered panic)
	ResultCPULimit                  // killed past its route's cpu_limit
	ResultCapped                    // its tenant or route had max_concurrency requests in flight
	ResultBadResponse               // a WAGI function's CGI header block was malformed
	numResults
)

var resultNames = [numResults]string{
	"ok", "trapped", "exited", "timeout", "shutdown", "cancelled",
	"refused", "queue full", "dropped", "shed", "internal",
	"cpu limit", "concurrency limit", "bad response",
}

func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// Outcome is how a sandbox ended.
type Outcome struct {
	Result   Result
	Body     []byte // response body (stdout, or a short error text)
	ExitCode uint32
	Err      error // the trap or kill, if any
}

// answered is the outcome of a request the scheduler answered without
// running it to the end: err's text is the body.
func answered(res Result, err error) Outcome {
	return Outcome{Result: res, Body: []byte(err.Error() + "\n"), Err: err}
}

type sandboxKey struct{}

func newSandbox(r *route, id sdk.TaskID, now time.Duration, body []byte, args []string) *Sandbox {
	sb := &Sandbox{
		route: r,
		body:  body,
		args:  args,
		task: sdk.Task{
			ID:       id,
			Tenant:   r.tenant,
			Route:    r.cfg.Path,
			Arrival:  now,
			Deadline: now + r.cfg.RelativeDeadline,
			Expected: r.estimate.Estimate(),
		},
		clock:  NewStateClock(now),
		fuel:   initialFuel,
		wake:   make(chan wakeup, 1),
		killed: make(chan struct{}),
	}
	r.srv.states[StateInitialized].Add(1)
	sb.stdout.limit = int(r.cfg.MemoryLimit)
	sb.stderr.limit = 4 << 10
	return sb
}

// to moves the lifecycle clock. An illegal move can only be a core bug
// (the transition table is tested exhaustively and every call site
// follows it), so it panics rather than serve on with a corrupt lifecycle.
// Caller holds the lock.
func (sb *Sandbox) to(s State, now time.Duration) {
	from := sb.clock.State()
	if err := sb.clock.To(s, now); err != nil {
		panic(fmt.Sprintf("sandbox %d (%s): %v", sb.task.ID, sb.route.name, err))
	}
	states := &sb.route.srv.states
	states[from].Add(-1)
	states[s].Add(1)
}

func (sb *Sandbox) state() State { return sb.clock.State() }

// Kill asks the sandbox to stop with reason; it takes effect at its next
// safepoint, or at once if it is waiting for a worker.
func (sb *Sandbox) Kill(reason int32) {
	if sb.kill.CompareAndSwap(killNone, reason) {
		sb.once.Do(func() { close(sb.killed) })
		sb.raise()
	}
}

// raise empties the instance's fuel so that its next safepoint yields
// now rather than at the end of its fuel: a hint for prompt kills and
// preemptions. The guest may overwrite it with its own decrement; then the
// yield comes with the next fuel, within about yieldInterval.
func (sb *Sandbox) raise() {
	sb.fuelMu.Lock()
	if sb.fuelGlobal != nil {
		sb.fuelGlobal.Set(0)
		sb.raised.Store(true)
	}
	sb.fuelMu.Unlock()
}

// forgetFuel drops the fuel global once the guest call has returned: no
// raise may touch an instance that is closed, or that another request may
// get (a pooled one).
func (sb *Sandbox) forgetFuel() {
	sb.fuelMu.Lock()
	sb.fuelGlobal = nil
	sb.fuelMu.Unlock()
}

// findFuel remembers the instance's fuel global at its first yield.
func (sb *Sandbox) findFuel(mod api.Module) {
	sb.fuelMu.Lock()
	if sb.fuelGlobal == nil {
		sb.fuelGlobal, _ = mod.ExportedGlobal(fuelExport).(api.MutableGlobal)
	}
	sb.fuelMu.Unlock()
}

// run executes the sandbox on the calling goroutine: wait for a worker,
// run the request on a pooled instance or a fresh one, release the worker.
func (sb *Sandbox) run(ctx context.Context, srv *Server) (out Outcome) {
	s := srv.sched
	sb.ctx = ctx
	defer sb.unwatch()

	switch err := s.submit(sb); {
	case errors.Is(err, errQueueFull):
		return answered(ResultQueueFull, err)
	case err != nil:
		return answered(ResultRefused, err)
	}
	if err := s.await(sb); err != nil {
		if out, ok := verdictOutcome(err); ok {
			return out
		}
		return sb.killedOutcome(err)
	}
	ok := false
	defer func() {
		// A panic here is a bug (in wazero or the core): the request
		// still gets its one answer and the worker is released.
		if r := recover(); r != nil {
			srv.log.Error("sandbox panicked", "id", sb.task.ID, "route", sb.route.name, "panic", r)
			out, ok = Outcome{Result: ResultInternal, Body: []byte("internal error\n"), Err: fmt.Errorf("panic: %v", r)}, false
		}
		s.finish(sb, ok)
		if ok {
			sb.route.estimate.Add(sb.task.Ran)
		}
	}()
	if sb.kill.Load() != killNone {
		return sb.killedOutcome(errCancelled)
	}
	if r := sb.route.pool; r != nil && r.serves() {
		out = r.serve(ctx, sb) // instancepool.go
		ok = out.Result == ResultOK
		return out
	}
	// Argv and environment come from sb at each call (wasiargs.go).
	cfg := sb.route.moduleConfig.
		WithStdin(bytes.NewReader(sb.body)).
		WithStdout(&sb.stdout).
		WithStderr(&sb.stderr).
		WithNanosleep(func(ns int64) { sb.sleep(srv, time.Duration(ns)) })
	ctx = context.WithValue(ctx, sandboxKey{}, sb)
	sb.watch() // instantiation takes long for a big module
	if pool := srv.engine.mem; pool != nil {
		sb.memory.pool = pool
		ctx = experimental.WithMemoryAllocator(ctx, &sb.memory)
		defer sb.memory.release() // after Close below, or after a failed instantiation
	}
	// The clock starts now, at the first instruction of the guest's
	// stretch; instantiation counted in the first stretch made the first
	// calibration think the guest slow, and fuel never recovered.
	now := s.now()
	sb.lastYield, sb.lastGosched = now, now
	mod, err := srv.engine.rt.InstantiateModule(ctx, sb.route.module, cfg)
	if err == nil {
		sb.lastYield = s.now()
		_, err = mod.ExportedFunction("_start").Call(ctx)
		sb.forgetFuel()
		mod.Close(ctx)
	}
	out = sb.outcome(err)
	ok = out.Result == ResultOK
	return out
}

// verdictOutcome is the answer to a sandbox the scheduler ended while it
// waited for a worker (before it started, or to resume): dropped or shed.
func verdictOutcome(err error) (Outcome, bool) {
	switch {
	case errors.Is(err, errDropped):
		return answered(ResultDropped, err), true
	case errors.Is(err, errShed):
		return answered(ResultShed, err), true
	}
	return Outcome{}, false
}

// outcome maps the error of _start to the request's result.
func (sb *Sandbox) outcome(err error) Outcome {
	if r := sb.kill.Load(); r != killNone {
		return sb.killedOutcome(err)
	}
	// A sandbox that had run and was then shed (or dropped) while it
	// waited for a worker again unwinds with the kill's exit code; its
	// answer is the verdict.
	if out, ok := verdictOutcome(sb.verdict); ok {
		return out
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
		return Outcome{Result: ResultOK, Body: sb.stdout.Bytes()}
	case errors.As(err, &exit) && exit.ExitCode() == 0:
		return Outcome{Result: ResultOK, Body: sb.stdout.Bytes()}
	case errors.As(err, &exit):
		return Outcome{Result: ResultExited, Body: []byte(fmt.Sprintf("function exited with status %d\n", exit.ExitCode())), ExitCode: exit.ExitCode(), Err: err}
	default:
		return Outcome{Result: ResultTrapped, Body: []byte("function trapped: " + firstLine(err.Error()) + "\n"), Err: err}
	}
}

// killedOutcome is the answer to a killed sandbox. Its Err says why it was
// killed, not how it unwound (the exit code of a kill means nothing to an
// operator reading the log).
func (sb *Sandbox) killedOutcome(error) Outcome {
	switch sb.kill.Load() {
	case killTimeout:
		return Outcome{Result: ResultTimeout, Body: []byte(fmt.Sprintf("function killed after its %s timeout\n", sb.route.cfg.Timeout)),
			Err: fmt.Errorf("%w (%s)", errKilledTimeout, sb.route.cfg.Timeout)}
	case killCPULimit:
		return Outcome{Result: ResultCPULimit, Body: []byte(fmt.Sprintf("function killed past its %s CPU limit\n", sb.route.cfg.CPULimit)),
			Err: fmt.Errorf("%w (%s)", errKilledCPULimit, sb.route.cfg.CPULimit)}
	case killShutdown:
		return Outcome{Result: ResultShutdown, Body: []byte("killed: the server shut down before the function finished\n"), Err: errKilledShutdown}
	default: // the client went away; nobody reads this
		return Outcome{Result: ResultCancelled, Body: []byte("request cancelled\n"), Err: errKilledCanceled}
	}
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// yield is the host function behind every safepoint: the instrumented
// guest calls it when its fuel runs out (or a raise emptied it). It kills,
// preempts, hands the Go scheduler a turn, and returns the next fuel.
func yield(ctx context.Context, mod api.Module, stack []uint64) {
	sb, ok := ctx.Value(sandboxKey{}).(*Sandbox)
	if !ok {
		initYield(ctx, stack) // a reactor's _initialize, at load
		return
	}
	s := sb.route.srv.sched
	if sb.yields == 0 {
		sb.findFuel(mod)
		sb.watch() // it runs on: past its first stretch of fuel
	}
	sb.yields++
	if sb.kill.Load() != killNone {
		panic(sys.NewExitError(exitKilled))
	}
	now := s.now()
	if lim := sb.route.cfg.CPULimit; lim > 0 && sb.ranBase+now-sb.runStart >= lim {
		sb.Kill(killCPULimit) // a timeout or cancel set first wins
		panic(sys.NewExitError(exitKilled))
	}
	calibrate := true
	if s.preemption && (s.preempt[sb.worker].Load() || now-sb.sliceStart >= s.quantum) {
		switched, err := s.interrupt(sb)
		if err != nil {
			sb.verdict = err // shed or dropped while it waited: its answer, not an exit
		}
		if err != nil || sb.kill.Load() != killNone {
			panic(sys.NewExitError(exitKilled))
		}
		if switched {
			sb.preempted++
			calibrate = false
			now = s.now()
			sb.lastGosched = now // it was parked: Go had its turn
		}
	}
	if now-sb.lastGosched >= goschedInterval {
		if s.busy.Load() >= s.procs {
			s.kicks[sb.worker].yield() // no processor is left to poll the network
		} else {
			runtime.Gosched() // an idle processor sits in the poller
		}
		calibrate = false
		now = s.now()
		sb.lastGosched = now
	}
	// Calibrate only on a full stretch of fuel: a raise cut this one short.
	if sb.raised.Swap(false) {
		calibrate = false
	}
	if calibrate {
		sb.fuel = nextFuel(sb.fuel, now-sb.lastYield)
	}
	sb.lastYield = now
	stack[0] = uint64(sb.fuel)
}

// nextFuel scales fuel so that the next stretch lasts about yieldInterval,
// given that the last stretch of fuel safepoints took elapsed. Growth is
// at most maxFuelGrowth per yield, so one stretch measured too short (a
// coarse clock, a cache-hot burst) cannot make the next one unbounded,
// and a stretch of any length, however short, is a measurement: fuel that
// fell too low always climbs back.
func nextFuel(fuel int32, elapsed time.Duration) int32 {
	f := int64(fuel) * maxFuelGrowth
	if elapsed > 0 {
		f = min(f, int64(fuel)*int64(yieldInterval)/int64(elapsed))
	}
	return int32(min(max(f, minFuel), maxFuel))
}

// sleep implements WASI's clock-based poll_oneoff: the sandbox gives up its
// worker while it waits, so a sleeping function costs nothing.
func (sb *Sandbox) sleep(srv *Server, d time.Duration) {
	s := srv.sched
	sb.watch()
	s.block(sb)
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-sb.killed:
		t.Stop()
	}
	if err := s.unblock(sb); err != nil {
		sb.verdict = err
		panic(sys.NewExitError(exitKilled))
	}
	now := s.now()
	sb.lastYield, sb.lastGosched = now, now
	if sb.kill.Load() != killNone {
		panic(sys.NewExitError(exitKilled))
	}
}

// limitedBuffer collects a guest's output up to limit bytes; past it,
// writes fail, so a guest that floods stdout gets an I/O error instead of
// exhausting the server's memory.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

var errOutputLimit = errors.New("output limit reached")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errOutputLimit
	}
	return b.Buffer.Write(p)
}
