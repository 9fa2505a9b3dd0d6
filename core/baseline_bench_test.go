package core

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/gosledge/gosledge/core/config"
)

// The bare baseline: what gosledge is measured against. net/http, one
// wazero runtime, a fresh instance of the uninstrumented echo.wasm per
// request, no scheduler, no safepoints. Both servers run as child
// processes of the benchmark (this test binary re-executed), so the CPU
// per request read from /proc is the server's alone, not the client's.

const benchChildEnv = "GOSLEDGE_BENCH_CHILD"

// TestBenchChild is not a test: it is the server side of
// BenchmarkEchoVsBare, run in a child process. It prints its address and
// serves until its stdin closes.
func TestBenchChild(t *testing.T) {
	kind := os.Getenv(benchChildEnv)
	if kind == "" {
		t.Skip("only run as BenchmarkEchoVsBare's child process")
	}
	var addr string
	switch kind {
	case "sledge", "sledge-sampled", "sledge-unsampled":
		rt := config.Runtime{Workers: runtime.NumCPU(), Preemption: true}
		if kind != "sledge" { // BenchmarkTracing's
			rt.Tracing = config.Tracing{Endpoint: os.Getenv(benchOTLPEnv), SampleRatio: map[bool]float64{true: 1}[kind == "sledge-sampled"], ServiceName: "bench"}
		}
		ts := startServer(t, rt, testRoute(t, "/echo", "echo"))
		ts.sched.recording.Store(false) // a benchmark's server, though run as a test
		addr = strings.TrimPrefix(ts.url, "http://")
	case "bare":
		addr = serveBare(t, exampleWasm(t, "echo"))
	case "null":
		addr = serveHTTP(t, func(w http.ResponseWriter, body []byte, _ string) error {
			_, err := w.Write(body)
			return err
		})
	default:
		t.Fatalf("%s=%q", benchChildEnv, kind)
	}
	fmt.Printf("LISTEN %s\n", addr)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
}

// bareRunner runs wasm the bare baseline's way: one wazero runtime, a
// fresh instance of the uninstrumented module per call, wazero's own
// memory allocator, no scheduler. It is closed when t ends.
func bareRunner(t testing.TB, wasm []byte) func(ctx context.Context, body []byte, path string, stdout io.Writer) error {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(features))
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	base := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	return func(ctx context.Context, body []byte, path string, stdout io.Writer) error {
		m, err := rt.InstantiateModule(ctx, mod,
			base.WithStdin(bytes.NewReader(body)).WithStdout(stdout).WithArgs(path))
		if err == nil {
			_, err = m.ExportedFunction("_start").Call(ctx)
			m.Close(ctx)
		}
		return err
	}
}

// serveBare serves wasm as the bare baseline on an ephemeral port until t
// ends and returns its address.
func serveBare(t testing.TB, wasm []byte) string {
	run := bareRunner(t, wasm)
	return serveHTTP(t, func(w http.ResponseWriter, body []byte, path string) error {
		var stdout bytes.Buffer
		if err := run(context.Background(), body, path, &stdout); err != nil {
			return err
		}
		_, err := w.Write(stdout.Bytes())
		return err
	})
}

// serveHTTP serves answer, given each request's body and path, with
// net/http on an ephemeral port until t ends, and returns its address.
// With an answer that only writes the body back it is the null server:
// the most req/s any net/http server can answer this client with, no
// Wasm at all.
func serveHTTP(t testing.TB, answer func(w http.ResponseWriter, body []byte, path string) error) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := answer(w, body, r.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// benchChild is a server process started by the benchmark.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.Closer
	url   string
}

func startBenchChild(b *testing.B, kind string) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
			c.url = "http://" + addr + "/echo"
			go io.Copy(io.Discard, stdout)
			return c
		}
	}
	b.Fatalf("%s child exited before listening", kind)
	return nil
}

// cpu is the child's user + system CPU time so far.
func (c *benchChild) cpu(b *testing.B) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	// Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// echoLoad is one measurement: conns clients posting to url for d.
type echoLoad struct {
	conns     int
	keepAlive bool
	d         time.Duration
}

type echoResult struct {
	rps       float64
	cpuPerReq time.Duration
}

