package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/sdk"
)

// gcPercent is the server's GOGC unless the environment sets one.
const gcPercent = 400

// heapFloor is a pointer-free allocation the server holds and never
// touches, unless the environment sets GOGC: it counts as live heap, so
// the collector's target is at least (1 + GOGC/100) x heapFloor. A
// server's live heap is 1-2 MiB and every request allocates ~17 KiB
// (wazero's, most of it the Wasm call stack), so without it the target
// was Go's 4 MiB minimum x 4 and the collector ran more than 100 times a
// second under an echo load; each cycle is the tail of the requests that
// meet it. Go has no minimum-heap setting; this is that setting. Under a
// large live heap (10 000 sandboxes in flight) it changes the target by
// its own size only. It costs address space, not memory: the extra
// resident memory is the garbage the higher target lets accumulate.
const heapFloor = 8 << 20

// Options are the parts of a server that do not come from the config file.
type Options struct {
	// Logger receives lifecycle events and faults; default slog.Default().
	Logger *slog.Logger
	// Policies resolves runtime.policy; default plugins.Builtins().
	Policies *sdk.Registry
}

// Server serves every tenant of one config: one listener per tenant port,
// one wazero runtime, one scheduler.
type Server struct {
	heapFloor []byte // never read: see heapFloor
	cfg       *config.Config
	log       *slog.Logger
	engine    *engine
	sched     *scheduler
	epoch     time.Time
	tenants   []*tenant
	metrics   *metrics
	ops       *opsServer // nil unless runtime.metrics is set
	agent     *agent     // nil unless runtime.agent is set
	perf      *perfLog   // nil unless runtime.perf_log is set
	tracing   *tracing   // nil unless runtime.tracing.endpoint is set

	killPlugin func() // stops the policy plugin process; nil for a built-in

	fallbackMu sync.Mutex
	fallbacks  []Fallback

	nextID atomic.Uint64
	states [numStates]atomic.Int64 // live sandboxes per state

	reloadMu sync.Mutex // one reload at a time

	liveMu   sync.Mutex
	serving  bool // Run is serving and shutdown has not answered everything (Load)
	draining bool
	live     map[*Sandbox]struct{}
}

// route is one servable path of a tenant: its config, its compiled module
// and the module config every request's instance starts from. A reload
// replaces routes; requests in flight keep the one they started with.
type route struct {
	srv          *Server
	tenant       string
	name         string // tenant + path, for logs and errors
	cfg          config.Route
	module       wazero.CompiledModule
	moduleConfig wazero.ModuleConfig
	estimate     *Estimator    // kept across reloads while the module is the same
	stats        *routeStats   // kept across reloads
	dropLate     bool          // on_deadline_miss = "drop"
	pool         *instancePool // its module's snapshot and idle instances, else nil (instancepool.go)
}

// routeStats count a route's requests by outcome.
type routeStats struct {
	requests atomic.Uint64 // answered, any status
	misses   atomic.Uint64 // answered after the deadline, or dropped
	dropped  atomic.Uint64 // 408: the deadline passed before it started
	inflight atomic.Int64  // between route match and answer (concurrency.go)
}

// RouteStats is a snapshot of a route's counters.
type RouteStats struct {
	Requests, DeadlineMisses, Dropped uint64
}

// RouteStats returns the counters of tenant's route path.
func (s *Server) RouteStats(tenant, path string) (RouteStats, bool) {
	for _, t := range s.tenants {
		if r, ok := t.routeMap()[path]; ok && t.name == tenant {
			return RouteStats{r.stats.requests.Load(), r.stats.misses.Load(), r.stats.dropped.Load()}, true
		}
	}
	return RouteStats{}, false
}

// Fallbacks lists, oldest first, the times the policy plugin failed and
// was replaced by runtime.plugin_fallback; empty for a built-in or a
// plugin that never failed. The fallback is a built-in, so there is at
// most one today. Benchmarks use it to say which policy they measured.
func (s *Server) Fallbacks() []Fallback {
	s.fallbackMu.Lock()
	defer s.fallbackMu.Unlock()
	return slices.Clone(s.fallbacks)
}

