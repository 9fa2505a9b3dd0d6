package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	c := newSchedule(Constant, 50, 1200*time.Millisecond, 1)
	if c.len() != 60 || c.due(0) != 0 || c.due(10) != 200*time.Millisecond {
		t.Errorf("constant: %d arrivals, due(10) = %s", c.len(), c.due(10))
	}
	a := newSchedule(Poisson, 1000, 10*time.Second, 42)
	b := newSchedule(Poisson, 1000, 10*time.Second, 42)
	o := newSchedule(Poisson, 1000, 10*time.Second, 43)
	if !slices.Equal(a.at, b.at) || slices.Equal(a.at, o.at) {
		t.Error("Poisson arrivals are not a function of the seed")
	}
	if n := a.len(); n < 9500 || n > 10500 { // ±5σ of 10000
		t.Errorf("Poisson: %d arrivals in 10s at 1000/s", n)
	}
	if !slices.IsSorted(a.at) || a.at[len(a.at)-1] >= 10*time.Second {
		t.Error("arrivals out of order or past the span")
	}
	if w, stop := c.Pace(0, 0); w != 0 || stop {
		t.Errorf("Pace(0, 0) = %s, %v", w, stop)
	}
	if w, stop := c.Pace(10*time.Millisecond, 1); w != 10*time.Millisecond || stop {
		t.Errorf("Pace(10ms, 1) = %s, %v", w, stop)
	}
	if _, stop := c.Pace(2*time.Second, 60); !stop {
		t.Error("Pace after the last arrival does not stop")
	}
}

func TestMix(t *testing.T) {
	m1 := newMix(nil, []float64{3, 1}, 4000, 9)
	m2 := newMix(nil, []float64{3, 1}, 4000, 9)
	if !slices.Equal(m1.picks, m2.picks) {
		t.Error("route choices are not a function of the seed")
	}
	n := 0
	for _, p := range m1.picks {
		n += int(p)
	}
	if n < 800 || n > 1200 { // expect 1000 of 4000 on the second route
		t.Errorf("%d of 4000 picks on a route of weight 1/4", n)
	}
}

func TestQuantile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i + 1)
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.9: 90, 0.99: 99, 1: 100, 0: 1} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if quantile(ds[:1], 0.99) != 1 {
		t.Error("one sample")
	}
}

// tinyWorkload writes a serve config (echo and fib, compiled into a
// shared cache) and a workload of 50 req/s for 1 s after a 200 ms warm-up.
func tinyWorkload(t *testing.T) *Workload {
	t.Helper()
	return tinyWorkloadWith(t, "")
}

