package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	faultOnce sync.Once
	faultBin  string
	faultErr  error
)

// faultPlugin returns a program that serves internal/faultplugin with
// args (a [[plugin]] has a path but no arguments), building it once.
func faultPlugin(t *testing.T, args ...string) string {
	t.Helper()
	faultOnce.Do(func() {
		faultBin = filepath.Join(binDir, "faultplugin")
		if out, err := exec.Command("go", "build", "-o", faultBin, "./internal/faultplugin").CombinedOutput(); err != nil {
			faultErr = fmt.Errorf("building faultplugin: %v\n%s", err, out)
		}
	})
	if faultErr != nil {
		t.Fatal(faultErr)
	}
	return shellScript(t, fmt.Sprintf("exec %q %s", faultBin, strings.Join(args, " ")))
}

func shellScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func pluginTOML(name, path string) string {
	return fmt.Sprintf("\n[[plugin]]\nname = %q\npath = %q\n", name, path)
}

// TestRunFallback: a plugin that dies at its 11th GetNext, in the middle
// of its run, is reported as fallen back to fifo, with when, why and how
// much it had decided, in the table, the CSV and the JSON; by default
// (strict for a plugin) the run fails but every run is still reported,
// and with Strict off the same run passes. Either way the built-in's run
// is clean. What is asserted does not depend on timing: the fault comes
// after ten answers, whenever they come.
func TestRunFallback(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exit", "hang"} {
		t.Run(mode, func(t *testing.T) {
			w := tinyWorkloadWith(t, pluginTOML("flaky", faultPlugin(t, mode, "10")))
			rep, err := Run(context.Background(), w, Options{
				Policies: []Policy{{Name: "flaky"}, {Name: "fifo"}},
				Logger:   quietLogger(),
			})
			if !errors.Is(err, ErrFellBack) || !strings.Contains(err.Error(), "strict: flaky at 50 req/s: flaky→fifo@") {
				t.Errorf("Run error %v, want a strict failure of flaky", err)
			}
			if rep == nil || len(rep.Runs) != 2 {
				t.Fatalf("report %+v, want both runs", rep)
			}
			flaky, fifo := rep.Runs[0], rep.Runs[1]
			fb := flaky.Fallback
			if fb == nil || fb.From != "flaky" || fb.To != "fifo" || fb.At <= 0 || fb.Decisions < 10 || fb.Requests < 1 || fb.Cause == "" ||
				flaky.Failed == "" {
				t.Fatalf("flaky run: fallback %+v, failed %q", fb, flaky.Failed)
			}
			if fifo.Fallback != nil || fifo.Failed != "" {
				t.Errorf("fifo run: fallback %+v, failed %q", fifo.Fallback, fifo.Failed)
			}
			for _, rr := range flaky.Routes {
				if rr.OK != rr.Sent { // the fallback answers every request
					t.Errorf("flaky %s: %d of %d answered 200", rr.Route, rr.OK, rr.Sent)
				}
			}

			var table bytes.Buffer
			rep.WriteTable(&table)
			label := "flaky→fifo@" + fmtOffset(fb.At)
			for _, want := range []string{"\n" + label + " ", "Fell back", "flaky at 50 req/s: fifo took over " + fmtOffset(fb.At),
				fmt.Sprintf("after %d decisions and %d requests: %s", fb.Decisions, fb.Requests, fb.Cause), "FAILED: --strict", "\nfifo "} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}

			dir := t.TempDir()
			if _, err := rep.Save(dir); err != nil {
				t.Fatal(err)
			}
			_, rows := readCSV(t, filepath.Join(dir, "results.csv"))
			for _, row := range rows {
				want := map[string]string{"fell_back_to": "", "fallback_decisions": "", "failed": ""}
				if row["policy"] == "flaky" {
					want = map[string]string{"fell_back_to": "fifo", "fallback_decisions": strconv.FormatUint(fb.Decisions, 10),
						"fallback_requests": strconv.FormatUint(fb.Requests, 10), "fallback_at_ms": csvMS(fb.At),
						"fallback_cause": fb.Cause, "failed": flaky.Failed}
				}
				for k, v := range want {
					if row[k] != v {
						t.Errorf("CSV %s row: %s = %q, want %q", row["policy"], k, row[k], v)
					}
				}
			}
			var jr jsonReport
			data, _ := os.ReadFile(filepath.Join(dir, "results.json"))
			if err := json.Unmarshal(data, &jr); err != nil || len(jr.Runs) != 2 {
				t.Fatalf("results.json: %v", err)
			}
			jf := jr.Runs[0].Fallback
			if jf == nil || *jf != (jsonFallback{From: "flaky", To: "fifo", AtMS: ms(fb.At), Decisions: fb.Decisions, Requests: fb.Requests, Cause: fb.Cause}) ||
				jr.Runs[0].Failed != flaky.Failed || jr.Runs[1].Fallback != nil || jr.Runs[1].Failed != "" {
				t.Errorf("results.json runs: %+v / %+v", jr.Runs[0], jr.Runs[1])
			}
			if !bytes.Contains(data, []byte(`"fallback": null`)) {
				t.Errorf("results.json does not say the fifo run has no fallback:\n%s", data)
			}
		})
	}

	t.Run("not strict", func(t *testing.T) {
		w := tinyWorkloadWith(t, pluginTOML("flaky", faultPlugin(t, "exit", "10")))
		lenient := false
		rep, err := Run(context.Background(), w, Options{Policies: []Policy{{Name: "flaky"}}, Logger: quietLogger(), Strict: &lenient})
		if err != nil || len(rep.Runs) != 1 || rep.Runs[0].Fallback == nil || rep.Runs[0].Failed != "" {
			t.Errorf("Run = %+v, %v; want a fallback reported and no failure", rep, err)
		}
	})
}

