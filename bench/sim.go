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
	// Nodes, when > 1, simulates a cluster: that many nodes of Workers
	// each, every one a dispatcher with its own policy instance, behind
	// each of Balancers in turn (runs are labelled POLICY@BALANCER).
	// Arrival rates are the whole cluster's.
	Nodes     int
	Balancers []Balancer // default all of Balancers
	// NodeWorkers, if set, is each node's worker count (len Nodes),
	// e.g. one node slower than the others; Workers is then the default
	// the report shows.
	NodeWorkers []int
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
	nodes := max(opt.Nodes, 1)
	if opt.NodeWorkers != nil && len(opt.NodeWorkers) != nodes {
		return nil, fmt.Errorf("%d node worker counts for %d nodes", len(opt.NodeWorkers), nodes)
	}
	balancers := []Balancer{""} // one node: no balancer
	if nodes > 1 {
		balancers = Balancers
		if len(opt.Balancers) > 0 {
			balancers = opt.Balancers
		}
	}
	rep := &Report{
		Workload: w.Name, File: w.File, Config: cfg.File, Process: w.Process, Seed: w.Seed,
		Duration: w.Duration, Warmup: w.Warmup, Workers: workers, Repeats: 1, Started: time.Now(), Simulated: true,
	}
	if nodes > 1 {
		rep.Nodes = nodes
	}
	for _, rate := range w.Rates {
		for _, p := range opt.Policies {
			for _, bal := range balancers {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				run, err := simulateLaunched(ctx, w, cfg, workers, nodes, p, bal, rate, opt)
				if err != nil {
					return rep, fmt.Errorf("policy %s at %g req/s: %w", run.Policy, rate, err)
				}
				rep.Runs = append(rep.Runs, run)
			}
		}
	}
	return rep, nil
}

// simulateLaunched runs one simulation with a policy instance per node:
// the same policy code as bench, a built-in or a [[plugin]] started for
// this run (a process or a Wasm module) behind the same failover as in
// the server.
func simulateLaunched(ctx context.Context, w *Workload, cfg *config.Config, workers, nodes int, p Policy, bal Balancer, rate float64, opt SimOptions) (RunReport, error) {
	var pols []nodePolicy
	defer func() {
		for _, np := range pols {
			if np.stop != nil {
				np.stop()
			}
		}
	}()
	for i := range nodes {
		pol, guard, stop, err := core.LaunchPolicy(ctx, cfg, p.Name, opt.Registry, opt.Logger)
		if err != nil {
			return RunReport{Policy: p.String()}, err
		}
		np := nodePolicy{pol: pol, guard: guard, stop: stop}
		if opt.NodeWorkers != nil {
			np.workers = opt.NodeWorkers[i]
		}
		pols = append(pols, np)
	}
	return simulate(w, cfg, workers, p, pols, bal, rate, opt.Logger)
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
	node int // whose worker or poll; 0 on one node
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
	node      int // the node the balancer sent it to
}

// simWorker is one worker's state.
type simWorker struct {
	id        sdk.TaskID
	busy      bool
	gen       uint64
	execStart time.Duration // when the task's progress (re)starts, after the grant's costs
	slice     time.Duration // when its quantum started
}

// simRun is one policy at one rate, on one node or on a cluster of nodes
// behind a balancer.
type simRun struct {
	w          *Workload
	costs      Costs
	quantum    time.Duration
	preemption bool
	now        time.Duration
	seq        uint64
	events     eventHeap
	tasks      map[sdk.TaskID]*simTask
	nodes      []*simNode
	bal        *balancer // nil on one node
	acc        []accum
	samplers   []*sampler
	lastEnd    time.Duration
	// Sent counts every request, warm-up included (sent = completed +
	// refused + dropped + shed + killed at the end of a run).
	counts simCounts
}