// tinyWorkloadWith is tinyWorkload with more TOML (plugins) at the end of
// the serve config.
func tinyWorkloadWith(t *testing.T, serveExtra string) *Workload {
	t.Helper()
	dir := t.TempDir()
	fn, err := filepath.Abs("../examples/functions")
	if err != nil {
		t.Fatal(err)
	}
	// A plugin under test must fail by its own fault, not because a
	// loaded machine made an answer miss the default 20ms.
	serve := fmt.Sprintf(`[runtime]
workers = 2
cache_dir = %q
plugin_timeout = "1s"

[[tenant]]
name = "t"
port = 1

[[tenant.route]]
path = "/echo"
module = %q
relative_deadline = "1s"

[[tenant.route]]
path = "/fib"
module = %q
relative_deadline = "1s"
%s`, filepath.Join(dir, "cache"), filepath.Join(fn, "echo.wasm"), filepath.Join(fn, "fib.wasm"), serveExtra)
	os.WriteFile(filepath.Join(dir, "serve.toml"), []byte(serve), 0o644)
	const workload = `name = "tiny"
config = "serve.toml"
duration = "1s"
warmup = "200ms"
workers = 2

[arrival]
process = "constant"
rate = 50

[[route]]
path = "/echo"
body = "hi"

[[route]]
path = "/fib"
body = "15"
`
	path := filepath.Join(dir, "tiny.toml")
	os.WriteFile(path, []byte(workload), 0o644)
	w, err := LoadWorkload(path)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestRun runs two policies for about 1 s each and checks the counts, the
// table, the CSV, the JSON and the charts. No timing is asserted.
func TestRun(t *testing.T) {
	t.Parallel()
	w := tinyWorkload(t)
	rep, err := Run(context.Background(), w, Options{
		Policies: []Policy{{Name: "fifo"}, {Name: "fifo", Preemption: NoPreempt}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Policy != "fifo" || !rep.Runs[0].Preemption ||
		rep.Runs[1].Policy != "fifo:nopreempt" || rep.Runs[1].Preemption {
		t.Fatalf("runs: %+v", rep.Runs)
	}
	for _, run := range rep.Runs {
		sent := 0
		for _, rr := range run.Routes {
			sent += rr.Sent
			if rr.OK+rr.Refused+rr.Dropped+rr.ServerErrors+rr.Other != rr.Sent {
				t.Errorf("%s %s: counts do not add up: %+v", run.Policy, rr.Route, rr)
			}
			if rr.OK != rr.latencies.len() || (rr.OK > 0 && !(rr.P50 <= rr.P90 && rr.P90 <= rr.P99 && rr.P99 <= rr.Max)) {
				t.Errorf("%s %s: latencies: %+v", run.Policy, rr.Route, rr)
			}
		}
		// 60 arrivals every 20 ms from 0; the 10 due before 200 ms are warm-up.
		if sent != 50 {
			t.Errorf("%s: sent %d, want 50", run.Policy, sent)
		}
	}

	// The load generator's lag is measured (its size depends on the
	// machine, so only its shape is checked): the bound is 1/20 of the
	// 1 s deadlines.
	for _, run := range rep.Runs {
		if l := run.Lag; l.Bound != 50*time.Millisecond || l.P50 < 0 || l.P50 > l.P99 || l.P99 > l.Max || run.Fallback != nil || run.Repeat != 1 {
			t.Errorf("%s: lag %+v, fallback %v, repeat %d", run.Policy, l, run.Fallback, run.Repeat)
		}
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 2+1+4+2+2 || !strings.HasPrefix(lines[2], "POLICY ") || !strings.HasPrefix(lines[6], "fifo:nopreempt ") ||
		!strings.HasPrefix(lines[8], "Load generator lag") || !strings.HasPrefix(lines[10], "  fifo:nopreempt at 50 req/s:") {
		t.Errorf("table:\n%s", table.String())
	}
	if strings.Contains(table.String(), "→") || strings.Contains(table.String(), "Fell back") {
		t.Errorf("table reports a fallback:\n%s", table.String())
	}

	dir := t.TempDir()
	files, err := rep.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkCSV(t, filepath.Join(dir, "results.csv"), rep)
	var jr jsonReport
	if data, err := os.ReadFile(filepath.Join(dir, "results.json")); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(data, &jr); err != nil || len(jr.Runs) != 2 || len(jr.Runs[1].Routes) != 2 || jr.Workload != "tiny" ||
		jr.Runs[0].Lag.BoundMS != 50 || jr.Runs[0].Lag.MaxMS != ms(rep.Runs[0].Lag.Max) || jr.Runs[0].Fallback != nil || jr.Summary != nil {
		t.Errorf("results.json: %v %+v", err, jr)
	}
	want := []string{"results.csv", "results.json", "cdf-t-echo.svg", "cdf-t-echo.png", "cdf-t-fib.svg", "cdf-t-fib.png"}
	checkFiles(t, dir, files, want)
}

func checkCSV(t *testing.T, path string, rep *Report) {
	t.Helper()
	header, rows := readCSV(t, path)
	if !slices.Equal(header, csvHeader) {
		t.Errorf("CSV header %q", header)
	}
	if len(rows) != 4 {
		t.Fatalf("CSV has %d rows, want 4", len(rows))
	}
	num := func(row map[string]string, h string) int {
		n, err := strconv.Atoi(row[h])
		if err != nil {
			t.Errorf("column %s: %v", h, err)
		}
		return n
	}
	perPolicy := map[string]int{}
	for _, row := range rows {
		sent := num(row, "sent")
		if sum := num(row, "ok") + num(row, "refused_429") + num(row, "dropped_408") + num(row, "errors_5xx") + num(row, "other"); sum != sent {
			t.Errorf("row %v: sent %d, outcomes add up to %d", row, sent, sum)
		}
		perPolicy[row["policy"]] += sent
		if row["workload"] != "tiny" || row["tenant"] != "t" || row["deadline_ms"] != "1000.000" {
			t.Errorf("row %v", row)
		}
		if r, err := strconv.ParseFloat(row["miss_ratio"], 64); err != nil || r < 0 || r > 1 {
			t.Errorf("miss_ratio %q", row["miss_ratio"])
		}
		for _, h := range []string{"lag_p50_ms", "lag_p99_ms", "lag_max_ms"} {
			if x, err := strconv.ParseFloat(row[h], 64); err != nil || x < 0 {
				t.Errorf("%s %q", h, row[h])
			}
		}
		if row["lag_bound_ms"] != "50.000" || row["fell_back_to"] != "" || row["repeat"] != "1" {
			t.Errorf("row %v", row)
		}
	}
	if perPolicy["fifo"] != 50 || perPolicy["fifo:nopreempt"] != 50 {
		t.Errorf("sent per policy %v, want 50 each", perPolicy)
	}
}

// readCSV reads a CSV file: its header, and a map per row by header.
func readCSV(t *testing.T, path string) ([]string, []map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v, %d rows", path, err, len(rows))
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			t.Errorf("%s: row %q has %d columns, the header %d", path, row, len(row), len(rows[0]))
			continue
		}
		m := map[string]string{}
		for i, h := range rows[0] {
			m[h] = row[i]
		}
		out = append(out, m)
	}
	return rows[0], out
}

// checkFiles checks that Save wrote exactly want and that every chart
// is a valid SVG or PNG.
func checkFiles(t *testing.T, dir string, files, want []string) {
	t.Helper()
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("wrote %q, want %q", got, want)
	}
	for _, name := range want {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		switch filepath.Ext(name) {
		case ".svg":
			if err := validXML(data); err != nil || !bytes.Contains(data, []byte("<svg")) {
				t.Errorf("%s: not an SVG: %v", name, err)
			}
		case ".png":
			if img, err := png.Decode(bytes.NewReader(data)); err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("%s: not a PNG: %v", name, err)
			}
		}
	}
}

func validXML(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// An unknown policy fails before any server starts, naming it.
func TestRunUnknownPolicy(t *testing.T) {
	w := tinyWorkload(t)
	start := time.Now()
	rep, err := Run(context.Background(), w, Options{
		Policies: []Policy{{Name: "fifo"}, {Name: "nosuch", Preemption: NoPreempt}},
		Logger:   quietLogger(),
	})
	if err == nil || !strings.Contains(err.Error(), `unknown policy "nosuch"`) || rep != nil {
		t.Fatalf("got %v, %v", rep, err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Log("took", time.Since(start), "- did a run start?") // informative only
	}
}

// A cancelled context stops the run.
func TestRunCancelled(t *testing.T) {
	w := tinyWorkload(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, w, Options{Policies: []Policy{{Name: "fifo"}}, Logger: quietLogger()})
	if !errors.Is(err, context.Canceled) || rep == nil || len(rep.Runs) != 0 {
		t.Errorf("got %v, %v", rep, err)
	}
}

// The sweep charts, from a made-up report (one route, so no per-route
// miss chart; no 200 at the higher rate): no server needed.
func TestSweepCharts(t *testing.T) {
	t.Parallel()
	rep := &Report{Workload: "sweep", Process: Poisson, Duration: time.Second, Workers: 2, Started: time.Now()}
	for _, rate := range []float64{10, 40} {
		for _, pol := range []string{"fifo", "edf:nopreempt"} {
			rr := RouteReport{Route: "a/x", Deadline: 20 * time.Millisecond, Sent: 10, OK: 8, Refused: 2, MissRatio: 0.3, latencies: &latencies{}}
			for i := range 8 {
				rr.latencies.add(time.Duration(i+1) * time.Duration(rate) * 100 * time.Microsecond)
			}
			if rate == 40 {
				rr = RouteReport{Route: "a/x", Deadline: 20 * time.Millisecond, Sent: 10, Refused: 10, MissRatio: 1} // no 200 at all
			}
			rep.Runs = append(rep.Runs, RunReport{Policy: pol, Rate: rate, Routes: []RouteReport{rr}})
		}
	}
	dir := t.TempDir()
	files, err := rep.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"results.csv", "results.json"}
	for _, base := range []string{"cdf-a-x-10rps", "cdf-a-x-40rps", "miss-vs-load"} {
		want = append(want, base+".svg", base+".png")
	}
	checkFiles(t, dir, files, want)
}