func (l echoLoad) run(b *testing.B, c *benchChild) echoResult {
	cpu0 := c.cpu(b)
	n, elapsed := echoClients(b, c.url, l.conns, l.keepAlive, l.d)
	cpu := c.cpu(b) - cpu0
	return echoResult{rps: float64(n) / elapsed.Seconds(), cpuPerReq: cpu / time.Duration(max(n, 1))}
}

// echoClients posts "hello" to url from conns clients (keep-alive or a
// connection per request) for d, checking every answer, and returns how
// many were answered and how long it took.
func echoClients(b *testing.B, url string, conns int, keepAlive bool, d time.Duration) (int64, time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, DisableKeepAlives: !keepAlive}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Post(url, "text/plain", strings.NewReader("hello"))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "hello" {
					b.Errorf("echo: %d %q", resp.StatusCode, body)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load(), time.Since(start)
}

// BenchmarkEchoVsBare serves echo from gosledge and from the bare baseline
// side by side: for each load (1, 4, 16 connections, keep-alive or not),
// rounds of one measurement each, rotating which server goes first,
// and reports medians with the spread (min–max) of the ratio. The null
// server (serveHTTP, no Wasm) runs in the same rounds: null-ratio, its
// req/s over the bare baseline's, is the ratio no net/http server could
// beat with this client, and its CPU per request what serving HTTP alone
// costs; of-null is gosledge's req/s over the null server's. Run it with
// -benchtime 1x; -rounds and the duration per measurement come from
// GOSLEDGE_BENCH_ROUNDS (default 5) and GOSLEDGE_BENCH_SLICE (default 1s).
func BenchmarkEchoVsBare(b *testing.B) {
	rounds := envInt("GOSLEDGE_BENCH_ROUNDS", 5)
	slice := time.Second
	if d, err := time.ParseDuration(os.Getenv("GOSLEDGE_BENCH_SLICE")); err == nil {
		slice = d
	}
	sledge, bare, null := startBenchChild(b, "sledge"), startBenchChild(b, "bare"), startBenchChild(b, "null")
	for _, conns := range []int{1, 4, 16} {
		for _, ka := range []bool{true, false} {
			load := echoLoad{conns: conns, keepAlive: ka, d: slice}
			b.Run(fmt.Sprintf("conns=%d/keepalive=%t", conns, ka), func(b *testing.B) {
				var s, r, nl []echoResult
				var ratios, ceilings, ofNull []float64
				for i := range rounds {
					var rs, rb, rn echoResult
					switch i % 3 { // rotate which server goes first
					case 0:
						rs, rb, rn = load.run(b, sledge), load.run(b, bare), load.run(b, null)
					case 1:
						rb, rn, rs = load.run(b, bare), load.run(b, null), load.run(b, sledge)
					default:
						rn, rs, rb = load.run(b, null), load.run(b, sledge), load.run(b, bare)
					}
					s, r, nl = append(s, rs), append(r, rb), append(nl, rn)
					ratios = append(ratios, rs.rps/rb.rps)
					ceilings = append(ceilings, rn.rps/rb.rps)
					ofNull = append(ofNull, rs.rps/rn.rps)
				}
				med := func(rs []echoResult, f func(echoResult) float64) float64 { return median(each(rs, f)) }
				rps := func(x echoResult) float64 { return x.rps }
				cpu := func(x echoResult) float64 { return float64(x.cpuPerReq.Nanoseconds()) / 1e3 }
				b.ReportMetric(med(s, rps), "sledge-req/s")
				b.ReportMetric(med(r, rps), "bare-req/s")
				b.ReportMetric(median(ratios), "ratio")
				b.ReportMetric(slices.Min(ratios), "ratio-min")
				b.ReportMetric(slices.Max(ratios), "ratio-max")
				b.ReportMetric(median(ceilings), "null-ratio")
				b.ReportMetric(median(ofNull), "of-null")
				b.ReportMetric(med(s, cpu), "sledge-cpu-µs/req")
				b.ReportMetric(med(r, cpu), "bare-cpu-µs/req")
				b.ReportMetric(med(nl, cpu), "null-cpu-µs/req")
			})
		}
	}
}

// median is the middle of v (the upper one of an even count), v left
// unsorted; 0 for none.
func median[T cmp.Ordered](v []T) T {
	if len(v) == 0 {
		var zero T
		return zero
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}
