package core

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/sdk"
)

// reportPercentiles adds p50 and p99 of samples, in µs, to the benchmark
// output.
func reportPercentiles(b *testing.B, samples []time.Duration, unit string) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(micros(percentile(samples, 0.50)), "p50-"+unit)
	b.ReportMetric(micros(percentile(samples, 0.99)), "p99-"+unit)
}

// percentile is the q-quantile of sorted, the nearest sample at or below.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(q*float64(len(sorted)-1))]
}

// BenchmarkSandbox is the per-request sandbox cost: schedule, instantiate a
// fresh module, run, close — without HTTP. echo is the cost of a sandbox
// itself (goecho and rustecho: the same in Go and Rust); fib(25) (about a millisecond of compute) also shows how often
// the fuel makes a guest yield: about one yield per yieldInterval of its
// run time when the calibration works.
func BenchmarkSandbox(b *testing.B) {
	for _, fn := range []struct {
		name, module, body string
		fresh              bool // a fresh instance per sandbox, not a pooled one
	}{
		{"echo", "echo", "hello", false}, {"echo-fresh", "echo", "hello", true}, {"fib", "fib", "25", false},
		{"goecho", "goecho/goecho", "hello", false}, {"goreactor", "goreactor/goreactor", "hello", false},
		{"rustecho", "rustecho/rustecho", "hello", false}, {"rustecho-fresh", "rustecho/rustecho", "hello", true},
	} {
		b.Run(fn.name, func(b *testing.B) {
			run := sandboxRunner(b, 1, fn.module, []byte(fn.body))
			if fn.fresh {
				run = freshRunner(b, run)
			}
			samples := make([]time.Duration, 0, b.N)
			yields := 0
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				sb, ok := run()
				if !ok {
					b.FailNow()
				}
				samples = append(samples, time.Since(start))
				yields += sb.yields
			}
			b.StopTimer()
			reportPercentiles(b, samples, "µs")
			b.ReportMetric(float64(yields)/float64(b.N), "yields/op")
		})
	}
}

// sandboxRunner serves module from a test server with workers workers and
// returns a function that runs one sandbox of it on body, as a request
// would without HTTP. It reports a run that does not end OK as b's error
// and says so. Safe for concurrent use.
func sandboxRunner(b *testing.B, workers int, module string, body []byte) func() (*Sandbox, bool) {
	ts := startServer(b, config.Runtime{Workers: workers, Preemption: true}, testRoute(b, "/run", module))
	rt := ts.tenants[0].routeMap()["/run"]
	var id atomic.Int64
	return func() (*Sandbox, bool) {
		sb := newSandbox(rt, sdk.TaskID(id.Add(1)), ts.now(), body, nil)
		if out := sb.run(context.Background(), ts.Server); out.Result != ResultOK {
			b.Errorf("%s: %v %s", module, out.Result, out.Body)
			return sb, false
		}
		return sb, true
	}
}

// freshRunner is run with its route's instance pool taken away (closed
// when b ends): every sandbox instantiates the module afresh.
func freshRunner(b *testing.B, run func() (*Sandbox, bool)) func() (*Sandbox, bool) {
	sb, _ := run()
	if p := sb.route.pool; p != nil {
		sb.route.pool = nil
		b.Cleanup(func() { p.close(context.Background()) })
	}
	return run
}