// recordFallback keeps fb for Fallbacks; it runs under the scheduler lock.
func (s *Server) recordFallback(fb Fallback) {
	fb.Requests = s.nextID.Load()
	s.fallbackMu.Lock()
	s.fallbacks = append(s.fallbacks, fb)
	s.fallbackMu.Unlock()
}

// New compiles every route's module and binds every tenant's port (and the
// metrics listener). Nothing is served until Run.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Policies == nil {
		opt.Policies = plugins.Builtins()
	}
	if err := CheckPolicies(cfg, opt.Policies); err != nil {
		return nil, err
	}
	if !opt.Policies.Has(cfg.Runtime.Policy) {
		// Before launching: a missing or non-executable program gets
		// its file:line rather than the error of fork/exec.
		if err := cfg.CheckPlugins(cfg.Runtime.Policy); err != nil {
			return nil, err
		}
	}
	policy, guard, killPlugin, err := resolvePolicy(ctx, cfg, opt.Policies, opt.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        opt.Logger,
		epoch:      time.Now(),
		live:       map[*Sandbox]struct{}{},
		killPlugin: killPlugin,
	}
	// Every request allocates wazero's per-instance structures (~17 KiB,
	// most of it the call stack); at default GOGC the collector then ran
	// often enough to be the sandbox cost's p99. The live heap of a
	// server is small, so a higher target, with a floor under it, costs
	// little memory. An operator's GOGC wins, floor included.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
		s.heapFloor = make([]byte, heapFloor)
	}
	if err := ConfigurePolicy(cfg, cfg.Runtime.Policy, policy); err != nil {
		s.close(ctx)
		return nil, err
	}
	s.metrics = newMetrics(s)
	if s.tracing, err = newTracing(cfg.Runtime.Tracing, s.epoch, s.log); err != nil {
		s.close(ctx)
		return nil, err
	}
	rt := cfg.Runtime
	s.sched, err = newScheduler(schedConfig{
		Workers: rt.Workers, Quantum: rt.Quantum, Preemption: rt.Preemption, MaxQueue: rt.MaxQueue,
		Admission: rt.Admission, Headroom: rt.AdmissionHeadroom,
		Policy: policy, Guard: guard, Now: s.now, Log: s.log, Metrics: s.metrics, OnFallback: s.recordFallback,
	})
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	if s.engine, err = newEngine(ctx, cfg.Runtime.CacheDir, limitsOf(cfg.Runtime), yield); err != nil {
		s.close(ctx)
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.close(ctx)
		return nil, err
	}
	return s, nil
}

// start compiles routes, binds listeners and opens the perf log.
func (s *Server) start(ctx context.Context) error {
	for _, tc := range s.cfg.Tenants {
		t := &tenant{srv: s, name: tc.Name, maxConcurrency: tc.MaxConcurrency}
		s.tenants = append(s.tenants, t)
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Runtime.Listen, strconv.Itoa(tc.Port)))
		if err != nil {
			return fmt.Errorf("tenant %q: %w", tc.Name, err)
		}
		t.ln = ln
		t.http = &http.Server{
			Handler:           t,
			ConnContext:       connContext,
			ReadHeaderTimeout: s.cfg.Runtime.ReadHeaderTimeout,
			ReadTimeout:       s.cfg.Runtime.ReadTimeout,
			IdleTimeout:       s.cfg.Runtime.IdleTimeout,
			MaxHeaderBytes:    int(s.cfg.Runtime.MaxHeaderBytes),
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	routes, err := s.compileRoutes(ctx, s.cfg)
	if err != nil {
		return err
	}
	for i, t := range s.tenants {
		t.routes.Store(&routes[i])
	}
	if addr := s.cfg.Runtime.Metrics; addr != "" {
		if s.ops, err = newOpsServer(s, addr, s.cfg.Runtime.Pprof); err != nil {
			return err
		}
	}
	if addr := s.cfg.Runtime.Agent; addr != "" {
		if s.agent, err = newAgent(addr, s.Load, s.log); err != nil {
			return err
		}
	}
	if path := s.cfg.Runtime.PerfLog; path != "" {
		if s.perf, err = openPerfLog(path, s.metrics.perfDropped.Inc); err != nil {
			return err
		}
	}
	return nil
}

