package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gosledge/gosledge/core"
	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/sdk"
)

// Options are the parts of a bench run that do not come from the workload.
type Options struct {
	// Policies are run one after another, in order; at least one.
	Policies []Policy
	// Duration, when > 0, replaces the workload's duration.
	Duration time.Duration
	// Registry resolves policy names; default plugins.Builtins(). A name
	// may also be a [[plugin]] of the serve config.
	Registry *sdk.Registry
	// Logger gets a line per run; the servers log to it at warning level
	// and above only. Default slog.Default().
	Logger *slog.Logger
	// Progress gets a progress bar when it is a terminal; nil for none.
	Progress io.Writer
	// Repeat runs every policy this many times at each rate, interleaved
	// (A, B, A, B, ...) so that a drift of the machine's load spreads over
	// every policy alike; the report adds each figure's median and range
	// over the repeats (Report.Summaries). 0 means 1.
	Repeat int
	// PerfLogDir, if set, is a directory where every run's server writes
	// its perf log, POLICY-RATE-REPEAT.csv (for `sledge sim
	// --service-from`).
	PerfLogDir string
	// Strict fails a run whose policy fell back (a plugin failed and
	// runtime.plugin_fallback ran the rest): Run still runs and reports
	// everything, then returns an error wrapping ErrFellBack. nil means
	// strict for plugin policies, the only ones that can fall back.
	Strict *bool
	// Targets, if set, sends the workload to servers already running
	// instead of starting one per run: tenant → base URL
	// ("http://host:port"), "" for every tenant not listed. Policies are
	// then only labels for the runs (the targets' configs choose their
	// policies), and nothing reports a fallback (ParseTargets).
	Targets map[string]string
}

// ParseTargets parses --target: "URL" for every tenant, or
// "TENANT=URL,..." (an entry without "TENANT=" is the default).
func ParseTargets(s string) (map[string]string, error) {
	out := map[string]string{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		tenant, u, found := strings.Cut(entry, "=")
		if !found {
			tenant, u = "", entry
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("target %q: want http://host:port or TENANT=http://host:port", entry)
		}
		if _, dup := out[tenant]; dup {
			return nil, fmt.Errorf("target %q: tenant %q given twice", entry, tenant)
		}
		out[tenant] = strings.TrimRight(u, "/")
	}
	return out, nil
}

// target is the base URL tenant's requests go to, or "" if none fits.
func (o Options) target(tenant string) string {
	if u, ok := o.Targets[tenant]; ok {
		return u
	}
	return o.Targets[""]
}

// serverDrain bounds how long a server may take to stop after its run:
// by then every request was answered or given up by the client.
const serverDrain = time.Second

