package core

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/examples/policies/llf"
	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/plugins/fifo"
	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/plugin"
	"github.com/gosledge/gosledge/sdk/policytest"
	"github.com/gosledge/gosledge/sdk/wasmpolicy"
)

var (
	wasmBuildOnce sync.Once
	wasmDir       string
	wasmBuildErr  error
)

// wasmPolicies builds the llf example and the faulty test policy as Wasm
// modules (and lifo, for the decision benchmark), once per test binary (a few seconds each, less from Go's build
// cache): the tests run the source as it is, not the committed llf.wasm.
func wasmPolicies(t testing.TB) (llfWasm, faulty string) {
	t.Helper()
	wasmBuildOnce.Do(func() {
		wasmDir = filepath.Join(cacheDir, "wasm")
		for _, b := range []struct{ out, pkg string }{
			{"llf.wasm", "../examples/policies/llf/cmd/llf-wasm"},
			{"faulty.wasm", "./testdata/faultypolicy"},
			{"lifo.wasm", "./testdata/lifopolicy"},
		} {
			// -trimpath as make policies-wasm: an unchanged llf builds to
			// the committed bytes, whose compilation the cache then shares.
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", filepath.Join(wasmDir, b.out), b.pkg)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				wasmBuildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if wasmBuildErr != nil {
		t.Fatal(wasmBuildErr)
	}
	return filepath.Join(wasmDir, "llf.wasm"), filepath.Join(wasmDir, "faulty.wasm")
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// compileWasm compiles the module at path and closes it at the test's end.
func compileWasm(t testing.TB, path string, opt WasmOptions) *WasmModule {
	t.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opt.CacheDir = cacheDir
	if opt.Logger == nil {
		opt.Logger = quietLog()
	}
	if opt.MemoryLimit == 0 {
		opt.MemoryLimit = 64 << 20
	}
	m, err := CompileWasmPolicy(context.Background(), filepath.Base(path), wasm, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// TestWasmPolicyConformance runs the conformance suite over the llf
// example built as a Wasm module, one instance per policy the suite asks
// for, with llf's own Options.
func TestWasmPolicyConformance(t *testing.T) {
	llfWasm, _ := wasmPolicies(t)
	m := compileWasm(t, llfWasm, WasmOptions{Timeout: 5 * time.Second})
	var insts []*WasmPolicy
	t.Cleanup(func() {
		for _, p := range insts {
			if err := p.Err(); err != nil {
				t.Errorf("wasm policy fault: %v", err)
			}
			p.Kill()
		}
	})
	policytest.Run(t, func() sdk.Policy {
		p, err := m.Instantiate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, p)
		return p.Policy()
	}, policytest.Options{
		Before:     func(a, b sdk.Task) bool { return llf.Laxity(a, 0) < llf.Laxity(b, 0) },
		Preemptive: true,
	})
}

func wasmPlugin(name, path string) config.Plugin {
	return config.Plugin{Name: name, Kind: config.KindWasm, Path: path, MemoryLimit: 64 << 20}
}

// TestWasmPolicyBimodal: the bimodal scenario under the Wasm llf: short
// requests that arrive while the long one runs finish before it.
func TestWasmPolicyBimodal(t *testing.T) {
	llfWasm, _ := wasmPolicies(t)
	long := testRoute(t, "/spin", "spin")
	long.RelativeDeadline, long.ExpectedExecution = 10*time.Second, 500*time.Millisecond
	short := testRoute(t, "/fib", "fib")
	short.RelativeDeadline, short.ExpectedExecution = 50*time.Millisecond, time.Millisecond
	rt, _ := pluginRuntime("llf", "")
	ts := startTenantsWithPlugins(t, rt, []config.Plugin{wasmPlugin("llf", llfWasm)}, config.Tenant{Name: "t", Routes: []config.Route{long, short}})
	if name := ts.sched.policy.Name(); name != llf.Name || ts.sched.guard == nil {
		t.Fatalf("policy %q (guarded %v), want the guarded llf", name, ts.sched.guard != nil)
	}
	arrived, finished := bimodalRun(t, ts)
	if arrived == 0 || finished != arrived {
		t.Errorf("%d short requests arrived while the long one ran, %d finished before it", arrived, finished)
	}
	if fbs := ts.Fallbacks(); len(fbs) != 0 {
		t.Errorf("fallbacks: %+v", fbs)
	}
}

// TestWasmPolicyFaults: a Wasm policy whose GetNext loops, traps, answers
// a task it does not hold, exhausts its memory or panics is ejected by the
// guard like a failed plugin process: the fallback gets every queued
// request, each request is answered exactly once with 200, and the
// recorded cause says what happened.
func TestWasmPolicyFaults(t *testing.T) {
	_, faulty := wasmPolicies(t)
	for _, tc := range []struct {
		route string
		cause string
	}{
		{"/loop", "(plugin_timeout 50ms): stopped"},
		{"/trap", "out of bounds memory access"},
		{"/foreign", "answered with a task it does not hold"},
		{"/oom", "runtime: out of memory: cannot allocate"}, // a Go runtime's fatal error ends in a trap
		{"/panic", "wasm error: unreachable: panic: boom"},
	} {
		t.Run(tc.route[1:], func(t *testing.T) {
			rt, _ := pluginRuntime("p", "")
			rt.Preemption = false // the spin keeps the worker: the rest queue in order
			if tc.route != "/loop" {
				rt.PluginTimeout = 10 * time.Second // what fails is the fault, not the clock
			}
			pc := wasmPlugin("p", faulty)
			pc.MemoryLimit = 32 << 20
			routes := []config.Route{testRoute(t, "/fib", "fib"), testRoute(t, "/spin", "spin"), testRoute(t, tc.route, "fib")}
			ts := startTenantsWithPlugins(t, rt, []config.Plugin{pc}, config.Tenant{Name: "t", Routes: routes})
			var wg sync.WaitGroup
			results := make(chan int, 32)
			send := func(path, body string) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _ := ts.do(t, "POST", path, body)
					results <- status
				}()
			}
			send("/spin", "200") // holds the worker while the rest queue
			waitRunning(t, ts.Server, 1)
			for i := range 5 {
				send("/fib", strconv.Itoa(10+i))
			}
			waitQueued(t, ts.Server, 5)
			send(tc.route, "12")
			waitQueued(t, ts.Server, 6)
			for i := range 5 {
				send("/fib", strconv.Itoa(15+i))
			}
			wg.Wait()
			close(results)
			n := 0
			for status := range results {
				n++
				if status != 200 {
					t.Errorf("status %d", status)
				}
			}
			if n != 12 {
				t.Errorf("%d answers, want 12", n)
			}
			fbs := ts.Fallbacks()
			if len(fbs) != 1 || fbs[0].Plugin != "p" || fbs[0].To != fifo.Name || !strings.Contains(fmt.Sprint(fbs[0].Cause), tc.cause) {
				t.Fatalf("fallbacks %+v, want one from p to fifo saying %q", fbs, tc.cause)
			}
			if st, _ := ts.RouteStats("t", "/fib"); st.Requests != 10 {
				t.Errorf("%d /fib answered, want 10", st.Requests)
			}
		})
	}
}

// minimal modules for the load errors: the header, then sections.
const (
	wasmHeader = "\x00asm\x01\x00\x00\x00"
	memorySec  = "\x05\x03\x01\x00\x01"                                          // one memory, 1 page
	importSec  = "\x01\x04\x01\x60\x00\x00" + "\x02\x09\x01\x03env\x01f\x00\x00" // env.f: () -> ()
	hugeMemSec = "\x05\x04\x01\x00\x80\x02"                                      // one memory, 256 pages (16 MiB)
)

// TestWasmPolicyLoad: a wasm [[plugin]] that cannot be loaded fails New
// (and ProbePlugin) with its path key's file:line and why; a good one is
// probed and released.
func TestWasmPolicyLoad(t *testing.T) {
	llfWasm, _ := wasmPolicies(t)
	good, err := os.ReadFile(llfWasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		module string // "" for none
		extra  string // more [[plugin]] keys
		want   string // in the error after file:line, "" for none
	}{
		{"ok", string(good), "", ""},
		{"missing", "", "", `plugin "p": key "path": "p.wasm"`},
		{"not wasm", "#!/bin/sh\n", "", "not a WebAssembly module"},
		{"malformed", wasmHeader + "\x01\xff", "", `plugin "p": module`},
		{"no exports", wasmHeader + memorySec, "", "gosledge_policy_abi: not exported: breaks the wasm policy ABI"},
		{"foreign import", wasmHeader + importSec + memorySec, "", "imports env.f: a policy may import only wasi_snapshot_preview1"},
		{"memory limit", wasmHeader + hugeMemSec, `memory_limit = "1MiB"`, "its initial memory exceeds memory_limit (1048576 bytes)"},
		{"sha256", string(good), `sha256 = "` + strings.Repeat("0", 64) + `"`, "want " + strings.Repeat("0", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.module != "" {
				os.WriteFile(filepath.Join(dir, "p.wasm"), []byte(tc.module), 0o644)
			}
			file := filepath.Join(dir, "gosledge.toml")
			src := fmt.Sprintf("[runtime]\npolicy = \"p\"\ncache_dir = %q\n[[plugin]]\nname = \"p\"\nkind = \"wasm\"\npath = \"p.wasm\"\n%s\n[[tenant]]\nname = \"t\"\nport = 1\n[[tenant.route]]\npath = \"/x\"\nmodule = \"x.wasm\"\n",
				cacheDir, tc.extra)
			cfg, err := config.Parse(file, []byte(src), fstest.MapFS{"x.wasm": {Data: exampleWasm(t, "echo")}})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Runtime.Listen, cfg.Tenants[0].Port = "127.0.0.1", 0
			info, perr := ProbePlugin(t.Context(), cfg, "p", quietLog())
			if tc.want == "" {
				if perr != nil || info.Policy != llf.Name || info.Protocol != wasmpolicy.ABIVersion {
					t.Errorf("ProbePlugin = %+v, %v", info, perr)
				}
				return
			}
			srv, err := New(t.Context(), cfg, Options{Logger: quietLog()})
			if err == nil {
				srv.close(context.Background())
			}
			for _, err := range []error{err, perr} {
				if err == nil || !strings.HasPrefix(err.Error(), file+":7: ") || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want %s:7 and %q", err, file, tc.want)
				}
			}
		})
	}
}

// TestWasmPolicyCommitted: the llf.wasm committed beside the example
// speaks this ABI version (make policies-wasm rebuilds it).
func TestWasmPolicyCommitted(t *testing.T) {
	m := compileWasm(t, filepath.Join("..", "examples", "policies", "llf", "llf.wasm"), WasmOptions{Timeout: time.Second})
	p, err := m.Instantiate(context.Background())
	if err != nil {
		t.Fatalf("the committed llf.wasm: %v (make policies-wasm)", err)
	}
	defer p.Kill()
	if name := p.Policy().Name(); name != llf.Name {
		t.Errorf("name %q", name)
	}
}

// BenchmarkWasmDecision times a decision (an Enqueue, then GetNext) on a
// queue of 100 tasks, p50 and p99, for the built-in edf, the llf example
// in process, the same llf as a Wasm module, and as a go-plugin process
// (policytest.Benchmark's latency/100; its ops/100 adds a Dequeue); and
// for lifo as a Wasm module, a policy without map or allocation: the
// floor of a Go policy module.
func BenchmarkWasmDecision(b *testing.B) {
	llfWasm, _ := wasmPolicies(b)
	llfBin, _ := pluginBinaries(b)
	m := compileWasm(b, llfWasm, WasmOptions{Timeout: time.Second})
	lifo := compileWasm(b, filepath.Join(filepath.Dir(llfWasm), "lifo.wasm"), WasmOptions{Timeout: time.Second})
	for _, tc := range []struct {
		name string
		new  func(b *testing.B) sdk.Policy
	}{
		{"edf-builtin", func(*testing.B) sdk.Policy { return edf.New() }},
		{"llf-inprocess", func(*testing.B) sdk.Policy { return llf.New() }},
		{"llf-wasm", func(b *testing.B) sdk.Policy { return instantiate(b, m) }},
		{"lifo-wasm", func(b *testing.B) sdk.Policy {
			return instantiate(b, lifo)
		}},
		{"llf-plugin", func(b *testing.B) sdk.Policy {
			c, err := plugin.Launch(context.Background(), "llf", llfBin, plugin.LaunchOptions{CallTimeout: time.Second, Logger: quietLog()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Kill)
			return c.Policy()
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			policytest.Benchmark(b, func(n int) policytest.Queue {
				return decisionQueue(tc.new(b), n)
			}, 100)
		})
	}
}

// instantiate starts an instance of m for b and checks at b's end that
// it never failed.
func instantiate(b *testing.B, m *WasmModule) sdk.Policy {
	p, err := m.Instantiate(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Err(); err != nil {
			b.Error(err)
		}
		p.Kill()
	})
	return p.Policy()
}

// decisionQueue fills p with n tasks of random deadlines and returns it
// with a generator of more.
func decisionQueue(p sdk.Policy, n int) policytest.Queue {
	rng := rand.New(rand.NewPCG(1, 2))
	id := sdk.TaskID(0)
	next := func() sdk.Task {
		id++
		at := time.Duration(id) * time.Microsecond
		return sdk.Task{ID: id, Tenant: "t0", Route: "/a", Arrival: at,
			Deadline: at + time.Duration(rng.IntN(200))*time.Microsecond, Expected: time.Microsecond}
	}
	for range n {
		p.Enqueue(next(), sdk.Arrived)
	}
	return policytest.Queue{Policy: p, Next: next}
}

// BenchmarkEchoWasmPolicy compares echo throughput under the built-in edf
// and under the llf example as a Wasm policy (every decision a guest
// call), on 2 workers, 4 keep-alive clients: both servers run side by
// side, and each round measures one, then the other (alternating which
// goes first), so that a shared machine's load falls on both alike. It
// reports the medians of the rounds and the ratio llf-wasm/edf, median
// and min-max over the rounds. Run it with -benchtime 1x; the rounds and
// the duration of each measurement come from GOSLEDGE_BENCH_ROUNDS
// (default 5) and GOSLEDGE_BENCH_SLICE (default 1s).
func BenchmarkEchoWasmPolicy(b *testing.B) {
	rounds := envInt("GOSLEDGE_BENCH_ROUNDS", 5)
	slice := time.Second
	if d, err := time.ParseDuration(os.Getenv("GOSLEDGE_BENCH_SLICE")); err == nil {
		slice = d
	}
	edfSrv := startServer(b, config.Runtime{Workers: 2, Policy: "edf", Preemption: true}, testRoute(b, "/echo", "echo"))
	llfWasm, _ := wasmPolicies(b)
	rt, _ := pluginRuntime("llf", "")
	rt.Workers = 2
	llfSrv := startTenantsWithPlugins(b, rt, []config.Plugin{wasmPlugin("llf", llfWasm)}, config.Tenant{Name: "t", Routes: []config.Route{testRoute(b, "/echo", "echo")}})
	for _, ts := range []*testServer{edfSrv, llfSrv} { // warm up: connections, compiled modules, pools
		echoFor(b, ts, slice/4)
	}
	b.ResetTimer()
	var edfs, llfs, ratios []float64
	for i := range rounds {
		var e, l float64
		if i%2 == 0 {
			e, l = echoFor(b, edfSrv, slice), echoFor(b, llfSrv, slice)
		} else {
			l, e = echoFor(b, llfSrv, slice), echoFor(b, edfSrv, slice)
		}
		edfs, llfs, ratios = append(edfs, e), append(llfs, l), append(ratios, l/e)
		b.Logf("round %d: edf %.0f req/s, llf-wasm %.0f req/s, ratio %.3f", i, e, l, l/e)
	}
	b.StopTimer()
	if fbs := llfSrv.Fallbacks(); len(fbs) != 0 {
		b.Errorf("fallbacks: %+v", fbs)
	}
	b.ReportMetric(median(edfs), "edf-req/s")
	b.ReportMetric(median(llfs), "llf-wasm-req/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(slices.Min(ratios), "ratio-min")
	b.ReportMetric(slices.Max(ratios), "ratio-max")
}

// echoFor drives ts's /echo from 4 keep-alive clients for d and returns
// the requests answered per second.
func echoFor(b *testing.B, ts *testServer, d time.Duration) float64 {
	n, elapsed := echoClients(b, ts.url+"/echo", 4, true, d)
	return float64(n) / elapsed.Seconds()
}
