package core

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/sdk"
)

// DefaultDrainTimeout bounds how long Run waits for in-flight requests
// after its context is cancelled before killing them.
const DefaultDrainTimeout = 10 * time.Second

// Options are the parts of a server that do not come from the config file.
type Options struct {
	// Logger receives lifecycle events and faults; default slog.Default().
	Logger *slog.Logger
	// Policies resolves runtime.policy; default plugins.Builtins().
	Policies *sdk.Registry
	// DrainTimeout overrides DefaultDrainTimeout when > 0.
	DrainTimeout time.Duration
}

// Server serves every tenant of one config: one listener per tenant port,
// one wazero runtime, one scheduler.
type Server struct {
	cfg          *config.Config
	log          *slog.Logger
	engine       *engine
	sched        *scheduler
	epoch        time.Time
	drainTimeout time.Duration
	tenants      []*tenant

	nextID atomic.Uint64

	liveMu   sync.Mutex
	draining bool
	live     map[*Sandbox]struct{}
}

// route is one servable path of a tenant: its config, its compiled module
// and the module config every request's instance starts from.
type route struct {
	srv          *Server
	tenant       string
	name         string // tenant + path, for logs and errors
	cfg          config.Route
	module       wazero.CompiledModule
	moduleConfig wazero.ModuleConfig
	estimate     *estimator
	dropLate     bool // on_deadline_miss = "drop"
	stats        routeStats
}

// routeStats count a route's requests by outcome.
type routeStats struct {
	requests atomic.Uint64 // answered, any status
	misses   atomic.Uint64 // answered after the deadline, or dropped
	dropped  atomic.Uint64 // 408: the deadline passed before it started
}

// RouteStats is a snapshot of a route's counters.
type RouteStats struct {
	Requests, DeadlineMisses, Dropped uint64
}

// RouteStats returns the counters of tenant's route path.
func (s *Server) RouteStats(tenant, path string) (RouteStats, bool) {
	for _, t := range s.tenants {
		if r, ok := t.routes[path]; ok && t.name == tenant {
			return RouteStats{r.stats.requests.Load(), r.stats.misses.Load(), r.stats.dropped.Load()}, true
		}
	}
	return RouteStats{}, false
}

// New compiles every route's module and binds every tenant's port. Nothing
// is served until Run.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Policies == nil {
		opt.Policies = plugins.Builtins()
	}
	if opt.DrainTimeout <= 0 {
		opt.DrainTimeout = DefaultDrainTimeout
	}
	policy, err := opt.Policies.New(cfg.Runtime.Policy)
	if err != nil {
		return nil, fmt.Errorf("%s: key \"policy\": %w", cfg.Where("runtime", "policy"), err)
	}
	s := &Server{
		cfg:          cfg,
		log:          opt.Logger,
		epoch:        time.Now(),
		drainTimeout: opt.DrainTimeout,
		live:         map[*Sandbox]struct{}{},
	}
	s.sched = newScheduler(policy, cfg.Runtime.Workers, cfg.Runtime.Quantum, cfg.Runtime.Preemption, s.now, s.log)
	if s.engine, err = newEngine(ctx, cfg.Runtime.CacheDir, yield); err != nil {
		return nil, err
	}
	if err := s.addTenants(ctx); err != nil {
		s.close(ctx)
		return nil, err
	}
	return s, nil
}

func (s *Server) addTenants(ctx context.Context) error {
	base := wazero.NewModuleConfig().
		WithName(""). // a fresh, anonymous instance per request
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	for ti, tc := range s.cfg.Tenants {
		t := &tenant{srv: s, name: tc.Name, routes: map[string]*route{}}
		for ri, rc := range tc.Routes {
			name := tc.Name + rc.Path
			m, err := s.engine.compile(ctx, name, rc.Wasm, rc.MemoryLimit)
			if err != nil {
				return fmt.Errorf("%s: key \"module\": %w", s.cfg.Where("tenant", strconv.Itoa(ti), "route", strconv.Itoa(ri), "module"), err)
			}
			t.routes[rc.Path] = &route{srv: s, tenant: tc.Name, name: name, cfg: rc, module: m, moduleConfig: base,
				estimate: newEstimator(rc.ExpectedExecution, rc.AdmissionPercentile),
				dropLate: rc.OnDeadlineMiss == "drop"}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Runtime.Listen, strconv.Itoa(tc.Port)))
		if err != nil {
			return fmt.Errorf("tenant %q: %w", tc.Name, err)
		}
		t.ln = ln
		t.http = &http.Server{
			Handler:           t,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.tenants = append(s.tenants, t)
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

// Run serves until ctx is cancelled, then drains: new requests get 503,
// requests in flight may finish for the drain timeout, and what is left is
// killed. It returns when every request has been answered.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, len(s.tenants))
	for _, t := range s.tenants {
		s.log.Info("serving", "tenant", t.name, "addr", t.ln.Addr().String(), "routes", len(t.routes))
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
	s.shutdown()
	return err
}

// shutdown drains and closes the server (see Run).
func (s *Server) shutdown() {
	s.liveMu.Lock()
	s.draining = true
	s.liveMu.Unlock()
	s.log.Info("draining", "timeout", s.drainTimeout)

	drainCtx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
	defer cancel()
	// Shutdown stops accepting and closes idle connections; handlers in
	// flight finish on their own. Connections are only force-closed once
	// every sandbox has answered (killLive), so a killed request still
	// gets its 503.
	shutCtx, cancelShut := context.WithCancel(context.Background())
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
	killed := s.killLive(drainCtx)
	// Every request is answered; give responses a moment to flush, then
	// drop connections that are still not idle (e.g. a slow header).
	grace := time.AfterFunc(time.Second, cancelShut)
	wg.Wait()
	grace.Stop()
	s.close(context.Background())
	s.log.Info("stopped", "killed", killed)
}

// killLive waits for ctx to expire, then kills every sandbox still alive
// and waits for their requests to be answered.
func (s *Server) killLive(ctx context.Context) int {
	for {
		s.liveMu.Lock()
		n := len(s.live)
		if n == 0 {
			s.liveMu.Unlock()
			return 0
		}
		if ctx.Err() != nil {
			for sb := range s.live {
				sb.Kill(killShutdown)
			}
			s.liveMu.Unlock()
			for s.liveCount() > 0 {
				time.Sleep(time.Millisecond)
			}
			return n
		}
		s.liveMu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
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

func (s *Server) close(ctx context.Context) {
	for _, t := range s.tenants {
		t.ln.Close()
	}
	if s.engine != nil {
		s.engine.close(ctx)
	}
}

// now is the server clock every policy sees.
func (s *Server) now() time.Duration { return time.Since(s.epoch) }
