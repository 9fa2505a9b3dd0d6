package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is what Run measured.
type Report struct {
	Workload string // the workload's name
	File     string // the workload file
	Config   string // the serve config's file name
	Process  string // Constant or Poisson
	Seed     uint64 // of arrivals and route choices
	Duration time.Duration
	Warmup   time.Duration
	Workers  int       // runtime.workers of every run
	Repeats  int       // runs of each policy at each rate (Options.Repeat)
	Started  time.Time // when Run began
	// Simulated: the figures come from `sledge sim` (Simulate), in
	// virtual time, not from a real server.
	Simulated bool
	// Targets are the servers the workload was sent to (Options.Targets);
	// nil when each run started its own. Workers and Config are then this
	// side's, not the targets'.
	Targets map[string]string
	// Nodes is the simulated cluster's size (SimOptions.Nodes); 0 for
	// one node. Workers is then each node's.
	Nodes int
	Runs  []RunReport
}

// RunReport is one policy at one offered rate.
type RunReport struct {
	Policy     string  // as listed, e.g. "fifo:nopreempt"
	Preemption bool    // in effect during the run
	Rate       float64 // offered load, req/s
	Repeat     int     // 1 to Report.Repeats
	Routes     []RouteReport
	// Fallback is set if the policy under test failed during the run
	// and runtime.plugin_fallback ran the rest; the routes' figures are
	// then partly the fallback's.
	Fallback *Fallback
	// Failed says why the run failed (Options.Strict and a fallback);
	// "" if it did not.
	Failed string
	Lag    Lag // the load generator's, over the measured requests
}

// label is the run's policy as a report shows it: the policy, or what
// fell back to what and when ("llf→fifo@0.5s").
func (run RunReport) label() string {
	if run.Fallback != nil {
		return run.Policy + "→" + run.Fallback.To + "@" + fmtOffset(run.Fallback.At)
	}
	return run.Policy
}

// runName names a run in notes and errors: "llf at 150 req/s", with
// "#2" for the second repeat when there are several.
func (r *Report) runName(run RunReport) string {
	s := run.Policy + " at " + fmtRate(run.Rate) + " req/s"
	if r.Repeats > 1 {
		s += " #" + strconv.Itoa(run.Repeat)
	}
	return s
}

// RouteReport is one route of one run; only requests due after the
// warm-up count. Sent = OK + Refused + Dropped + ServerErrors + Other.
type RouteReport struct {
	Route    string // the workload's name for it
	Tenant   string
	Path     string
	Deadline time.Duration // relative deadline in the serve config

	Sent         int // requests due in the measured time
	OK           int // 200
	Refused      int // 429: admission control or a full queue
	Dropped      int // 408: its deadline passed before it started
	ServerErrors int // 5xx
	Other        int // any other status, or no answer (client timeout, connection error)

	// Throughput is 200s per second, from the start of the measured
	// time to the last answer (at least Duration): below the offered
	// rate when the server falls behind.
	Throughput float64
	// Latency of the 200s from their intended send time (0 if none).
	P50, P90, P99, Max time.Duration
	// MissRatio is the share of sent requests not answered 200 within
	// Deadline.
	MissRatio float64

	latencies *latencies // of the 200s
}

func (r *Report) sweep() bool {
	rates := map[float64]bool{}
	for _, run := range r.Runs {
		rates[run.Rate] = true
	}
	return len(rates) > 1
}