// A plugin policy that cannot start fails Run before any run, even one
// of a built-in listed first.
func TestRunPluginCannotStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", "./no-such-plugin", "no such file"},
		{"exits", "", `plugin "broken"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = shellScript(t, "exit 1")
			}
			w := tinyWorkloadWith(t, pluginTOML("broken", path))
			rep, err := Run(context.Background(), w, Options{Policies: []Policy{{Name: "fifo"}, {Name: "broken"}}, Logger: quietLogger()})
			if err == nil || !strings.HasPrefix(err.Error(), "policy broken: ") || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "serve.toml:") || rep != nil {
				t.Errorf("Run = %v, %v; want no report and an error naming broken, serve.toml:LINE and %q", rep, err, tc.want)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want Spread[time.Duration]
	}{
		{[]time.Duration{5 * ms}, Spread[time.Duration]{5 * ms, 5 * ms, 5 * ms}},
		{[]time.Duration{3 * ms, 1 * ms}, Spread[time.Duration]{2 * ms, 1 * ms, 3 * ms}},
		{[]time.Duration{9 * ms, 1 * ms, 4 * ms}, Spread[time.Duration]{4 * ms, 1 * ms, 9 * ms}},
		{[]time.Duration{4, 1, 3, 2}, Spread[time.Duration]{2, 1, 4}}, // (2+3)/2 in integer nanoseconds
		{[]time.Duration{7, 7, 7, 100}, Spread[time.Duration]{7, 7, 100}},
	} {
		in := fmt.Sprint(tc.in)
		if got := spreadOf(tc.in); got != tc.want {
			t.Errorf("spreadOf(%s) = %+v, want %+v", in, got, tc.want)
		}
		if fmt.Sprint(tc.in) != in {
			t.Errorf("spreadOf sorted its argument: %v", tc.in)
		}
	}
	for _, tc := range []struct {
		in   []float64
		want Spread[float64]
	}{
		{[]float64{0.1, 0.3}, Spread[float64]{0.2, 0.1, 0.3}},
		{[]float64{0, 0.5, 0.25, 1}, Spread[float64]{0.375, 0, 1}},
	} {
		if got := spreadOf(tc.in); got != tc.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// Summaries, the summary table and summary.csv from a made-up report of
// two policies × three repeats: no server needed.
func TestSummaries(t *testing.T) {
	ms := time.Millisecond
	rep := &Report{Workload: "rep", Process: Constant, Duration: time.Second, Workers: 2, Repeats: 3, Started: time.Now()}
	for n := 1; n <= 3; n++ {
		for _, pol := range []string{"llf", "fifo"} {
			rr := RouteReport{Route: "t/x", Deadline: 20 * ms, Sent: 10, OK: 10,
				P50: time.Duration(n) * ms, P99: time.Duration(10*n) * ms, MissRatio: float64(n) / 10}
			run := RunReport{Policy: pol, Rate: 50, Repeat: n, Routes: []RouteReport{rr}, Lag: Lag{Bound: ms}}
			if pol == "llf" && n == 2 {
				run.Fallback = &Fallback{From: "llf", To: "fifo", At: 500 * ms}
				run.Routes[0].OK, run.Routes[0].MissRatio = 0, 1 // its P50 and P99 do not count
			}
			rep.Runs = append(rep.Runs, run)
		}
	}
	got := rep.Summaries()
	want := []Summary{
		{Policy: "llf", Rate: 50, Route: "t/x", Runs: 3, FellBack: 1, OKRuns: 2,
			P50: Spread[time.Duration]{2 * ms, 1 * ms, 3 * ms}, P99: Spread[time.Duration]{20 * ms, 10 * ms, 30 * ms},
			Miss: Spread[float64]{0.3, 0.1, 1}},
		{Policy: "fifo", Rate: 50, Route: "t/x", Runs: 3, OKRuns: 3,
			P50: Spread[time.Duration]{2 * ms, 1 * ms, 3 * ms}, P99: Spread[time.Duration]{20 * ms, 10 * ms, 30 * ms},
			Miss: Spread[float64]{0.2, 0.1, 0.3}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Summaries:\n%+v\nwant\n%+v", got, want)
	}

	var table bytes.Buffer
	rep.WriteTable(&table)
	for _, want := range []string{", 3 repeats interleaved", "Over 3 repeats, median (min–max):",
		"llf→fifo@0.5s  50     2", "llf at 50 req/s #2: fifo took over 0.5s",
		"fifo    50     t/x    3     0          2.00ms (1.00–3.00ms)  20.0ms (10.0–30.0ms)  20.0% (10.0–30.0%)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	dir := t.TempDir()
	files, err := rep.Save(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, files, []string{"results.csv", "results.json", "summary.csv", "cdf-t-x.svg", "cdf-t-x.png"})
	_, rows := readCSV(t, filepath.Join(dir, "summary.csv"))
	if len(rows) != 2 || rows[0]["policy"] != "llf" || rows[0]["fell_back"] != "1" || rows[0]["ok_runs"] != "2" ||
		rows[0]["p99_median_ms"] != "20.000" || rows[1]["miss_max"] != "0.300000" {
		t.Errorf("summary.csv: %v", rows)
	}
	var jr jsonReport
	data, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(data, &jr); err != nil || jr.Repeats != 3 || len(jr.Summary) != 2 ||
		jr.Summary[0].P50MS != (jsonSpread{2, 1, 3}) || jr.Summary[0].FellBack != 1 {
		t.Errorf("results.json summary: %v %+v", err, jr.Summary)
	}
}

// Repeats run interleaved: every policy once, then every policy again.
func TestRunRepeat(t *testing.T) {
	t.Parallel()
	w := tinyWorkload(t)
	rep, err := Run(context.Background(), w, Options{
		Policies: []Policy{{Name: "fifo"}, {Name: "fifo", Preemption: NoPreempt}},
		Duration: 200 * time.Millisecond, Repeat: 2, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, run := range rep.Runs {
		order = append(order, fmt.Sprintf("%s#%d", run.Policy, run.Repeat))
	}
	if want := "fifo#1 fifo:nopreempt#1 fifo#2 fifo:nopreempt#2"; strings.Join(order, " ") != want || rep.Repeats != 2 {
		t.Errorf("runs %v (repeats %d), want %s", order, rep.Repeats, want)
	}
	for _, s := range rep.Summaries() {
		if s.Runs != 2 {
			t.Errorf("summary %+v, want 2 runs", s)
		}
	}
	if _, err := Run(context.Background(), w, Options{Policies: []Policy{{Name: "fifo"}}, Repeat: -1}); err == nil {
		t.Error("Repeat -1 accepted")
	}
}

func TestLag(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		deadlines []time.Duration
		want      time.Duration
	}{
		{nil, ms},
		{[]time.Duration{10 * ms}, ms}, // 0.5 ms is under the floor
		{[]time.Duration{20 * ms, 10 * time.Second}, ms},
		{[]time.Duration{time.Second, 100 * ms}, 5 * ms},
		{[]time.Duration{0, time.Second}, 50 * ms}, // no deadline: not the tightest
	} {
		var routes []Route
		for _, d := range tc.deadlines {
			routes = append(routes, Route{Deadline: d})
		}
		if got := lagBound(routes); got != tc.want {
			t.Errorf("lagBound(%v) = %s, want %s", tc.deadlines, got, tc.want)
		}
	}
	l := lagOf([]time.Duration{3 * ms, 0, 1 * ms, 2 * ms}, 2*ms)
	if l != (Lag{P50: ms, P99: 3 * ms, Max: 3 * ms, Bound: 2 * ms}) || !l.Over() {
		t.Errorf("lagOf = %+v, over %v", l, l.Over())
	}
	if l := lagOf(nil, ms); l != (Lag{Bound: ms}) || l.Over() {
		t.Errorf("lagOf(nil) = %+v", l)
	}

	// A lag over its bound is flagged in the table and the JSON.
	rep := &Report{Workload: "lag", Repeats: 1, Runs: []RunReport{
		{Policy: "fifo", Rate: 10, Repeat: 1, Lag: Lag{P50: ms, P99: 4 * ms, Max: 9 * ms, Bound: ms}},
		{Policy: "edf", Rate: 10, Repeat: 1, Lag: Lag{P50: ms / 10, P99: ms / 2, Max: 2 * ms, Bound: ms}},
	}}
	var table, js bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "fifo at 10 req/s:  1.00ms  /  4.00ms  /  9.00ms  OVER") ||
		strings.Count(table.String(), "OVER") != 1 || !strings.Contains(table.String(), "warned above a p99 of 1ms") {
		t.Errorf("table:\n%s", table.String())
	}
	rep.writeJSON(&js)
	if !strings.Contains(js.String(), `"over_bound": true`) || !strings.Contains(js.String(), `"over_bound": false`) {
		t.Errorf("JSON:\n%s", js.String())
	}
}