// Run runs the workload against every policy at every rate, one after
// another on a fresh server each, and reports. Every policy name is
// checked, and every plugin policy started once, before anything runs. If
// ctx is cancelled or a run fails, Run returns the runs completed so far
// with the error. A strict run whose policy fell back does not stop the
// others: Run returns the whole report and an error wrapping ErrFellBack.
func Run(ctx context.Context, w *Workload, opt Options) (*Report, error) {
	if len(opt.Policies) == 0 {
		return nil, errors.New("no policies to run")
	}
	if opt.Registry == nil {
		opt.Registry = plugins.Builtins()
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Repeat < 0 {
		return nil, fmt.Errorf("repeat: must not be negative, got %d", opt.Repeat)
	}
	opt.Repeat = max(opt.Repeat, 1)
	if len(w.Rates) == 0 || len(w.Routes) == 0 {
		return nil, fmt.Errorf("%s: no rate or no route", w.File)
	}
	if opt.Duration > 0 {
		wc := *w
		wc.Duration = opt.Duration
		w = &wc
	}
	cfg, err := w.ServeConfig()
	if err != nil {
		return nil, err
	}
	var plugins []string // plugin policies under test, in order
	for _, p := range opt.Policies {
		switch {
		case opt.Targets != nil: // a label, nothing to resolve
		case opt.Registry.Has(p.Name):
		case cfg.HasPlugin(p.Name):
			if !slices.Contains(plugins, p.Name) {
				plugins = append(plugins, p.Name)
			}
		default:
			return nil, fmt.Errorf("unknown policy %q (have %s)", p.Name, strings.Join(opt.Registry.Names(), ", "))
		}
	}
	if span := (w.Warmup + w.Duration).Seconds(); slices.Max(w.Rates)*span > maxHits {
		return nil, fmt.Errorf("%s: %g req/s for %s is more than %d requests a run", w.File, slices.Max(w.Rates), w.Warmup+w.Duration, maxHits)
	}
	workers := cfg.Runtime.Workers
	if w.Workers > 0 {
		workers = w.Workers
	}
	serverLog := slog.New(minLevel{opt.Logger.Handler(), slog.LevelWarn})
	// A plugin that cannot start fails now, not after the runs before it.
	for _, name := range plugins {
		if _, err := core.ProbePlugin(ctx, cfg, name, serverLog); err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
	}
	rep := &Report{
		Workload: w.Name, File: w.File, Config: cfg.File, Process: w.Process, Seed: w.Seed,
		Duration: w.Duration, Warmup: w.Warmup, Workers: workers, Repeats: opt.Repeat, Started: time.Now(),
		Targets: opt.Targets,
	}
	r := &runner{w: w, opt: opt, bar: newProgress(opt.Progress), serverLog: serverLog,
		lagBound: lagBound(w.Routes), total: len(w.Rates) * opt.Repeat * len(opt.Policies)}
	defer r.bar.clear()
	var failed []error
	for _, rate := range w.Rates {
		for n := 1; n <= opt.Repeat; n++ {
			for _, p := range opt.Policies {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				run, err := r.one(ctx, p, rate, n)
				if err != nil {
					return rep, fmt.Errorf("policy %s at %g req/s: %w", p, rate, err)
				}
				if run.Fallback != nil && r.strict(p) {
					err := rep.failure(run)
					run.Failed = err.Error()
					failed = append(failed, err)
				}
				rep.Runs = append(rep.Runs, run)
			}
		}
	}
	return rep, errors.Join(failed...)
}

// strict reports whether a fallback fails p's runs (Options.Strict).
func (r *runner) strict(p Policy) bool {
	if r.opt.Strict != nil {
		return *r.opt.Strict
	}
	return !r.opt.Registry.Has(p.Name)
}

type runner struct {
	w         *Workload
	opt       Options
	bar       *progress
	serverLog *slog.Logger
	lagBound  time.Duration
	total     int // runs
	done      int
}

// one runs the workload at rate on a fresh server with policy p, for the
// n-th time.
func (r *runner) one(ctx context.Context, p Policy, rate float64, n int) (RunReport, error) {
	w := r.w
	run := RunReport{Policy: p.String(), Rate: rate, Repeat: n}
	base := r.opt.target
	var srv *core.Server
	if r.opt.Targets == nil {
		var stop func()
		var err error
		if srv, stop, err = r.serve(ctx, p, rate, n, &run); err != nil {
			return run, err
		}
		defer stop()
		base = func(tenant string) string { return "http://" + srv.Addr(tenant) }
	}

	targets := make([]vegeta.Target, len(w.Routes))
	weights := make([]float64, len(w.Routes))
	for i, rt := range w.Routes {
		u := base(rt.Tenant)
		if u == "" {
			return run, fmt.Errorf("route %s: no target for tenant %q", rt.Name, rt.Tenant)
		}
		// The fragment is not sent; it tells which route a result is
		// for, even when two routes share a URL.
		targets[i] = vegeta.Target{Method: http.MethodPost, URL: u + rt.Path + "#" + strconv.Itoa(i), Body: []byte(rt.Body)}
		weights[i] = rt.Weight
	}
	return r.attack(ctx, p, rate, n, run, srv, targets, weights)
}

// serve starts the server of run (policy p, the n-th time at rate); stop
// drains it.
func (r *runner) serve(ctx context.Context, p Policy, rate float64, n int, run *RunReport) (srv *core.Server, stop func(), err error) {
	w := r.w
	cfg, err := w.ServeConfig()
	if err != nil {
		return nil, nil, err
	}
	cfg.Runtime.Policy = p.Name
	cfg.Runtime.Preemption = p.preempts(cfg.Runtime.Preemption)
	run.Preemption = cfg.Runtime.Preemption
	if w.Workers > 0 {
		cfg.Runtime.Workers = w.Workers
	}
	cfg.Runtime.Listen = "127.0.0.1"
	cfg.Runtime.DrainTimeout = serverDrain
	cfg.Runtime.Metrics, cfg.Runtime.PerfLog = "", "" // one per run would clash
	if r.opt.PerfLogDir != "" {
		if err := os.MkdirAll(r.opt.PerfLogDir, 0o755); err != nil {
			return nil, nil, err
		}
		cfg.Runtime.PerfLog = filepath.Join(r.opt.PerfLogDir, fmt.Sprintf("%s-%s-%d.csv", slug(p.String()), fmtRate(rate), n))
	}
	for i := range cfg.Tenants {
		cfg.Tenants[i].Port = 0
	}
	srv, err = core.New(ctx, cfg, core.Options{Logger: r.serverLog, Policies: r.opt.Registry})
	if err != nil {
		return nil, nil, err
	}
	srvCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Run(srvCtx) }()
	return srv, func() {
		stopServer()
		if err := <-served; err != nil {
			r.opt.Logger.Warn("server", "policy", p.String(), "err", err)
		}
	}, nil
}