// simNode is one simulated server: its dispatcher, policy instance,
// workers and estimates, as each instance of a cluster has its own.
type simNode struct {
	r         *simRun
	idx       int
	d         *dispatch.Dispatcher
	rt        config.Runtime // of this node, for its headroom
	workers   []simWorker
	est       []*core.Estimator
	polling   bool // an evPoll is pending
	idlePolls int  // polls in a row with no other event pending that released nothing
	arrived   int  // requests the balancer sent it, warm-up included
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

// nodePolicy is one node's policy instance (guard and stop nil for a
// built-in) and its workers (0: the run's).
type nodePolicy struct {
	pol     sdk.Policy
	guard   *dispatch.Guard
	stop    func()
	workers int
}

func simulate(w *Workload, cfg *config.Config, workers int, p Policy, pols []nodePolicy, bal Balancer, rate float64, log *slog.Logger) (RunReport, error) {
	run := RunReport{Policy: p.String(), Rate: rate, Repeat: 1, Lag: Lag{Bound: lagBound(w.Routes)}}
	if bal != "" {
		run.Policy += "@" + string(bal)
	}
	r, src, err := newSimNodes(w, cfg, workers, p, pols, bal, rate, log)
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
	for _, n := range r.nodes {
		if fbs := n.d.Fallbacks(); len(fbs) > 0 {
			fb := fbs[0]
			run.Fallback = &Fallback{From: fb.Plugin, To: fb.To, At: fb.At, Cause: fb.Cause.Error(), Decisions: fb.Decisions}
			break
		}
	}
	return run, nil
}

// source yields a run's arrivals one at a time.
type source struct {
	next  func() (arrival, bool, error)
	close func() error
}

// newSimRun is a run on one node.
func newSimRun(w *Workload, cfg *config.Config, workers int, p Policy, pol sdk.Policy, guard *dispatch.Guard, rate float64, log *slog.Logger) (*simRun, source, error) {
	return newSimNodes(w, cfg, workers, p, []nodePolicy{{pol: pol, guard: guard}}, "", rate, log)
}

// newSimNodes is a run on one node per policy instance, behind bal when
// there are several.
func newSimNodes(w *Workload, cfg *config.Config, workers int, p Policy, pols []nodePolicy, bal Balancer, rate float64, log *slog.Logger) (*simRun, source, error) {
	r := &simRun{
		w: w, costs: w.Costs, quantum: cfg.Runtime.Quantum, preemption: p.preempts(cfg.Runtime.Preemption),
		tasks: map[sdk.TaskID]*simTask{}, acc: make([]accum, len(w.Routes)),
	}
	for i, np := range pols {
		workers := cmpOr(np.workers, workers)
		ncfg := withWorkers(cfg, workers)
		if err := core.ConfigurePolicy(ncfg, p.Name, np.pol); err != nil {
			return nil, source{}, err
		}
		d, err := dispatch.New(dispatch.Config{
			Workers: workers, Quantum: r.quantum, Preemption: r.preemption, MaxQueue: cfg.Runtime.MaxQueue,
			Admission: cfg.Runtime.Admission, Headroom: cfg.Runtime.AdmissionHeadroom, Policy: np.pol, Guard: np.guard, Log: log,
		})
		if err != nil {
			return nil, source{}, err
		}
		n := &simNode{r: r, idx: i, d: d, rt: ncfg.Runtime, workers: make([]simWorker, workers)}
		for _, rt := range w.Routes {
			rc := routeConfig(cfg, rt)
			n.est = append(n.est, core.NewEstimator(rc.ExpectedExecution, rc.AdmissionPercentile))
		}
		r.nodes = append(r.nodes, n)
	}
	if len(r.nodes) > 1 {
		var err error
		if r.bal, err = newBalancer(bal, len(r.nodes), w.Seed); err != nil {
			return nil, source{}, err
		}
	}
	rng := rand.New(rand.NewPCG(w.Seed, streamService))
	for _, rt := range w.Routes {
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
		n := r.nodes[e.node]
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
			wk := &n.workers[e.w]
			if !wk.busy || wk.gen != e.gen {
				continue // the task moved on: a stale event
			}
			n.progress(e.w)
			switch e.kind {
			case evComplete:
				n.finish(e.w, true)
			case evKill:
				n.finish(e.w, false)
			default:
				n.interrupt(e.w)
			}
		case evTimeout:
			r.timeout(e.id)
		case evPoll:
			n.polling = false
			acts := n.d.Poll(r.now)
			if len(acts) == 0 && r.events.Len() == 0 {
				if n.idlePolls++; n.idlePolls >= maxIdlePolls {
					continue
				}
			} else {
				n.idlePolls = 0
			}
			n.take(acts)
		}
	}
	for _, n := range r.nodes {
		if k := n.d.InFlight(); k != 0 {
			return fmt.Errorf("node %d: %d requests still in flight after the last event (the policy holds work it never hands out)", n.idx, k)
		}
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
	node := 0
	if r.bal != nil {
		var ok bool
		if node, ok = r.bal.pick(r.nodes, r.now); !ok {
			// Every node reports no headroom: HAProxy has no server
			// with a weight and answers 503 itself.
			r.counts.Refused++
			r.end(id, http.StatusServiceUnavailable)
			return
		}
	}
	t.node = node
	n := r.nodes[node]
	n.arrived++
	task := sdk.Task{ID: id, Tenant: rt.Tenant, Route: rt.Path, Arrival: r.now, Deadline: r.now + rt.Deadline, Expected: n.est[a.route].Estimate()}
	if rt.Timeout > 0 {
		r.push(simEvent{at: r.now + rt.Timeout, kind: evTimeout, id: id, node: node})
	}
	n.take(n.d.Arrive(r.now, task, rt.DropLate))
}

// take carries out a dispatcher event's actions.
func (n *simNode) take(acts []dispatch.Action) {
	r := n.r
	for _, a := range acts {
		switch a.Kind {
		case dispatch.Grant:
			n.grant(int(a.Worker), a.ID)
		case dispatch.Raise:
			wk := &n.workers[a.Worker]
			n.push(simEvent{at: r.nextYield(wk), kind: evYield, w: int(a.Worker), gen: wk.gen})
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
	n.armPoll()
}

// push queues an event of this node.
func (n *simNode) push(e simEvent) {
	e.node = n.idx
	n.r.push(e)
}

// armPoll schedules a poll a quantum from now if the policy holds tasks
// while a worker is idle, as the server does (core/scheduler.go armPoll).
func (n *simNode) armPoll() {
	if n.polling || n.d.Queued() == 0 {
		return
	}
	for _, wk := range n.workers {
		if !wk.busy {
			n.polling = true
			n.push(simEvent{at: n.r.now + n.r.quantum, kind: evPoll})
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

func (n *simNode) grant(w int, id sdk.TaskID) {
	r := n.r
	t := r.tasks[id]
	wk := &n.workers[w]
	wk.id, wk.busy = id, true
	wk.gen++
	cost := r.costs.Switch
	if !t.started {
		cost += r.costs.Start
		t.started = true
	}
	wk.execStart, wk.slice = r.now+cost, r.now
	n.schedule(w)
}

// schedule queues the next event of the task on w: its completion, or its
// quantum's end if that comes first.
func (n *simNode) schedule(w int) {
	r := n.r
	wk := &n.workers[w]
	t := r.tasks[wk.id]
	done := wk.execStart + t.remaining
	if t.killed {
		n.push(simEvent{at: min(done, r.nextYield(wk)), kind: evKill, w: w, gen: wk.gen})
		return
	}
	if r.preemption {
		sp := r.costs.Safepoint
		end := wk.slice + (r.quantum+sp-1)/sp*sp
		if end < done {
			n.push(simEvent{at: end, kind: evYield, w: w, gen: wk.gen})
			return
		}
	}
	n.push(simEvent{at: done, kind: evComplete, w: w, gen: wk.gen})
}

// progress accounts the service the task on w has run up to now.
func (n *simNode) progress(w int) {
	wk := &n.workers[w]
	if now := n.r.now; now > wk.execStart {
		t := n.r.tasks[wk.id]
		t.remaining = max(t.remaining-(now-wk.execStart), 0)
		wk.execStart = now
	}
}

func (n *simNode) interrupt(w int) {
	wk := &n.workers[w]
	id := wk.id
	preempted, acts := n.d.Interrupt(n.r.now, sdk.WorkerID(w))
	if preempted {
		wk.busy = false
		wk.gen++
	}
	n.take(acts)
	if !preempted && wk.id == id {
		wk.gen++
		wk.slice = n.r.now
		n.schedule(w)
	}
}

func (n *simNode) finish(w int, ok bool) {
	r := n.r
	wk := &n.workers[w]
	id := wk.id
	t := r.tasks[id]
	if ok {
		if task, found := n.d.Task(id, r.now); found {
			n.est[t.route].Add(task.Ran)
		}
	}
	wk.busy = false
	wk.gen++
	acts := n.d.Finish(r.now, sdk.WorkerID(w), ok)
	if ok {
		r.counts.Completed++
		r.end(id, http.StatusOK)
	} else {
		r.counts.Killed++
		r.end(id, http.StatusGatewayTimeout)
	}
	n.take(acts)
}

// timeout kills task id if it is still in flight: at once if it holds no
// worker, at its next safepoint if it runs.
func (r *simRun) timeout(id sdk.TaskID) {
	t := r.tasks[id]
	if t == nil {
		return
	}
	n := r.nodes[t.node]
	if n.d.Cancel(r.now, id) {
		r.counts.Killed++
		r.end(id, http.StatusGatewayTimeout)
		return
	}
	t.killed = true
	for w := range n.workers {
		if wk := &n.workers[w]; wk.busy && wk.id == id {
			n.progress(w)
			wk.gen++
			n.schedule(w)
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
