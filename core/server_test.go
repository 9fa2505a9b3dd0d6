package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
)

// cacheDir is a compilation cache shared by the package's servers, so
// each test does not recompile the same modules.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gosledge-core-test")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := 0
	defer func() { os.RemoveAll(dir); os.Exit(code) }()
	code = m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
}

// exampleWasm reads a bundled example function.
func exampleWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "functions", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRoute is a route with the config defaults.
func testRoute(t testing.TB, path, fn string) config.Route {
	return config.Route{
		Path:                path,
		Module:              fn + ".wasm",
		Wasm:                exampleWasm(t, fn),
		RelativeDeadline:    time.Second,
		ExpectedExecution:   time.Millisecond,
		AdmissionPercentile: 70,
		ContentType:         "text/plain",
		Timeout:             10 * time.Second,
		MaxBody:             1 << 20,
		MemoryLimit:         64 << 20,
	}
}

type testServer struct {
	*Server
	url  string
	stop func()
}

// startServer serves routes for tenant "t" on an ephemeral port until the
// test ends.
func startServer(t testing.TB, rt config.Runtime, routes ...config.Route) *testServer {
	t.Helper()
	return startTenants(t, rt, config.Tenant{Name: "t", Routes: routes})
}

// startTenants serves tenants, each on an ephemeral port, until the test
// ends; the testServer's url is the first tenant's.
func startTenants(t testing.TB, rt config.Runtime, tenants ...config.Tenant) *testServer {
	t.Helper()
	return startTenantsWithPlugins(t, rt, nil, tenants...)
}

// startTenantsWithPlugins is startTenants with [[plugin]] entries.
func startTenantsWithPlugins(t testing.TB, rt config.Runtime, plugins []config.Plugin, tenants ...config.Tenant) *testServer {
	t.Helper()
	return startWithPolicies(t, rt, nil, plugins, tenants...)
}

// startWithPolicies is startTenantsWithPlugins with a registry of its own
// (nil: the built-ins), for tests that need a policy of their own.
func startWithPolicies(t testing.TB, rt config.Runtime, policies *sdk.Registry, plugins []config.Plugin, tenants ...config.Tenant) *testServer {
	t.Helper()
	if rt.Workers == 0 {
		rt.Workers = 1
	}
	if rt.Policy == "" {
		rt.Policy = "fifo"
	}
	if rt.Quantum == 0 {
		rt.Quantum = time.Millisecond
	}
	rt.Listen = "127.0.0.1"
	rt.CacheDir = cacheDir
	if rt.DrainTimeout == 0 {
		rt.DrainTimeout = 2 * time.Second
	}
	cfg := &config.Config{File: "test.toml", Runtime: rt, Plugins: plugins, Tenants: tenants}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := New(context.Background(), cfg, Options{Logger: log, Policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	// Tests read what the scheduler recorded (arrivals, finishes, switch
	// delays); a benchmark measures the server as it runs in production,
	// without a record growing with every request for the collector to
	// scan (one that needs it calls record itself).
	if _, bench := t.(*testing.B); !bench {
		srv.sched.record()
	}
	ts := &testServer{Server: srv, url: "http://" + srv.Addr(tenants[0].Name)}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		ts.stop()
		http.DefaultClient.CloseIdleConnections()
	})
	return ts
}

