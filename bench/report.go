package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
	Started  time.Time // when Run began
	Runs     []RunReport
}

// RunReport is one policy at one offered rate.
type RunReport struct {
	Policy     string  // as listed, e.g. "fifo:nopreempt"
	Preemption bool    // in effect during the run
	Rate       float64 // offered load, req/s
	Routes     []RouteReport
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

	latencies []time.Duration // of the 200s, ascending
}

func (r *Report) sweep() bool {
	rates := map[float64]bool{}
	for _, run := range r.Runs {
		rates[run.Rate] = true
	}
	return len(rates) > 1
}

// WriteTable prints the report as a table, one row per run and route.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s: %s arrivals, %s measured after %s warm-up, seed %d, %d workers, serve config %s\n\n",
		r.Workload, r.Process, r.Duration, r.Warmup, r.Seed, r.Workers, r.Config)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tREQ/S\tROUTE\tDEADLINE\tSENT\t200\t429\t408\t5XX\tOTHER\tOK/S\tP50\tP90\tP99\tMAX\tMISS")
	for _, run := range r.Runs {
		for _, rr := range run.Routes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%.1f%%\n",
				run.Policy, fmtRate(run.Rate), rr.Route, rr.Deadline, rr.Sent, rr.OK, rr.Refused, rr.Dropped,
				rr.ServerErrors, rr.Other, rr.Throughput,
				fmtLatency(rr, rr.P50), fmtLatency(rr, rr.P90), fmtLatency(rr, rr.P99), fmtLatency(rr, rr.Max),
				100*rr.MissRatio)
		}
	}
	return tw.Flush()
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

func fmtLatency(rr RouteReport, d time.Duration) string {
	if rr.OK == 0 {
		return "-"
	}
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// csvHeader is the first line of results.csv.
var csvHeader = []string{
	"workload", "policy", "preemption", "rate", "route", "tenant", "path", "deadline_ms",
	"sent", "ok", "refused_429", "dropped_408", "errors_5xx", "other",
	"throughput_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "miss_ratio",
}

func (r *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	d := func(x time.Duration) string { return strconv.FormatFloat(ms(x), 'f', 3, 64) }
	for _, run := range r.Runs {
		for _, rr := range run.Routes {
			cw.Write([]string{
				r.Workload, run.Policy, strconv.FormatBool(run.Preemption), f(run.Rate), rr.Route, rr.Tenant, rr.Path, d(rr.Deadline),
				strconv.Itoa(rr.Sent), strconv.Itoa(rr.OK), strconv.Itoa(rr.Refused), strconv.Itoa(rr.Dropped),
				strconv.Itoa(rr.ServerErrors), strconv.Itoa(rr.Other),
				strconv.FormatFloat(rr.Throughput, 'f', 3, 64), d(rr.P50), d(rr.P90), d(rr.P99), d(rr.Max),
				strconv.FormatFloat(rr.MissRatio, 'f', 6, 64),
			})
		}
	}
	cw.Flush()
	return cw.Error()
}

// The JSON form: durations in milliseconds, names in snake case.
type (
	jsonReport struct {
		Workload   string    `json:"workload"`
		File       string    `json:"file"`
		Config     string    `json:"config"`
		Process    string    `json:"process"`
		Seed       uint64    `json:"seed"`
		DurationMS float64   `json:"duration_ms"`
		WarmupMS   float64   `json:"warmup_ms"`
		Workers    int       `json:"workers"`
		Started    time.Time `json:"started"`
		Runs       []jsonRun `json:"runs"`
	}
	jsonRun struct {
		Policy     string      `json:"policy"`
		Preemption bool        `json:"preemption"`
		Rate       float64     `json:"rate"`
		Routes     []jsonRoute `json:"routes"`
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
		DurationMS: ms(r.Duration), WarmupMS: ms(r.Warmup), Workers: r.Workers, Started: r.Started, Runs: []jsonRun{}}
	for _, run := range r.Runs {
		jrun := jsonRun{Policy: run.Policy, Preemption: run.Preemption, Rate: run.Rate, Routes: []jsonRoute{}}
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
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jr)
}

// DefaultDir is where Save writes by default: results/NAME-TIMESTAMP.
func (r *Report) DefaultDir() string {
	return filepath.Join("results", r.Workload+"-"+r.Started.Format("20060102-150405"))
}

// Save writes results.csv, results.json and the charts (SVG and PNG) into
// dir, creating it, and returns the paths written.
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