// attack sends the workload through targets and reports it in run.
func (r *runner) attack(ctx context.Context, p Policy, rate float64, n int, run RunReport, srv *core.Server,
	targets []vegeta.Target, weights []float64) (RunReport, error) {
	w := r.w
	var err error
	span := w.Warmup + w.Duration
	var sched *schedule
	var mix *mix
	if w.Process == Trace {
		sched, mix, err = traceSchedule(w, targets, span)
		if err != nil {
			return run, err
		}
	} else {
		sched = newSchedule(w.Process, rate, span, w.Seed)
		mix = newMix(targets, weights, sched.len(), w.Seed)
	}
	if sched.len() == 0 {
		return run, fmt.Errorf("%g req/s for %s sends no request", rate, span)
	}

	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: vegeta.DefaultConnections,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: w.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.MaxBody(0))

	r.done++
	label := fmt.Sprintf("[%d/%d] %s at %g req/s", r.done, r.total, p, rate)
	if r.opt.Repeat > 1 {
		label += fmt.Sprintf(", repeat %d/%d", n, r.opt.Repeat)
	}
	r.bar.clear() // before logging on the same terminal
	r.opt.Logger.Info("bench run", "run", r.done, "of", r.total, "policy", p.String(), "rate", rate, "repeat", n, "requests", sched.len())
	began := time.Now()

	attacking := make(chan struct{})
	defer close(attacking)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-attacking:
		}
	}()
	results := atk.Attack(mix.target, sched, 0, w.Name)

	acc := make([]accum, len(w.Routes))
	var lags []time.Duration // of the measured requests
	var tick <-chan time.Time
	if r.bar.on {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	var start, lastEnd time.Time // of the attack; of the last measured answer
	var badResult error
	got := 0
	for results != nil {
		select {
		case res, ok := <-results:
			if !ok {
				results = nil
				break
			}
			got++
			i, err := strconv.Atoi(res.URL[strings.LastIndexByte(res.URL, '#')+1:])
			if err != nil || i < 0 || i >= len(acc) {
				if badResult == nil { // keep draining: vegeta's workers wait on us
					badResult = fmt.Errorf("result for unknown target %q: %s", res.URL, res.Error)
					atk.Stop()
				}
				continue
			}
			// Seq numbers hits in the order workers took them, which
			// is the schedule's order up to hits due at nearly the
			// same instant.
			due := sched.due(res.Seq)
			if due < w.Warmup {
				continue
			}
			if start.IsZero() {
				start = sched.start()
			}
			lags = append(lags, max(res.Timestamp.Sub(start.Add(due)), 0))
			end := res.End()
			if end.After(lastEnd) {
				lastEnd = end
			}
			acc[i].add(res, end.Sub(start.Add(due)), w.Routes[i].Deadline)
		case <-tick:
			r.bar.draw(label, time.Since(began), span, got, sched.len())
		}
	}
	r.bar.clear()
	if err := ctx.Err(); err != nil {
		return run, err
	}
	if badResult != nil {
		return run, badResult
	}
	// Throughput counts from the start of the measured time to the last
	// answer: when the server falls behind, answers trail the schedule.
	measured := w.Duration
	if !start.IsZero() {
		measured = max(measured, lastEnd.Sub(start.Add(w.Warmup)))
	}
	run.Lag = lagOf(lags, r.lagBound)
	if run.Lag.Over() {
		r.opt.Logger.Warn("the load generator lagged behind its schedule: arrivals were burstier than the workload's",
			"policy", p.String(), "rate", rate, "lag_p99", run.Lag.P99, "bound", run.Lag.Bound)
	}
	if fbs := fallbacksOf(srv); len(fbs) > 0 {
		// The attack's start; began if no hit was ever paced.
		run.Fallback = newFallback(fbs[0], cmp.Or(sched.start(), began))
		r.opt.Logger.Warn("the policy under test fell back", "policy", p.String(), "rate", rate,
			"fallback", run.Fallback.To, "at", run.Fallback.At, "cause", run.Fallback.Cause)
	}
	for i, rt := range w.Routes {
		run.Routes = append(run.Routes, acc[i].report(rt, measured))
		if acc[i].other > 0 {
			r.opt.Logger.Warn("requests without an answer or with an unexpected status",
				"policy", p.String(), "route", rt.Name, "count", acc[i].other, "first", acc[i].firstOther)
		}
	}
	r.opt.Logger.Info("bench run done", "policy", p.String(), "rate", rate, "elapsed", time.Since(began).Round(time.Millisecond))
	return run, nil
}