// do sends one request and returns status and body.
func (ts *testServer) do(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// response is a status and body from the server.
type response struct {
	status int
	body   string
}

// doAsync sends one request from a new goroutine; its answer arrives on
// the channel.
func (ts *testServer) doAsync(t testing.TB, method, path, body string) <-chan response {
	res := make(chan response, 1)
	go func() {
		status, body := ts.do(t, method, path, body)
		res <- response{status, body}
	}()
	return res
}

func TestServeFib(t *testing.T) {
	ts := startServer(t, config.Runtime{Preemption: true}, testRoute(t, "/fib", "fib"))
	status, body := ts.do(t, "POST", "/fib", "10")
	if status != 200 || strings.TrimSpace(body) != "55" {
		t.Fatalf("fib 10 = %d %q, want 200 55", status, body)
	}
}

// TestHTTPContract sends one request per status of DESIGN.md's HTTP
// contract and checks the server still serves /fib after each.
func TestHTTPContract(t *testing.T) {
	small := testRoute(t, "/small", "echo")
	small.MaxBody = 16
	loop := testRoute(t, "/loop", "loop")
	loop.Timeout = 200 * time.Millisecond
	grow := testRoute(t, "/grow", "grow")
	grow.MemoryLimit = 4 << 20
	wait := counterRoute(t, "/wait", "wait_forever")
	wait.Timeout = 200 * time.Millisecond
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true},
		testRoute(t, "/fib", "fib"), testRoute(t, "/echo", "echo"), testRoute(t, "/hash", "hash"),
		testRoute(t, "/trap", "trap"), testRoute(t, "/exit1", "exit1"), small, loop, grow, wait,
		counterRoute(t, "/wait_results", "wait_results"), counterRoute(t, "/wait_unaligned", "wait_unaligned"),
		counterRoute(t, "/tablegrow", "tablegrow"), testRoute(t, "/goecho", "goecho/goecho"))

	sum := sha256.Sum256([]byte("hello"))
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // substring of the body
	}{
		{"fib", "POST", "/fib", "20", 200, "6765"},
		{"fib argv", "GET", "/fib?20", "", 200, "6765"},
		{"fib argv named", "GET", "/fib?n=12", "", 200, "144"},
		{"echo", "POST", "/echo", "round trip", 200, "round trip"},
		{"table.grow past the cap", "POST", "/tablegrow", "", 200, "capped"},
		{"Go echo (merged data)", "POST", "/goecho", "from Go", 200, "from Go"},
		{"hash", "POST", "/hash", "hello", 200, hex.EncodeToString(sum[:])},
		{"malformed query", "GET", "/fib?%zz", "", 400, "malformed query"},
		{"no route", "GET", "/nope", "", 404, "no route /nope"},
		{"method", "PUT", "/fib", "10", 405, "not allowed"},
		{"body too large", "POST", "/small", strings.Repeat("x", 17), 413, "exceeds"},
		{"trap", "POST", "/trap", "", 500, "trapped"},
		{"exit status", "POST", "/exit1", "", 500, "status 1"},
		{"memory limit", "POST", "/grow", "", 500, "trapped"},
		{"timeout", "POST", "/loop", "", 504, "timeout"},
		{"atomic wait timeout", "POST", "/wait", "", 504, "timeout"},
		{"atomic wait results", "POST", "/wait_results", "", 200, "122\n"},
		{"atomic wait trap", "POST", "/wait_unaligned", "", 500, "unaligned atomic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := ts.do(t, tt.method, tt.path, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, status, body, tt.status, tt.want)
			}
			if status != 200 && !strings.HasSuffix(body, "\n") {
				t.Errorf("error body %q has no trailing newline", body)
			}
			if status, body := ts.do(t, "POST", "/fib", "10"); status != 200 || strings.TrimSpace(body) != "55" {
				t.Errorf("after %s: fib 10 = %d %q", tt.name, status, body)
			}
		})
	}
}

// TestPreemption: on one worker a short request sent while a long one runs
// completes first with preemption on, and after it with preemption off.
func TestPreemption(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preemption=%v", preempt), func(t *testing.T) {
			ts := startServer(t, config.Runtime{Workers: 1, Preemption: preempt},
				testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"))
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if status, body := ts.do(t, "POST", "/spin", "3000"); status != 200 {
					t.Errorf("spin = %d %q", status, body)
				}
			}()
			waitRunning(t, ts.Server, 1)
			if status, body := ts.do(t, "POST", "/fib", "20"); status != 200 {
				t.Errorf("fib = %d %q", status, body)
			}
			wg.Wait()
			want := []string{"/fib", "/spin"}
			if !preempt {
				want = []string{"/spin", "/fib"}
			}
			if got := ts.sched.snapshot().Finished; !slices.Equal(got, want) {
				t.Fatalf("completion order %v, want %v", got, want)
			}
			if st := ts.sched.snapshot(); preempt != (st.Preemptions > 0) {
				t.Errorf("preemptions = %d with preemption=%v", st.Preemptions, preempt)
			}
		})
	}
}