// WriteTable prints the report as a table, one row per run and route,
// then notes on fallbacks and the load generator's lag and, with repeats,
// the median and range of each figure over them.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s: %s arrivals, %s measured after %s warm-up, seed %d, %d workers, serve config %s",
		r.Workload, r.Process, r.Duration, r.Warmup, r.Seed, r.Workers, r.Config)
	if r.Simulated {
		fmt.Fprint(w, ", simulated")
	}
	if r.Nodes > 1 {
		fmt.Fprintf(w, ", %d nodes of %d workers", r.Nodes, r.Workers)
	}
	if r.Targets != nil {
		fmt.Fprintf(w, ", sent to %s (their workers and policies)", targetList(r.Targets))
	}
	if r.Repeats > 1 {
		fmt.Fprintf(w, ", %d repeats interleaved", r.Repeats)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	repeats := r.Repeats > 1
	row(tw, "POLICY", "REQ/S", when(repeats, "REP"), "ROUTE", "DEADLINE", "SENT", "200", "429", "408", "5XX", "OTHER",
		"OK/S", "P50", "P90", "P99", "MAX", "MISS")
	for _, run := range r.Runs {
		for _, rr := range run.Routes {
			row(tw, run.label(), fmtRate(run.Rate), when(repeats, strconv.Itoa(run.Repeat)), rr.Route, rr.Deadline.String(),
				strconv.Itoa(rr.Sent), strconv.Itoa(rr.OK), strconv.Itoa(rr.Refused), strconv.Itoa(rr.Dropped),
				strconv.Itoa(rr.ServerErrors), strconv.Itoa(rr.Other), fmt.Sprintf("%.1f", rr.Throughput),
				fmtLatency(rr, rr.P50), fmtLatency(rr, rr.P90), fmtLatency(rr, rr.P99), fmtLatency(rr, rr.Max),
				fmtPercent(rr.MissRatio))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	r.writeNotes(w)
	if repeats {
		return r.writeSummaryTable(w)
	}
	return nil
}

// when is a column that only some tables have: nil drops it.
func when(on bool, s string) *string {
	if !on {
		return nil
	}
	return &s
}

// row writes one tab-separated row; a cell is a string, or a *string
// that is left out when nil.
func row(w io.Writer, cells ...any) {
	var b strings.Builder
	for _, c := range cells {
		switch c := c.(type) {
		case string:
			b.WriteString(c)
		case *string:
			if c == nil {
				continue
			}
			b.WriteString(*c)
		}
		b.WriteByte('\t')
	}
	fmt.Fprintln(w, strings.TrimSuffix(b.String(), "\t"))
}

// writeNotes says which runs fell back, which failed, and how far the
// load generator lagged behind its schedule.
func (r *Report) writeNotes(w io.Writer) {
	first := true
	for _, run := range r.Runs {
		fb := run.Fallback
		if fb == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nFell back (a plugin failed; the built-in fallback ran the rest of the run, so its figures are mixed):")
			first = false
		}
		fmt.Fprintf(w, "  %s: %s took over %s into the run, after %d decisions and %d requests: %s\n",
			r.runName(run), fb.To, fmtOffset(fb.At), fb.Decisions, fb.Requests, fb.Cause)
		if run.Failed != "" {
			fmt.Fprintln(w, "    FAILED: --strict does not accept a run that fell back")
		}
	}
	if len(r.Runs) == 0 || r.Simulated { // a simulated generator is never late
		return
	}
	fmt.Fprintf(w, "\nLoad generator lag (how late requests were sent against their schedule), p50 / p99 / max; warned above a p99 of %s:\n",
		r.Runs[0].Lag.Bound)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, run := range r.Runs {
		l := run.Lag
		warn := when(l.Over(), "OVER: arrivals were burstier than the workload's; free the machine or lower the rate")
		row(tw, "  "+r.runName(run)+":", fmtMS(l.P50), "/", fmtMS(l.P99), "/", fmtMS(l.Max), warn)
	}
	tw.Flush()
}

// writeSummaryTable prints each figure's median and range over repeats.
func (r *Report) writeSummaryTable(w io.Writer) error {
	fmt.Fprintf(w, "\nOver %d repeats, median (min–max):\n", r.Repeats)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "POLICY", "REQ/S", "ROUTE", "RUNS", "FELL BACK", "P50", "P99", "MISS")
	for _, s := range r.Summaries() {
		p50, p99 := "-", "-"
		if s.OKRuns > 0 {
			p50 = fmtSpread(s.P50, fmtMS)
			p99 = fmtSpread(s.P99, fmtMS)
		}
		row(tw, s.Policy, fmtRate(s.Rate), s.Route, strconv.Itoa(s.Runs), strconv.Itoa(s.FellBack), p50, p99,
			fmtSpread(s.Miss, fmtPercent))
	}
	return tw.Flush()
}