// compileRoutes builds every tenant's route map for cfg (tenants in cfg
// order), reusing estimators and counters of the routes now served.
func (s *Server) compileRoutes(ctx context.Context, cfg *config.Config) (_ []map[string]*route, err error) {
	base := baseModuleConfig()
	all := make([]map[string]*route, len(cfg.Tenants))
	var routes map[string]*route // the tenant's being built
	defer func() {
		if err != nil { // the pools made so far that no tenant serves
			var served []map[string]*route
			for _, t := range s.tenants {
				served = append(served, t.routeMap())
			}
			closePools(ctx, served, append(all, routes)...)
		}
	}()
	for ti, tc := range cfg.Tenants {
		var old map[string]*route
		if ti < len(s.tenants) {
			old = s.tenants[ti].routeMap()
		}
		routes = map[string]*route{}
		for ri, rc := range tc.Routes {
			name := tc.Name + rc.Path
			m, err := s.engine.compileRoute(ctx, cfg, ti, ri)
			if err != nil {
				return nil, err
			}
			r := &route{srv: s, tenant: tc.Name, name: name, cfg: rc, module: m, moduleConfig: base,
				dropLate: rc.OnDeadlineMiss == "drop"}
			if len(rc.Preopen) > 0 {
				fsc, err := preopenFS(rc.Preopen)
				if err != nil {
					return nil, fmt.Errorf("%s: tenant %q route %q: %w", cfg.Where("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "preopen"), tc.Name, rc.Path, err)
				}
				r.moduleConfig = base.WithFSConfig(fsc)
			}
			if r.pool, err = s.routePool(ctx, cfg, ti, ri, m, r.moduleConfig, old[rc.Path]); err != nil {
				return nil, err
			}
			if prev := old[rc.Path]; prev != nil {
				r.stats = prev.stats
				if prev.module == m && prev.cfg.AdmissionPercentile == rc.AdmissionPercentile {
					r.estimate = prev.estimate
				}
			}
			if r.stats == nil {
				r.stats = &routeStats{}
			}
			if r.estimate == nil {
				r.estimate = NewEstimator(rc.ExpectedExecution, rc.AdmissionPercentile)
			}
			routes[rc.Path] = r
		}
		all[ti] = routes
	}
	return all, nil
}

// baseModuleConfig is what every instance of a route starts from.
func baseModuleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName(""). // a fresh, anonymous instance per request
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
}

// Reload switches to cfg's routes: new or changed modules are compiled
// first, then every tenant's route map is swapped at once; requests in
// flight finish on the module they started with. Settings that shape the
// scheduler or the listeners ([runtime], tenant names and ports) cannot
// change without a restart: Reload refuses such a config and the current
// one keeps serving.
func (s *Server) Reload(ctx context.Context, cfg *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := restartNeeded(s.cfg, cfg); err != nil {
		return err
	}
	routes, err := s.compileRoutes(ctx, cfg)
	if err != nil {
		return err
	}
	for i, t := range s.tenants {
		old := t.routeMap()
		t.routes.Store(&routes[i])
		closePools(ctx, []map[string]*route{routes[i]}, old)
	}
	s.cfg = cfg
	s.log.Info("config reloaded", "config", cfg.File)
	return nil
}

// restartNeeded says which changes from old to new Reload cannot apply.
func restartNeeded(old, new *config.Config) error {
	var changed []string
	ov, nv := reflect.ValueOf(old.Runtime), reflect.ValueOf(new.Runtime)
	for i := range ov.NumField() {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			// The key an operator wrote, not the Go field behind it.
			key, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("toml"), ",")
			changed = append(changed, "runtime."+key)
		}
	}
	if !reflect.DeepEqual(old.Plugins, new.Plugins) {
		changed = append(changed, "[[plugin]]")
	}
	if len(old.Tenants) != len(new.Tenants) {
		changed = append(changed, "the set of tenants")
	} else {
		for i := range old.Tenants {
			o, n := old.Tenants[i], new.Tenants[i]
			o.Routes, n.Routes = nil, nil // routes may change
			if !reflect.DeepEqual(o, n) {
				changed = append(changed, fmt.Sprintf("tenant %q settings", o.Name))
			}
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%s: changing %v requires a restart; the running config is kept", new.File, changed)
	}
	return nil
}

