package bench

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/gosledge/gosledge/core"
	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/core/dispatch"
	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/sdk"
)

// The simulator (`sledge sim`) runs a workload in virtual time through
// the dispatcher the server runs (core/dispatch) and the same policy
// code, with each request's CPU time drawn from its route's service
// model, and reports as Run does. Arrivals (times and routes) are those
// bench sends for the same seed. A run holds only its requests in flight:
// arrivals are drawn, or a trace read, one at a time.
//
// What it models of the runtime (Costs): a sandbox yields every Safepoint
// of CPU time, so a quantum's end or a raise takes effect at the next
// yield; every grant costs the worker Switch before the task runs, and a
// task's first grant also Start. Not modelled: the HTTP layer, the load
// generator, the Go scheduler and GC, CPU contention between workers (a
// simulated worker is a whole core).

// SimOptions are the parts of a simulation that do not come from the
// workload.
type SimOptions struct {
	Policies []Policy
	Duration time.Duration // replaces the workload's when > 0
	Workers  int           // replaces the workload's and the serve config's when > 0
	Seed     uint64        // replaces the workload's when > 0
	Registry *sdk.Registry // default plugins.Builtins()
	Logger   *slog.Logger  // default slog.Default()
	// Service, if set, replaces every route's service model.
	Service func(Route) *Service
}

// ErrNoService is returned for a route with no service model.
var ErrNoService = errors.New("no service model (key \"service\" of the [[route]], or --service-from)")

// Simulate runs the workload against every policy at every rate in
// virtual time and reports.
func Simulate(ctx context.Context, w *Workload, opt SimOptions) (*Report, error) {
	if len(opt.Policies) == 0 {
		return nil, errors.New("no policies to run")
	}
	if opt.Registry == nil {
		opt.Registry = plugins.Builtins()
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	wc := *w
	wc.Routes = slices.Clone(w.Routes)
	w = &wc
	if opt.Duration > 0 {
		w.Duration = opt.Duration
	}
	if opt.Seed > 0 {
		w.Seed = opt.Seed
	}
	cfg, err := w.ServeConfig()
	if err != nil {
		return nil, err
	}
	workers := cmpOr(opt.Workers, w.Workers, cfg.Runtime.Workers)
	cache := map[string]map[string][]time.Duration{}
	for i := range w.Routes {
		rt := &w.Routes[i]
		if opt.Service != nil {
			rt.Service = opt.Service(*rt)
		}
		if rt.Service == nil && w.Process != Trace {
			return nil, fmt.Errorf("%s: route %q: %w", w.File, rt.Name, ErrNoService)
		}
		if err := rt.Service.loadSamples(*rt, cache); err != nil {
			return nil, fmt.Errorf("%s: route %q: %w", w.File, rt.Name, err)
		}
	}
	for _, p := range opt.Policies {
		if !opt.Registry.Has(p.Name) && !cfg.HasPlugin(p.Name) {
			return nil, fmt.Errorf("unknown policy %q (built-ins %v, plugins of %s %v)", p.Name, opt.Registry.Names(), cfg.File, cfg.PluginNames())
		}
	}
	rep := &Report{
		Workload: w.Name, File: w.File, Config: cfg.File, Process: w.Process, Seed: w.Seed,
		Duration: w.Duration, Warmup: w.Warmup, Workers: workers, Repeats: 1, Started: time.Now(), Simulated: true,
	}
	for _, rate := range w.Rates {
		for _, p := range opt.Policies {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			// The same policy code as bench: a built-in, or a [[plugin]]
			// started for this run (a process or a Wasm module) behind
			// the same failover as in the server.
			pol, guard, stop, err := core.LaunchPolicy(ctx, cfg, p.Name, opt.Registry, opt.Logger)
			if err != nil {
				return rep, err
			}
			run, err := simulate(w, cfg, workers, p, pol, guard, rate, opt.Logger)
			if stop != nil {
				stop()
			}
			if err != nil {
				return rep, fmt.Errorf("policy %s at %g req/s: %w", p, rate, err)
			}
			rep.Runs = append(rep.Runs, run)
		}
	}
	return rep, nil
}

func cmpOr(xs ...int) int {
	for _, x := range xs {
		if x > 0 {
			return x
		}
	}
	return 0
}

// Simulated events, in time order; ties in the order they were scheduled.
type simKind uint8

const (
	evArrive   simKind = iota
	evComplete         // the task on w has run its service time
	evYield            // the task on w reaches a safepoint where it is interrupted
	evTimeout          // task id's route timeout
	evKill             // the killed task on w unwinds at its safepoint
	evPoll             // offer idle workers to a policy that holds work back
)

// maxIdlePolls is how many polls in a row may find a policy holding work
// with nothing else left to happen before the run gives up on it (the
// server polls forever; a simulation must end).
const maxIdlePolls = 10000

type simEvent struct {
	at   time.Duration
	seq  uint64
	kind simKind
	w    int
	gen  uint64 // the worker's generation when scheduled; stale if it moved on
	id   sdk.TaskID
}

type eventHeap []simEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// simTask is one simulated request in flight.
type simTask struct {
	route     int
	arrival   time.Duration
	remaining time.Duration // service time still to run
	measured  bool          // due after the warm-up
	started   bool
	killed    bool
}

// simWorker is one worker's state.
type simWorker struct {
	id        sdk.TaskID
	busy      bool
	gen       uint64
	execStart time.Duration // when the task's progress (re)starts, after the grant's costs
	slice     time.Duration // when its quantum started
}

// simRun is one policy at one rate.
type simRun struct {
	w          *Workload
	d          *dispatch.Dispatcher
	costs      Costs
	quantum    time.Duration
	preemption bool
	now        time.Duration
	seq        uint64
	events     eventHeap
	tasks      map[sdk.TaskID]*simTask
	workers    []simWorker
	acc        []accum
	est        []*estimate
	samplers   []*sampler
	lastEnd    time.Duration
	polling    bool // an evPoll is pending
	idlePolls  int  // polls in a row with no other event pending that released nothing
	// Sent counts every request, warm-up included (sent = completed +
	// refused + dropped + shed + killed at the end of a run).
	counts simCounts
}

// simCounts are a run's totals over every request, warm-up included.
type simCounts struct {
	Sent, Completed, Failed, Refused, Dropped, Shed, Killed int
}

func (r *simRun) push(e simEvent) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.events, e)
}