// BenchmarkSandboxBusy is BenchmarkSandbox's echo with every worker busy:
// one client goroutine per worker (2), each running sandboxes back to
// back, so no processor is idle for the collector's workers or the
// runtime's own threads. It reports the p50 and p99 over all samples.
func BenchmarkSandboxBusy(b *testing.B) {
	const workers = 2
	run := sandboxRunner(b, workers, "echo", []byte("hello"))
	per := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range (b.N + workers - 1) / workers {
				start := time.Now()
				if _, ok := run(); !ok {
					return
				}
				per[w] = append(per[w], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportPercentiles(b, slices.Concat(per...), "µs")
}

// BenchmarkSandboxTail puts the echo sandbox's p99 beside a spin run in
// the same loop, one after the other: pure arithmetic calibrated to last
// the sandbox's p50. The spin's tail is the machine's own for work that
// long, under the same collector: what a timer tick, an interrupt or the
// hypervisor adds to one sample in a hundred, which no runtime change can
// remove. The bare baseline (bareRunner: the uninstrumented module,
// wazero's own allocator, no scheduler) gets the same treatment in its
// own sub-benchmark: run in one loop, its allocations would make the
// collector everyone's tail. Each reports p50, p99 and their ratio.
func BenchmarkSandboxTail(b *testing.B) {
	ctx := context.Background()
	body := []byte("hello")
	b.Run("sandbox", func(b *testing.B) {
		run := sandboxRunner(b, 1, "echo", body)
		tailBeside(b, func() {
			if _, ok := run(); !ok {
				b.FailNow()
			}
		})
	})
	b.Run("bare", func(b *testing.B) {
		bare := bareRunner(b, exampleWasm(b, "echo"))
		var stdout bytes.Buffer
		tailBeside(b, func() {
			stdout.Reset()
			if err := bare(ctx, body, "/echo", &stdout); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// tailBeside runs f b.N times, each followed by a spin, and reports both
// tails. The spin's length follows f's p50: every 500 rounds it is scaled
// by the ratio of their recent medians, since this kind of VM's clock
// speed drifts and a fixed calibration would not hold.
func tailBeside(b *testing.B, f func()) {
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	const window = 500
	for range window { // warm up
		f()
	}
	iters := 1 << 12
	runs, spins := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		runs = append(runs, timed(f))
		spins = append(spins, timed(func() { spinLoop(iters) }))
		if (i+1)%window == 0 {
			r, s := median(runs[i+1-window:]), median(spins[i+1-window:])
			iters = max(1, int(float64(iters)*float64(r)/float64(s)))
		}
	}
	b.StopTimer()
	// The first windows calibrate the spin: leave them out.
	skip := min(4*window, b.N/2)
	runs, spins = runs[skip:], spins[skip:]
	for _, k := range []struct {
		name string
		s    []time.Duration
	}{{"run", runs}, {"spin", spins}} {
		slices.Sort(k.s)
		p50, p99 := percentile(k.s, 0.50), percentile(k.s, 0.99)
		b.ReportMetric(micros(p50), k.name+"-p50-µs")
		b.ReportMetric(micros(p99), k.name+"-p99-µs")
		b.ReportMetric(float64(p99)/float64(p50), k.name+"-p99/p50")
	}
}

// spinSink keeps spinLoop's result alive.
var spinSink atomic.Uint64

// spinLoop is n rounds of a linear congruential step: arithmetic only,
// no memory, no calls.
func spinLoop(n int) {
	x := uint64(n)
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink.Store(x)
}

// BenchmarkPreemptionDelay runs two spins on one worker and measures the
// delay from each quantum's expiry to the other sandbox running.
func BenchmarkPreemptionDelay(b *testing.B) {
	ts := startServer(b, config.Runtime{Workers: 1, Preemption: true, Quantum: time.Millisecond},
		testRoute(b, "/spin", "spin"))
	ts.sched.record() // the switch delays
	rt := ts.tenants[0].routeMap()["/spin"]
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sb := newSandbox(rt, sdk.TaskID(2*i+j+1), ts.now(), []byte("50"), nil)
				if out := sb.run(ctx, ts.Server); out.Result != ResultOK {
					b.Errorf("spin: %v %s", out.Result, out.Body)
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	st := ts.sched.snapshot()
	b.ReportMetric(float64(st.Preemptions)/float64(b.N), "switches/op")
	reportPercentiles(b, st.SwitchDelays, "µs")
}

// BenchmarkHTTPEcho is end-to-end throughput of the echo route with
// keep-alive on 2 workers.
func BenchmarkHTTPEcho(b *testing.B) {
	ts := startServer(b, config.Runtime{Workers: 2, Preemption: true}, testRoute(b, "/echo", "echo"))
	benchEcho(b, ts)
}

// benchEcho drives ts's /echo from 4 keep-alive clients and reports req/s.
func benchEcho(b *testing.B, ts *testServer) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := ts.url + "/echo"
	b.SetParallelism(4)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "text/plain", strings.NewReader("hello"))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkInFlight parks GOSLEDGE_BENCH_INFLIGHT (default 10 000)
// sandboxes of the never-ending loop function on 2 workers, waits until
// every one has run (instantiated, and preempted or running), and reports
// the resident memory they add: the whole and per sandbox. Run with
// -benchtime 1x.
func BenchmarkInFlight(b *testing.B) {
	n := envInt("GOSLEDGE_BENCH_INFLIGHT", 10_000)
	loop := testRoute(b, "/loop", "loop")
	loop.Timeout = time.Hour
	ts := startServer(b, config.Runtime{Workers: 2, Preemption: true, Quantum: time.Millisecond}, loop)
	rt := ts.tenants[0].routeMap()["/loop"]
	for range b.N {
		runtime.GC()
		before := residentBytes(b)
		sbs := make([]*Sandbox, n)
		launch := time.Now()
		var wg sync.WaitGroup
		for i := range sbs {
			sbs[i] = newSandbox(rt, sdk.TaskID(i+1), ts.now(), nil, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sbs[i].run(context.Background(), ts.Server)
			}()
		}
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			started := ts.states[StatePreempted].Load() + ts.states[StateRunning].Load()
			if started == int64(n) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d sandboxes started", started, n)
			}
		}
		startedIn := time.Since(launch)
		runtime.GC()
		rss := residentBytes(b) - before
		b.ReportMetric(float64(rss)/(1<<20), "MiB")
		b.ReportMetric(float64(rss)/float64(n), "B/sandbox")
		b.ReportMetric(startedIn.Seconds(), "s-to-start-all")
		killed := time.Now()
		for _, sb := range sbs {
			sb.Kill(killShutdown)
		}
		wg.Wait()
		b.ReportMetric(time.Since(killed).Seconds(), "s-to-kill-all")
	}
}

// residentBytes is the process's resident set (VmRSS).
func residentBytes(b testing.TB) int64 { return procStatus(b, "VmRSS") }
