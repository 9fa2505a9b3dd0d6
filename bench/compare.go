package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
)

// Compare prints, for every policy, rate and route of two saved reports
// (results.json of `sledge bench` and of `sledge sim`), p50, p99 and the
// miss ratio side by side with their difference (b − a). Rows present in
// only one report are listed as such.
func Compare(w io.Writer, aPath, bPath string) error {
	a, err := readJSONReport(aPath)
	if err != nil {
		return err
	}
	b, err := readJSONReport(bPath)
	if err != nil {
		return err
	}
	type key struct {
		policy, route string
		rate          float64
	}
	keyOf := func(run jsonRun, rt jsonRoute) key { return key{run.Policy, rt.Route, run.Rate} }
	other := map[key]jsonRoute{}
	for _, run := range b.Runs {
		for _, rt := range run.Routes {
			other[keyOf(run, rt)] = rt
		}
	}
	fmt.Fprintf(w, "%s (a: %s, %s) vs (b: %s, %s), %d workers vs %d\n\n", a.Workload, aPath, kind(a), bPath, kind(b), a.Workers, b.Workers)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "POLICY", "REQ/S", "ROUTE", "P50 a", "P50 b", "Δ", "P99 a", "P99 b", "Δ", "MISS a", "MISS b", "Δ")
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
	for _, run := range a.Runs {
		for _, ra := range run.Routes {
			rb, ok := other[keyOf(run, ra)]
			if !ok {
				row(tw, run.Policy, fmtRate(run.Rate), ra.Route, f(ra.P50MS), "-", "-", f(ra.P99MS), "-", "-", pct(ra.MissRatio), "-", "-")
				continue
			}
			row(tw, run.Policy, fmtRate(run.Rate), ra.Route,
				f(ra.P50MS), f(rb.P50MS), fmt.Sprintf("%+.2f", rb.P50MS-ra.P50MS),
				f(ra.P99MS), f(rb.P99MS), fmt.Sprintf("%+.2f", rb.P99MS-ra.P99MS),
				pct(ra.MissRatio), pct(rb.MissRatio), fmt.Sprintf("%+.1f", 100*(rb.MissRatio-ra.MissRatio)))
		}
	}
	fmt.Fprintln(tw, "(latencies in ms; Δ = b − a, in ms or percentage points)")
	return tw.Flush()
}

func kind(r *jsonReport) string {
	if r.Simulated {
		return "sim"
	}
	return "bench"
}

func readJSONReport(path string) (*jsonReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r jsonReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