func simulate(w *Workload, cfg *config.Config, workers int, p Policy, pol sdk.Policy, guard *dispatch.Guard, rate float64, log *slog.Logger) (RunReport, error) {
	run := RunReport{Policy: p.String(), Rate: rate, Repeat: 1, Lag: Lag{Bound: lagBound(w.Routes)}}
	r, src, err := newSimRun(w, cfg, workers, p, pol, guard, rate, log)
	if err != nil {
		return run, err
	}
	if src.close != nil {
		defer src.close()
	}
	run.Preemption = r.preemption
	if err := r.loop(src); err != nil {
		return run, err
	}
	measured := max(w.Duration, r.lastEnd-w.Warmup)
	for i, rt := range w.Routes {
		run.Routes = append(run.Routes, r.acc[i].report(rt, measured))
	}
	if fbs := r.d.Fallbacks(); len(fbs) > 0 {
		fb := fbs[0]
		run.Fallback = &Fallback{From: fb.Plugin, To: fb.To, At: fb.At, Cause: fb.Cause.Error(), Decisions: fb.Decisions}
	}
	return run, nil
}

// source yields a run's arrivals one at a time.
type source struct {
	next  func() (arrival, bool, error)
	close func() error
}

func newSimRun(w *Workload, cfg *config.Config, workers int, p Policy, pol sdk.Policy, guard *dispatch.Guard, rate float64, log *slog.Logger) (*simRun, source, error) {
	if err := core.ConfigurePolicy(withWorkers(cfg, workers), p.Name, pol); err != nil {
		return nil, source{}, err
	}
	r := &simRun{
		w: w, costs: w.Costs, quantum: cfg.Runtime.Quantum, preemption: p.preempts(cfg.Runtime.Preemption),
		tasks: map[sdk.TaskID]*simTask{}, workers: make([]simWorker, workers), acc: make([]accum, len(w.Routes)),
	}
	d, err := dispatch.New(dispatch.Config{
		Workers: workers, Quantum: r.quantum, Preemption: r.preemption, MaxQueue: cfg.Runtime.MaxQueue,
		Admission: cfg.Runtime.Admission, Headroom: cfg.Runtime.AdmissionHeadroom, Policy: pol, Guard: guard, Log: log,
	})
	if err != nil {
		return nil, source{}, err
	}
	r.d = d
	rng := rand.New(rand.NewPCG(w.Seed, streamService))
	for _, rt := range w.Routes {
		rc := routeConfig(cfg, rt)
		r.est = append(r.est, newEstimate(rc.ExpectedExecution, rc.AdmissionPercentile))
		if rt.Service != nil {
			r.samplers = append(r.samplers, newSampler(rt.Service, rng))
		} else {
			r.samplers = append(r.samplers, nil)
		}
	}
	span := w.Warmup + w.Duration
	if w.Process == Trace {
		t, err := openTrace(w.TraceFile, w.Routes)
		if err != nil {
			return nil, source{}, err
		}
		return r, source{next: func() (arrival, bool, error) {
			a, err := t.next()
			if errors.Is(err, io.EOF) || err == nil && a.at >= span {
				return a, false, nil
			}
			return a, err == nil, err
		}, close: t.Close}, nil
	}
	weights := make([]float64, len(w.Routes))
	for i, rt := range w.Routes {
		weights[i] = rt.Weight
	}
	gaps, pick := newGaps(w.Process, rate, w.Seed), newPicker(weights, w.Seed)
	return r, source{next: func() (arrival, bool, error) {
		a := arrival{at: gaps.next()}
		if a.at >= span {
			return a, false, nil
		}
		a.route = pick.next()
		return a, true, nil
	}}, nil
}

