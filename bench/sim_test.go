package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosledge/gosledge/core/config"
	"github.com/gosledge/gosledge/plugins"
	"github.com/gosledge/gosledge/sdk"
)

// simDir writes a serve config, a workload and optionally a trace into a
// temporary directory and returns the loaded workload.
func simWorkload(t testing.TB, runtime, workload, trace string) *Workload {
	t.Helper()
	dir := t.TempDir()
	fn, err := filepath.Abs("../examples/functions")
	if err != nil {
		t.Fatal(err)
	}
	serve := fmt.Sprintf(`[runtime]
workers = 1
policy = "fifo"
%s

[[tenant]]
name = "demo"
port = 10031

[[tenant.route]]
path = "/a"
module = %q
relative_deadline = "20ms"
expected_execution = "2ms"
timeout = "1s"

[[tenant.route]]
path = "/b"
module = %q
relative_deadline = "5ms"
expected_execution = "1ms"
on_deadline_miss = "drop"
timeout = "1s"
`, runtime, filepath.Join(fn, "fib.wasm"), filepath.Join(fn, "spin.wasm"))
	for name, data := range map[string]string{"serve.toml": serve, "w.toml": workload, "trace.csv": trace} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := LoadWorkload(filepath.Join(dir, "w.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

const simRoutes = `
[[route]]
name = "a"
tenant = "demo"
path = "/a"
weight = 3
service = "lognormal 2ms cv=0.5"

[[route]]
name = "b"
tenant = "demo"
path = "/b"
service = "fixed 4ms"
`

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func simulateCSV(t *testing.T, w *Workload, opt SimOptions) string {
	t.Helper()
	opt.Logger = quietLog()
	rep, err := Simulate(context.Background(), w, opt)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.writeCSV(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSimDeterministic(t *testing.T) {
	w := simWorkload(t, "", `config = "serve.toml"
duration = "2s"
warmup = "200ms"
[arrival]
rate = 300
`+simRoutes, "")
	pols, _ := ParsePolicies("fifo,edf,sjf:nopreempt")
	for _, workers := range []int{1, 4} {
		opt := SimOptions{Policies: pols, Workers: workers}
		a, b := simulateCSV(t, w, opt), simulateCSV(t, w, opt)
		if a != b {
			t.Fatalf("workers=%d: two runs with one seed differ:\n%s\n%s", workers, a, b)
		}
		opt.Seed = 2
		if c := simulateCSV(t, w, opt); c == a {
			t.Fatalf("workers=%d: seeds 1 and 2 gave the same CSV", workers)
		}
	}
}

// TestSimCountsAddUp: over every request, warm-up included, sent =
// completed + refused + dropped + shed + killed, under loads that make
// each of them happen.
func TestSimCountsAddUp(t *testing.T) {
	cases := []struct {
		name, runtime, policy string
		rate                  int
		want                  func(simCounts) bool
	}{
		{"light", "", "fifo", 100, func(c simCounts) bool { return c.Refused+c.Dropped+c.Killed == 0 }},
		{"queue full", "max_queue = 3", "fifo", 1000, func(c simCounts) bool { return c.Refused > 0 }},
		{"drops and kills", "", "fifo", 700, func(c simCounts) bool { return c.Dropped > 0 && c.Killed > 0 }},
		{"admission", "admission = true", "edf", 1000, func(c simCounts) bool { return c.Refused > 0 }},
		{"shed", "", "mtds", 1000, func(c simCounts) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := simWorkload(t, c.runtime, fmt.Sprintf(`config = "serve.toml"
duration = "3s"
warmup = "0s"
[arrival]
rate = %d
`, c.rate)+simRoutes, "")
			cfg, err := w.ServeConfig()
			if err != nil {
				t.Fatal(err)
			}
			r := runNodes(t, w, cfg, 1, c.policy, []int{0}, "")
			n := r.counts
			if !c.want(n) {
				t.Fatalf("counts %+v: not the outcomes this load should produce", n)
			}
			if len(r.tasks) != 0 || r.nodes[0].d.InFlight() != 0 {
				t.Fatalf("%d tasks left", len(r.tasks))
			}
			got := 0
			for _, a := range r.acc {
				got += a.sent
			}
			if got != n.Sent {
				t.Fatalf("routes counted %d, sent %d", got, n.Sent)
			}
		})
	}
}

// runNodes simulates w's first rate on one node per entry of nodeWorkers
// (its workers; 0 for workers), each with its own instance of built-in
// policy, behind bal, and checks that sent = completed + refused + dropped
// + shed + killed.
func runNodes(t *testing.T, w *Workload, cfg *config.Config, workers int, policy string, nodeWorkers []int, bal Balancer) *simRun {
	t.Helper()
	var pols []nodePolicy
	for _, nw := range nodeWorkers {
		pol, err := plugins.Builtins().New(policy)
		if err != nil {
			t.Fatal(err)
		}
		pols = append(pols, nodePolicy{pol: pol, workers: nw})
	}
	r, src, err := newSimNodes(w, cfg, workers, Policy{Name: policy}, pols, bal, w.Rates[0], quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.loop(src); err != nil {
		t.Fatal(err)
	}
	if n := r.counts; n.Sent == 0 || n.Sent != n.Completed+n.Refused+n.Dropped+n.Shed+n.Killed {
		t.Fatalf("counts %+v do not add up", n)
	}
	return r
}

// TestSimHandComputed: FIFO without preemption on one worker, costs off,
// a trace with service times: the schedule is worked out by hand.
// traceWorkload replays trace.csv for a second with no runtime costs.
const traceWorkload = `config = "serve.toml"
duration = "1s"
warmup = "0s"
[sim]
safepoint = "20us"
switch = "0s"
start = "0s"
[arrival]
trace = "trace.csv"
` + simRoutes

func TestSimHandComputed(t *testing.T) {
	trace := `# offset, route, service
offset_ms,route,duration_ms
0,a,10
2,b,3
4,a,1
30,b,2
31,a,4
`
	// a@0 runs 0–10 (latency 10); b@2 waits, 10–13 (11: past its 5 ms
	// deadline, but it started, so not dropped... it is dropped: it never
	// ran and 10 > 7); a@4 runs 10–11 (7); b@30 30–32 (2); a@31 32–36 (5).
	w := simWorkload(t, "", traceWorkload, trace)
	pols, _ := ParsePolicies("fifo:nopreempt")
	rep, err := Simulate(context.Background(), w, SimOptions{Policies: pols, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	run := rep.Runs[0]
	a, b := run.Routes[0], run.Routes[1]
	ms := time.Millisecond
	if want := []time.Duration{5 * ms, 7 * ms, 10 * ms}; !slices.Equal(a.latencies.sortedExact(), want) {
		t.Errorf("route a latencies %v, want %v", a.latencies.sortedExact(), want)
	}
	if want := []time.Duration{2 * ms}; !slices.Equal(b.latencies.sortedExact(), want) || b.Dropped != 1 || b.Sent != 2 {
		t.Errorf("route b: latencies %v dropped %d sent %d; want %v, 1, 2", b.latencies.sortedExact(), b.Dropped, b.Sent, want)
	}
	if rep.Process != Trace || run.Rate != 5 {
		t.Errorf("process %q rate %v, want trace at 5 req/s", rep.Process, run.Rate)
	}
}

func TestTraceErrors(t *testing.T) {
	cases := []struct{ name, trace, want string }{
		{"empty", "# nothing\n", "trace.csv: empty trace"},
		{"header", "at,route\n0,a\n", "trace.csv:1: header \"at,route\""},
		{"fields", "offset_ms,route\n0,a\n1,a,3\n", "trace.csv:3: 3 fields, want 2"},
		{"offset", "offset_ms,route\n\n-1,a\n", "trace.csv:3: offset_ms \"-1\""},
		{"order", "offset_ms,route\n5,a\n4,a\n", "trace.csv:3: offset_ms 4 is before the previous line's (5ms)"},
		{"route", "offset_ms,route\n0,zz\n", "trace.csv:2: route \"zz\" is not in the workload's mix"},
		{"duration", "offset_ms,route,duration_ms\n0,a,0\n", "trace.csv:2: duration_ms \"0\""},
		{"none in span", "offset_ms,route\n5000,a\n", "no request due before 1s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "trace.csv"), []byte(c.trace), 0o644)
			src := `duration = "1s"
warmup = "0s"
[arrival]
trace = "trace.csv"
[[route]]
name = "a"
tenant = "demo"
path = "/fib"
`
			_, err := ParseWorkload(filepath.Join(dir, "w.toml"), []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "w.toml:4: arrival: key \"trace\"") {
				t.Fatalf("error %v does not name the workload's trace key", err)
			}
		})
	}
}

func TestServiceModels(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"fixed 2ms", ""},
		{"lognormal 2ms cv=0.5", ""},
		{"perflog p.csv", ""},
		{"", "empty"},
		{"fixed", "want \"fixed D\""},
		{"fixed -1ms", "mean \"-1ms\""},
		{"lognormal 2ms 0.5", "want cv=X"},
		{"gamma 2ms", "want \"fixed D\""},
	} {
		_, err := parseService(c.in, ".")
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseService(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestPerfLogSamples(t *testing.T) {
	dir := t.TempDir()
	log := "id,tenant,route,status,cpu_us\n1,demo,/a,200,1500\n2,demo,/a,504,9\n3,demo,/a,200,500\n4,demo,/b,200,x\n"
	path := filepath.Join(dir, "perf.csv")
	os.WriteFile(path, []byte(log), 0o644)
	if _, err := PerfLogSamples(path); err == nil || !strings.Contains(err.Error(), "perf.csv:5: cpu_us \"x\"") {
		t.Fatalf("error %v, want perf.csv:5", err)
	}
	os.WriteFile(path, []byte(log[:strings.LastIndex(log[:len(log)-1], "\n")+1]), 0o644)
	got, err := PerfLogSamples(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{500 * time.Microsecond, 1500 * time.Microsecond}; !slices.Equal(got["demo/a"], want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
}

// benchRoutes are the simulator benchmarks' routes: a mean service of
// about 2.5 ms.
const benchRoutes = `
[[route]]
name = "a"
tenant = "demo"
path = "/a"
weight = 19
service = "lognormal 2ms cv=0.5"
[[route]]
name = "b"
tenant = "demo"
path = "/b"
service = "fixed 12ms"
`

// BenchmarkSim64 simulates one million requests on 64 workers at about
// 90% load (EDF with preemption) and reports simulated requests per
// second of wall time.
func BenchmarkSim64(b *testing.B) {
	// 64 workers × ~2.5 ms mean service at 90% ≈ 23 000 req/s; 44 s ≈ 1M.
	w := simWorkload(b, "", `config = "serve.toml"
duration = "44s"
warmup = "0s"
[arrival]
rate = 23000
`+benchRoutes, "")
	pols, _ := ParsePolicies("edf")
	b.ResetTimer()
	var sent int
	for range b.N {
		rep, err := Simulate(context.Background(), w, SimOptions{Policies: pols, Workers: 64, Logger: quietLog()})
		if err != nil {
			b.Fatal(err)
		}
		for _, rr := range rep.Runs[0].Routes {
			sent += rr.Sent
		}
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(sent)/float64(b.N), "requests/op")
	// The process's peak resident memory: it must not grow with the
	// number of requests simulated (compare -benchtime 1x and 3x).
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(status)) {
			if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var n float64
				fmt.Sscanf(strings.TrimSpace(kb), "%f", &n)
				b.ReportMetric(n/1024, "peak-RSS-MiB")
			}
		}
	}
}

// TestSimPlugins: sim runs [[plugin]] policies through the same transport
// and failover as the server. A plugin that is the built-in FIFO behind
// the plugin protocol gives exactly the built-in's results (virtual time
// makes them comparable byte for byte); one that dies mid-run falls back
// to fifo and the report says so.
func TestSimPlugins(t *testing.T) {
	healthy := faultPlugin(t, "exit", "1000000000")
	flaky := faultPlugin(t, "exit", "10")
	w := simWorkload(t, "plugin_timeout = \"10s\"\n"+pluginTOML("pfifo", healthy)+pluginTOML("flaky", flaky), `config = "serve.toml"
duration = "1s"
warmup = "100ms"
[arrival]
rate = 200
`+simRoutes, "")
	pols, _ := ParsePolicies("fifo")
	builtin := simulateCSV(t, w, SimOptions{Policies: pols})
	pols, _ = ParsePolicies("pfifo")
	viaPlugin := simulateCSV(t, w, SimOptions{Policies: pols})
	if strings.ReplaceAll(viaPlugin, "pfifo", "fifo") != builtin {
		t.Errorf("fifo as a plugin and built in differ:\n%s\n%s", viaPlugin, builtin)
	}

	pols, _ = ParsePolicies("flaky")
	rep, err := Simulate(context.Background(), w, SimOptions{Policies: pols, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if fb := rep.Runs[0].Fallback; fb == nil || fb.From != "flaky" || fb.To != "fifo" {
		t.Errorf("flaky's run: fallback %+v, want flaky→fifo", fb)
	}
}

// holdBack is FIFO that keeps each task back for hold after its arrival,
// as a policy waiting for a budget to refill does.
type holdBack struct {
	q    []sdk.Task
	hold time.Duration
}

func (*holdBack) Name() string                                           { return "hold" }
func (h *holdBack) Enqueue(t sdk.Task, _ sdk.EnqueueReason)              { h.q = append(h.q, t) }
func (*holdBack) OnInterrupt(sdk.WorkerID, sdk.Task, time.Duration) bool { return false }
func (*holdBack) WouldPreempt(sdk.WorkerID, sdk.Task, sdk.Task, time.Duration) bool {
	return false
}
func (h *holdBack) Dequeue(id sdk.TaskID, _ sdk.DequeueReason) {
	h.q = slices.DeleteFunc(h.q, func(t sdk.Task) bool { return t.ID == id })
}
func (h *holdBack) GetNext(_ sdk.WorkerID, now time.Duration) (sdk.TaskID, bool) {
	if len(h.q) == 0 || now < h.q[0].Arrival+h.hold {
		return 0, false
	}
	id := h.q[0].ID
	h.q = h.q[1:]
	return id, true
}

// TestSimPollsHeldWork: as in the server, a policy that holds work back
// while a worker is idle is asked again every quantum (1 ms): a request
// held 3 ms after its arrival runs at 3 ms, with no other event to
// prompt the policy.
func TestSimPollsHeldWork(t *testing.T) {
	w := simWorkload(t, "", traceWorkload, "offset_ms,route,duration_ms\n0,a,1\n")
	reg := sdk.NewRegistry()
	reg.Register("hold", func() sdk.Policy { return &holdBack{hold: 3 * time.Millisecond} })
	pols, _ := ParsePolicies("hold:nopreempt")
	rep, err := Simulate(context.Background(), w, SimOptions{Policies: pols, Registry: reg, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Runs[0].Routes[0].latencies.sortedExact(); !slices.Equal(got, []time.Duration{4 * time.Millisecond}) {
		t.Errorf("latencies %v, want [4ms]: held 3 ms, then 1 ms of service", got)
	}
}