// accum counts one route's measured results.
type accum struct {
	sent, ok, refused, dropped, serverErr, other, misses int
	latencies                                            latencies // of the 200s
	firstOther                                           string
}

func (a *accum) add(res *vegeta.Result, latency, deadline time.Duration) {
	first := a.other == 0
	a.record(int(res.Code), latency, deadline)
	if first && a.other > 0 {
		a.firstOther = res.Error
		if res.Code != 0 {
			a.firstOther = strconv.Itoa(int(res.Code)) + " " + res.Error
		}
	}
}

// record counts one answer with HTTP status code (0: none), received
// latency after its intended send time.
func (a *accum) record(code int, latency, deadline time.Duration) {
	a.sent++
	switch c := code; {
	case c == http.StatusOK:
		a.ok++
		a.latencies.add(latency)
		if latency > deadline {
			a.misses++
		}
		return
	case c == http.StatusTooManyRequests:
		a.refused++
	case c == http.StatusRequestTimeout:
		a.dropped++
	case c >= 500 && c <= 599:
		a.serverErr++
	default:
		a.other++
	}
	a.misses++
}

// report summarises a route over measured time d.
func (a *accum) report(rt Route, d time.Duration) RouteReport {
	rr := RouteReport{
		Route: rt.Name, Tenant: rt.Tenant, Path: rt.Path, Deadline: rt.Deadline,
		Sent: a.sent, OK: a.ok, Refused: a.refused, Dropped: a.dropped, ServerErrors: a.serverErr, Other: a.other,
		Throughput: float64(a.ok) / d.Seconds(),
		latencies:  &a.latencies,
	}
	if a.sent > 0 {
		rr.MissRatio = float64(a.misses) / float64(a.sent)
	}
	if a.latencies.len() > 0 {
		rr.P50, rr.P90, rr.P99 = a.latencies.quantile(0.50), a.latencies.quantile(0.90), a.latencies.quantile(0.99)
		rr.Max = a.latencies.max
	}
	return rr
}

// fallbacksOf is srv's fallbacks; none for a target (srv nil), whose
// policy the bench cannot see.
func fallbacksOf(srv *core.Server) []core.Fallback {
	if srv == nil {
		return nil
	}
	return srv.Fallbacks()
}

// quantile is the nearest-rank q-quantile of sorted, non-empty ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds))-1e-9)) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