// fmtSpread shows "median (min–max)", the unit once in the range:
// "2.00ms (1.00–3.00ms)".
func fmtSpread[T time.Duration | float64](s Spread[T], f func(T) string) string {
	lo, hi := f(s.Min), f(s.Max)
	for _, unit := range []string{"ms", "%"} {
		if strings.HasSuffix(lo, unit) && strings.HasSuffix(hi, unit) {
			lo = strings.TrimSuffix(lo, unit)
			break
		}
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), lo, hi)
}

func fmtPercent(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

func fmtLatency(rr RouteReport, d time.Duration) string {
	if rr.OK == 0 {
		return "-"
	}
	return fmtMS(d)
}

// fmtMS shows a duration in milliseconds to three significant digits or so.
func fmtMS(d time.Duration) string {
	ms := ms(d)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// csvHeader is the first line of results.csv. The fallback columns are
// empty for a run whose policy did not fall back.
var csvHeader = []string{
	"workload", "policy", "preemption", "rate", "route", "tenant", "path", "deadline_ms",
	"sent", "ok", "refused_429", "dropped_408", "errors_5xx", "other",
	"throughput_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "miss_ratio",
	"repeat", "fell_back_to", "fallback_at_ms", "fallback_decisions", "fallback_requests", "fallback_cause", "failed",
	"lag_p50_ms", "lag_p99_ms", "lag_max_ms", "lag_bound_ms",
}

// summaryHeader is the first line of summary.csv, written with repeats.
var summaryHeader = []string{
	"workload", "policy", "rate", "route", "runs", "fell_back", "ok_runs",
	"p50_median_ms", "p50_min_ms", "p50_max_ms", "p99_median_ms", "p99_min_ms", "p99_max_ms",
	"miss_median", "miss_min", "miss_max",
}

// csvMS is a duration in a CSV cell.
func csvMS(x time.Duration) string { return strconv.FormatFloat(ms(x), 'f', 3, 64) }

func csvRatio(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }

func (r *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, run := range r.Runs {
		fallback := make([]string, 5)
		if fb := run.Fallback; fb != nil {
			fallback = []string{fb.To, csvMS(fb.At), strconv.FormatUint(fb.Decisions, 10), strconv.FormatUint(fb.Requests, 10), fb.Cause}
		}
		for _, rr := range run.Routes {
			cw.Write(slices.Concat([]string{
				r.Workload, run.Policy, strconv.FormatBool(run.Preemption), f(run.Rate), rr.Route, rr.Tenant, rr.Path, csvMS(rr.Deadline),
				strconv.Itoa(rr.Sent), strconv.Itoa(rr.OK), strconv.Itoa(rr.Refused), strconv.Itoa(rr.Dropped),
				strconv.Itoa(rr.ServerErrors), strconv.Itoa(rr.Other),
				strconv.FormatFloat(rr.Throughput, 'f', 3, 64), csvMS(rr.P50), csvMS(rr.P90), csvMS(rr.P99), csvMS(rr.Max),
				csvRatio(rr.MissRatio), strconv.Itoa(run.Repeat),
			}, fallback, []string{
				run.Failed, csvMS(run.Lag.P50), csvMS(run.Lag.P99), csvMS(run.Lag.Max), csvMS(run.Lag.Bound),
			}))
		}
	}
	cw.Flush()
	return cw.Error()
}

func (r *Report) writeSummaryCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(summaryHeader)
	for _, s := range r.Summaries() {
		cw.Write([]string{
			r.Workload, s.Policy, strconv.FormatFloat(s.Rate, 'f', -1, 64), s.Route,
			strconv.Itoa(s.Runs), strconv.Itoa(s.FellBack), strconv.Itoa(s.OKRuns),
			csvMS(s.P50.Median), csvMS(s.P50.Min), csvMS(s.P50.Max), csvMS(s.P99.Median), csvMS(s.P99.Min), csvMS(s.P99.Max),
			csvRatio(s.Miss.Median), csvRatio(s.Miss.Min), csvRatio(s.Miss.Max),
		})
	}
	cw.Flush()
	return cw.Error()
}

// The JSON form: durations in milliseconds, names in snake case.
type (
	jsonReport struct {
		Workload   string            `json:"workload"`
		File       string            `json:"file"`
		Config     string            `json:"config"`
		Process    string            `json:"process"`
		Seed       uint64            `json:"seed"`
		DurationMS float64           `json:"duration_ms"`
		WarmupMS   float64           `json:"warmup_ms"`
		Workers    int               `json:"workers"`
		Repeats    int               `json:"repeats"`
		Started    time.Time         `json:"started"`
		Simulated  bool              `json:"simulated"`
		Targets    map[string]string `json:"targets,omitempty"`
		Nodes      int               `json:"nodes,omitempty"`
		Runs       []jsonRun         `json:"runs"`
		// Summary is there with repeats only.
		Summary []jsonSummary `json:"summary,omitempty"`
	}
	jsonRun struct {
		Policy     string  `json:"policy"`
		Preemption bool    `json:"preemption"`
		Rate       float64 `json:"rate"`
		Repeat     int     `json:"repeat"`
		// Fallback is null if the policy ran the whole run.
		Fallback *jsonFallback `json:"fallback"`
		Failed   string        `json:"failed,omitempty"`
		Lag      jsonLag       `json:"generator_lag"`
		Routes   []jsonRoute   `json:"routes"`
	}
	jsonFallback struct {
		From      string  `json:"from"`
		To        string  `json:"to"`
		AtMS      float64 `json:"at_ms"`
		Decisions uint64  `json:"decisions"`
		Requests  uint64  `json:"requests"`
		Cause     string  `json:"cause"`
	}
	jsonLag struct {
		P50MS   float64 `json:"p50_ms"`
		P99MS   float64 `json:"p99_ms"`
		MaxMS   float64 `json:"max_ms"`
		BoundMS float64 `json:"bound_ms"`
		Over    bool    `json:"over_bound"`
	}
	jsonSpread struct {
		Median float64 `json:"median"`
		Min    float64 `json:"min"`
		Max    float64 `json:"max"`
	}
	jsonSummary struct {
		Policy   string     `json:"policy"`
		Rate     float64    `json:"rate"`
		Route    string     `json:"route"`
		Runs     int        `json:"runs"`
		FellBack int        `json:"fell_back"`
		OKRuns   int        `json:"ok_runs"`
		P50MS    jsonSpread `json:"p50_ms"`
		P99MS    jsonSpread `json:"p99_ms"`
		Miss     jsonSpread `json:"miss_ratio"`
	}
	jsonRoute struct {
		Route        string  `json:"route"`
		Tenant       string  `json:"tenant"`
		Path         string  `json:"path"`
		DeadlineMS   float64 `json:"deadline_ms"`
		Sent         int     `json:"sent"`
		OK           int     `json:"ok"`
		Refused      int     `json:"refused_429"`
		Dropped      int     `json:"dropped_408"`
		ServerErrors int     `json:"errors_5xx"`
		Other        int     `json:"other"`
		Throughput   float64 `json:"throughput_rps"`
		P50MS        float64 `json:"p50_ms"`
		P90MS        float64 `json:"p90_ms"`
		P99MS        float64 `json:"p99_ms"`
		MaxMS        float64 `json:"max_ms"`
		MissRatio    float64 `json:"miss_ratio"`
	}
)

func (r *Report) writeJSON(w io.Writer) error {
	jr := jsonReport{Workload: r.Workload, File: r.File, Config: r.Config, Process: r.Process, Seed: r.Seed,
		DurationMS: ms(r.Duration), WarmupMS: ms(r.Warmup), Workers: r.Workers, Repeats: r.Repeats, Started: r.Started, Simulated: r.Simulated, Targets: r.Targets, Nodes: r.Nodes, Runs: []jsonRun{}}
	for _, run := range r.Runs {
		l := run.Lag
		jrun := jsonRun{Policy: run.Policy, Preemption: run.Preemption, Rate: run.Rate, Repeat: run.Repeat, Failed: run.Failed,
			Lag:    jsonLag{P50MS: ms(l.P50), P99MS: ms(l.P99), MaxMS: ms(l.Max), BoundMS: ms(l.Bound), Over: l.Over()},
			Routes: []jsonRoute{}}
		if fb := run.Fallback; fb != nil {
			jrun.Fallback = &jsonFallback{From: fb.From, To: fb.To, AtMS: ms(fb.At), Decisions: fb.Decisions, Requests: fb.Requests, Cause: fb.Cause}
		}
		for _, rr := range run.Routes {
			jrun.Routes = append(jrun.Routes, jsonRoute{
				Route: rr.Route, Tenant: rr.Tenant, Path: rr.Path, DeadlineMS: ms(rr.Deadline),
				Sent: rr.Sent, OK: rr.OK, Refused: rr.Refused, Dropped: rr.Dropped, ServerErrors: rr.ServerErrors, Other: rr.Other,
				Throughput: rr.Throughput, P50MS: ms(rr.P50), P90MS: ms(rr.P90), P99MS: ms(rr.P99), MaxMS: ms(rr.Max),
				MissRatio: rr.MissRatio,
			})
		}
		jr.Runs = append(jr.Runs, jrun)
	}
	if r.Repeats > 1 {
		d := func(s Spread[time.Duration]) jsonSpread { return jsonSpread{ms(s.Median), ms(s.Min), ms(s.Max)} }
		for _, s := range r.Summaries() {
			jr.Summary = append(jr.Summary, jsonSummary{Policy: s.Policy, Rate: s.Rate, Route: s.Route, Runs: s.Runs,
				FellBack: s.FellBack, OKRuns: s.OKRuns, P50MS: d(s.P50), P99MS: d(s.P99),
				Miss: jsonSpread{s.Miss.Median, s.Miss.Min, s.Miss.Max}})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jr)
}

// DefaultDir is where Save writes by default: results/NAME-TIMESTAMP.
func (r *Report) DefaultDir() string {
	return filepath.Join("results", r.Workload+"-"+r.Started.Format("20060102-150405"))
}

// Save writes results.csv, results.json, with repeats summary.csv, and the
// charts (SVG and PNG) into dir, creating it, and returns the paths
// written.
func (r *Report) Save(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	write := func(name string, f func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		if err := writeFile(path, f); err != nil {
			return err
		}
		files = append(files, path)
		return nil
	}
	if err := write("results.csv", r.writeCSV); err != nil {
		return files, err
	}
	if err := write("results.json", r.writeJSON); err != nil {
		return files, err
	}
	if r.Repeats > 1 {
		if err := write("summary.csv", r.writeSummaryCSV); err != nil {
			return files, err
		}
	}
	// Charts render in parallel (rasterising a PNG takes a while), each
	// chart's formats in turn: drawing a plot changes it.
	charts := r.charts()
	errs := make([]error, len(charts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, c := range charts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, ext := range chartFormats {
				if errs[i] = writeFile(filepath.Join(dir, c.name+"."+ext), func(w io.Writer) error { return c.render(w, ext) }); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, c := range charts {
		if errs[i] != nil {
			return files, errs[i]
		}
		for _, ext := range chartFormats {
			files = append(files, filepath.Join(dir, c.name+"."+ext))
		}
	}
	return files, nil
}

var chartFormats = []string{"svg", "png"}

// writeFile creates path and writes it with f.
func writeFile(path string, f func(io.Writer) error) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f(out); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return out.Close()
}

// slug makes s usable in a file name.
func slug(s string) string {
	s = strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, s), "-")
	if s == "" {
		return "route"
	}
	return s
}

// targetList writes targets as --target takes them, in tenant order.
func targetList(targets map[string]string) string {
	var parts []string
	for t, u := range targets {
		if t != "" {
			u = t + "=" + u
		}
		parts = append(parts, u)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