// streamService is the random stream of service times.
const streamService = 3

// withWorkers is cfg with workers workers: the simulator runs a serve
// config at any size.
func withWorkers(cfg *config.Config, workers int) *config.Config {
	c := *cfg
	c.Runtime.Workers = workers
	return &c
}

// routeConfig is rt's route in the serve config (resolveRoutes checked
// that it is there).
func routeConfig(cfg *config.Config, rt Route) config.Route {
	for _, t := range cfg.Tenants {
		if t.Name == rt.Tenant {
			for _, r := range t.Routes {
				if r.Path == rt.Path {
					return r
				}
			}
		}
	}
	return config.Route{}
}

// loop runs the events until nothing is left.
func (r *simRun) loop(src source) error {
	var id sdk.TaskID
	pending, ok, err := src.next()
	if err != nil {
		return err
	}
	if ok {
		r.push(simEvent{at: pending.at, kind: evArrive})
	}
	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(simEvent)
		r.now = e.at
		switch e.kind {
		case evArrive:
			id++
			r.arrive(id, pending)
			if pending, ok, err = src.next(); err != nil {
				return err
			}
			if ok {
				r.push(simEvent{at: pending.at, kind: evArrive})
			}
		case evComplete, evYield, evKill:
			wk := &r.workers[e.w]
			if !wk.busy || wk.gen != e.gen {
				continue // the task moved on: a stale event
			}
			r.progress(e.w)
			switch e.kind {
			case evComplete:
				r.finish(e.w, true)
			case evKill:
				r.finish(e.w, false)
			default:
				r.interrupt(e.w)
			}
		case evTimeout:
			r.timeout(e.id)
		case evPoll:
			r.polling = false
			acts := r.d.Poll(r.now)
			if len(acts) == 0 && r.events.Len() == 0 {
				if r.idlePolls++; r.idlePolls >= maxIdlePolls {
					continue
				}
			} else {
				r.idlePolls = 0
			}
			r.take(acts)
		}
	}
	if n := r.d.InFlight(); n != 0 {
		return fmt.Errorf("%d requests still in flight after the last event (the policy holds work it never hands out)", n)
	}
	return nil
}

func (r *simRun) arrive(id sdk.TaskID, a arrival) {
	rt := r.w.Routes[a.route]
	service := a.service
	if service == 0 {
		if r.samplers[a.route] == nil {
			service = time.Millisecond // a trace line without a duration, a route without a model
		} else {
			service = r.samplers[a.route].next()
		}
	}
	t := &simTask{route: a.route, arrival: r.now, remaining: service, measured: a.at >= r.w.Warmup}
	r.tasks[id] = t
	r.counts.Sent++
	task := sdk.Task{ID: id, Tenant: rt.Tenant, Route: rt.Path, Arrival: r.now, Deadline: r.now + rt.Deadline, Expected: r.est[a.route].value()}
	if rt.Timeout > 0 {
		r.push(simEvent{at: r.now + rt.Timeout, kind: evTimeout, id: id})
	}
	r.take(r.d.Arrive(r.now, task, rt.DropLate))
}

// take carries out a dispatcher event's actions.
func (r *simRun) take(acts []dispatch.Action) {
	for _, a := range acts {
		switch a.Kind {
		case dispatch.Grant:
			r.grant(int(a.Worker), a.ID)
		case dispatch.Raise:
			wk := &r.workers[a.Worker]
			r.push(simEvent{at: r.nextYield(wk), kind: evYield, w: int(a.Worker), gen: wk.gen})
		case dispatch.Answer:
			code := http.StatusTooManyRequests
			switch a.Verdict {
			case dispatch.Dropped:
				code = http.StatusRequestTimeout
				r.counts.Dropped++
			case dispatch.Shed:
				code = http.StatusConflict
				r.counts.Shed++
			default:
				r.counts.Refused++
			}
			r.end(a.ID, code)
		}
	}
	r.armPoll()
}

// armPoll schedules a poll a quantum from now if the policy holds tasks
// while a worker is idle, as the server does (core/scheduler.go armPoll).
func (r *simRun) armPoll() {
	if r.polling || r.d.Queued() == 0 {
		return
	}
	for _, wk := range r.workers {
		if !wk.busy {
			r.polling = true
			r.push(simEvent{at: r.now + r.quantum, kind: evPoll})
			return
		}
	}
}