// Addr returns the address tenant listens on ("" if there is no such
// tenant); useful when its port was 0.
func (s *Server) Addr(tenant string) string {
	for _, t := range s.tenants {
		if t.name == tenant {
			return t.ln.Addr().String()
		}
	}
	return ""
}

// MetricsAddr returns the operator listener's address, or "".
func (s *Server) MetricsAddr() string {
	if s.ops == nil {
		return ""
	}
	return s.ops.ln.Addr().String()
}

// AgentAddr returns the agent-check listener's address, or "".
func (s *Server) AgentAddr() string {
	if s.agent == nil {
		return ""
	}
	return s.agent.ln.Addr().String()
}

// Run serves until ctx is cancelled, then drains: new requests get 503,
// requests in flight may finish for runtime.drain_timeout, what is left is
// killed (504), and logs are flushed. It returns once every request has
// been answered.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, len(s.tenants))
	s.setServing(true)
	for _, t := range s.tenants {
		s.log.Info("serving", "tenant", t.name, "addr", t.ln.Addr().String(), "routes", len(t.routeMap()))
		go func() {
			if err := t.http.Serve(t.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("tenant %q: %w", t.name, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	if perr := s.shutdown(); err == nil {
		err = perr
	}
	return err
}

// shutdown drains and closes the server (see Run). Listeners stay open
// while draining so that new requests are answered 503, not refused.
func (s *Server) shutdown() error {
	s.liveMu.Lock()
	s.draining = true
	s.liveMu.Unlock()
	timeout := s.cfg.Runtime.DrainTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	s.log.Info("draining", "timeout", timeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	killed := s.killLive(drainCtx)
	s.setServing(false)

	// Every request is answered; close listeners and idle connections,
	// give responses a moment to flush, then drop what is left.
	shutCtx, cancelShut := context.WithTimeout(context.Background(), time.Second)
	defer cancelShut()
	var wg sync.WaitGroup
	for _, t := range s.tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t.http.Shutdown(shutCtx) != nil {
				t.http.Close()
			}
		}()
	}
	wg.Wait()
	err := s.close(context.Background())
	s.log.Info("stopped", "killed", killed)
	return err
}

// killLive waits until no sandbox is alive or ctx expires; then it kills
// every sandbox still alive and waits for their requests to be answered.
func (s *Server) killLive(ctx context.Context) int {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for s.liveCount() > 0 {
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		s.liveMu.Lock()
		n := len(s.live)
		for sb := range s.live {
			sb.Kill(killShutdown)
		}
		s.liveMu.Unlock()
		for s.liveCount() > 0 {
			<-tick.C
		}
		return n
	}
	return 0
}

func (s *Server) liveCount() int {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	return len(s.live)
}

// admitLive registers sb unless the server is draining.
func (s *Server) admitLive(sb *Sandbox) bool {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.draining {
		return false
	}
	s.live[sb] = struct{}{}
	return true
}

func (s *Server) dropLive(sb *Sandbox) {
	s.liveMu.Lock()
	delete(s.live, sb)
	s.liveMu.Unlock()
}

// close releases listeners, the perf log and the runtime.
func (s *Server) close(ctx context.Context) error {
	for _, t := range s.tenants {
		if t.ln != nil {
			t.ln.Close()
		}
	}
	if s.ops != nil {
		s.ops.close()
	}
	if s.agent != nil {
		s.agent.close()
	}
	var err error
	if s.perf != nil {
		err = s.perf.close()
	}
	for _, t := range s.tenants {
		closePools(ctx, nil, t.routeMap()) // their idle instances and write trackers
	}
	if terr := s.tracing.shutdown(); err == nil {
		err = terr
	}
	if s.engine != nil {
		s.engine.close(ctx)
	}
	if s.sched != nil {
		s.sched.close()
	}
	if s.killPlugin != nil {
		s.killPlugin()
	}
	return err
}

// now is the server clock every policy sees.
func (s *Server) now() time.Duration { return time.Since(s.epoch) }