// waitRunning waits until n sandboxes hold workers.
func waitRunning(t testing.TB, s *Server, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("never saw %d running sandboxes", n), func() bool {
		s.sched.mu.Lock()
		defer s.sched.mu.Unlock()
		return s.sched.busyLocked() >= n
	})
}

// waitUntil polls cond every millisecond until it holds, and fails t
// with failure if it still does not after 10 s: a wait for an event,
// never a timing assertion.
func waitUntil(t testing.TB, failure string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal(failure)
}

// TestDrain: at shutdown a request in flight still completes, a new one
// gets 503, and one that outlives the drain timeout is killed.
func TestDrain(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 1, Preemption: true},
		testRoute(t, "/spin", "spin"), testRoute(t, "/fib", "fib"))
	res := ts.doAsync(t, "POST", "/spin", "300")
	waitRunning(t, ts.Server, 1)
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()
	// While draining, a request on a fresh connection is refused with 503
	// by the handler or the listener is already closed.
	for {
		ts.liveMu.Lock()
		draining := ts.draining
		ts.liveMu.Unlock()
		if draining {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sb := newSandbox(ts.tenants[0].routeMap()["/fib"], 0, 0, nil, nil)
	if ts.admitLive(sb) {
		t.Error("a sandbox was admitted while draining")
	}
	r := <-res
	if r.status != 200 || strings.TrimSpace(r.body) != "300" {
		t.Errorf("in-flight spin = %d %q, want 200 300", r.status, r.body)
	}
	<-stopped
}

// TestKillOnShutdown: a request that outlives the drain timeout is killed
// and answered.
func TestKillOnShutdown(t *testing.T) {
	loop := testRoute(t, "/loop", "loop")
	loop.Timeout = time.Minute
	rt := config.Runtime{Workers: 1, Preemption: true, Policy: "fifo", Quantum: time.Millisecond, Listen: "127.0.0.1", CacheDir: cacheDir, DrainTimeout: 100 * time.Millisecond}
	cfg := &config.Config{File: "test.toml", Runtime: rt, Tenants: []config.Tenant{{Name: "t", Routes: []config.Route{loop}}}}
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+srv.Addr("t")+"/loop", "text/plain", nil)
		if err != nil {
			res <- result{0, err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, nil}
	}()
	waitRunning(t, srv, 1)
	cancel()
	r := <-res
	if r.err != nil || r.status != http.StatusGatewayTimeout {
		t.Errorf("killed at shutdown: %d %v, want 504", r.status, r.err)
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestConcurrentRequests hammers the server with more requests than
// workers, on several routes, and checks every one gets its answer.
func TestConcurrentRequests(t *testing.T) {
	ts := startServer(t, config.Runtime{Workers: 2, Preemption: true, Quantum: 200 * time.Microsecond},
		testRoute(t, "/fib", "fib"), testRoute(t, "/echo", "echo"), testRoute(t, "/trap", "trap"))
	const clients, each = 8, 15
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				switch (c + i) % 3 {
				case 0:
					if status, body := ts.do(t, "POST", "/fib", "18"); status != 200 || strings.TrimSpace(body) != "2584" {
						t.Errorf("fib = %d %q", status, body)
					}
				case 1:
					msg := fmt.Sprintf("client %d request %d", c, i)
					if status, body := ts.do(t, "POST", "/echo", msg); status != 200 || body != msg {
						t.Errorf("echo = %d %q, want %q", status, body, msg)
					}
				case 2:
					if status, _ := ts.do(t, "POST", "/trap", ""); status != 500 {
						t.Errorf("trap = %d", status)
					}
				}
			}
		}()
	}
	wg.Wait()
	assertIdle(t, ts.Server)
}