// nextYield is the first safepoint at or after now of the task on wk.
func (r *simRun) nextYield(wk *simWorker) time.Duration {
	if r.now <= wk.execStart {
		return wk.execStart
	}
	sp := r.costs.Safepoint
	return wk.execStart + (r.now-wk.execStart+sp-1)/sp*sp
}

func (r *simRun) grant(w int, id sdk.TaskID) {
	t := r.tasks[id]
	wk := &r.workers[w]
	wk.id, wk.busy = id, true
	wk.gen++
	cost := r.costs.Switch
	if !t.started {
		cost += r.costs.Start
		t.started = true
	}
	wk.execStart, wk.slice = r.now+cost, r.now
	r.schedule(w)
}

// schedule queues the next event of the task on w: its completion, or its
// quantum's end if that comes first.
func (r *simRun) schedule(w int) {
	wk := &r.workers[w]
	t := r.tasks[wk.id]
	done := wk.execStart + t.remaining
	if t.killed {
		r.push(simEvent{at: min(done, r.nextYield(wk)), kind: evKill, w: w, gen: wk.gen})
		return
	}
	if r.preemption {
		sp := r.costs.Safepoint
		end := wk.slice + (r.quantum+sp-1)/sp*sp
		if end < done {
			r.push(simEvent{at: end, kind: evYield, w: w, gen: wk.gen})
			return
		}
	}
	r.push(simEvent{at: done, kind: evComplete, w: w, gen: wk.gen})
}

// progress accounts the service the task on w has run up to now.
func (r *simRun) progress(w int) {
	wk := &r.workers[w]
	if r.now > wk.execStart {
		t := r.tasks[wk.id]
		t.remaining = max(t.remaining-(r.now-wk.execStart), 0)
		wk.execStart = r.now
	}
}

func (r *simRun) interrupt(w int) {
	wk := &r.workers[w]
	id := wk.id
	preempted, acts := r.d.Interrupt(r.now, sdk.WorkerID(w))
	if preempted {
		wk.busy = false
		wk.gen++
	}
	r.take(acts)
	if !preempted && wk.id == id {
		wk.gen++
		wk.slice = r.now
		r.schedule(w)
	}
}

func (r *simRun) finish(w int, ok bool) {
	wk := &r.workers[w]
	id := wk.id
	t := r.tasks[id]
	if ok {
		if task, found := r.d.Task(id, r.now); found {
			r.est[t.route].add(task.Ran)
		}
	}
	wk.busy = false
	wk.gen++
	acts := r.d.Finish(r.now, sdk.WorkerID(w), ok)
	if ok {
		r.counts.Completed++
		r.end(id, http.StatusOK)
	} else {
		r.counts.Killed++
		r.end(id, http.StatusGatewayTimeout)
	}
	r.take(acts)
}

// timeout kills task id if it is still in flight: at once if it holds no
// worker, at its next safepoint if it runs.
func (r *simRun) timeout(id sdk.TaskID) {
	t := r.tasks[id]
	if t == nil {
		return
	}
	if r.d.Cancel(r.now, id) {
		r.counts.Killed++
		r.end(id, http.StatusGatewayTimeout)
		return
	}
	t.killed = true
	for w := range r.workers {
		if wk := &r.workers[w]; wk.busy && wk.id == id {
			r.progress(w)
			wk.gen++
			r.schedule(w)
		}
	}
}

// end records task id's answer and forgets it.
func (r *simRun) end(id sdk.TaskID, code int) {
	t := r.tasks[id]
	delete(r.tasks, id)
	if !t.measured {
		return
	}
	rt := r.w.Routes[t.route]
	r.acc[t.route].record(code, r.now-t.arrival, rt.Deadline)
	r.lastEnd = max(r.lastEnd, r.now)
}

// estimate is a route's execution-time estimate as the server keeps it
// (core/estimate.go): the nearest-rank percentile of the last
// estimateWindow CPU times of successful requests, the configured value
// before the first.
type estimate struct {
	percentile int
	current    time.Duration
	samples    [estimateWindow]time.Duration
	n, next    int
	sorted     []time.Duration
}

const estimateWindow = 64

func newEstimate(initial time.Duration, percentile int) *estimate {
	return &estimate{percentile: percentile, current: initial}
}

func (e *estimate) value() time.Duration { return e.current }

func (e *estimate) add(d time.Duration) {
	e.samples[e.next] = d
	e.next = (e.next + 1) % estimateWindow
	e.n = min(e.n+1, estimateWindow)
	e.sorted = append(e.sorted[:0], e.samples[:e.n]...)
	slices.Sort(e.sorted)
	rank := (e.percentile*len(e.sorted) + 99) / 100
	e.current = e.sorted[max(rank, 1)-1]
}
