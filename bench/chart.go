package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A chart is one figure, saved as SVG and PNG.
type chart struct {
	name string // file name without extension
	plot *plot.Plot
}

const (
	chartWidth  = 7 * vg.Inch
	chartHeight = 4.5 * vg.Inch
	cdfPoints   = 400 // at most, per line
)

func (c chart) render(w io.Writer, format string) error {
	wt, err := c.plot.WriterTo(chartWidth, chartHeight, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// charts draws, for every rate and route, the latency CDF with one line
// per policy and, when rates were swept, the miss ratio against the
// offered load with one line per policy, over all routes and (if there
// are several) per route.
func (r *Report) charts() []chart {
	var rates []float64
	var policies []string
	runs := r.pooled()
	for _, run := range runs {
		if !slices.Contains(rates, run.Rate) {
			rates = append(rates, run.Rate)
		}
		if !slices.Contains(policies, run.Policy) {
			policies = append(policies, run.Policy)
		}
	}
	if len(runs) == 0 {
		return nil
	}
	sweep := len(rates) > 1
	var cs []chart
	routes := runs[0].Routes
	for _, rate := range rates {
		for k, route := range routes {
			name := "cdf-" + slug(route.Route)
			if sweep {
				name += "-" + fmtRate(rate) + "rps"
			}
			cs = append(cs, chart{name, r.cdf(runs, rate, k, policies)})
		}
	}
	if sweep {
		cs = append(cs, chart{"miss-vs-load", r.missVsLoad(runs, -1, policies)})
		for k, route := range routes {
			if len(routes) == 1 {
				break // the same as over all routes
			}
			cs = append(cs, chart{"miss-vs-load-" + slug(route.Route), r.missVsLoad(runs, k, policies)})
		}
	}
	return cs
}

// pooledRun is the repeats of one policy at one rate taken together, as
// if they were one longer run: a chart shows a distribution, the summary
// table the spread between repeats.
type pooledRun struct {
	RunReport
	runs, fellBack int
}

// pooled merges the repeats of each policy at each rate, in run order.
func (r *Report) pooled() []pooledRun {
	var out []pooledRun
	for _, run := range r.Runs {
		i := slices.IndexFunc(out, func(p pooledRun) bool { return p.Policy == run.Policy && p.Rate == run.Rate })
		if i < 0 {
			p := pooledRun{RunReport: run}
			p.Routes = slices.Clone(run.Routes)
			out, i = append(out, p), len(out)
		} else {
			p := &out[i]
			for k, rr := range run.Routes {
				pr := &p.Routes[k]
				sent := pr.Sent + rr.Sent
				if sent > 0 {
					pr.MissRatio = (pr.MissRatio*float64(pr.Sent) + rr.MissRatio*float64(rr.Sent)) / float64(sent)
				}
				pr.Sent = sent
				pr.latencies = pr.latencies.merged(rr.latencies)
			}
		}
		out[i].runs++
		if run.Fallback != nil {
			out[i].fellBack++
		}
	}
	return out
}

// legend names a pooled run in a chart, saying if its policy fell back.
func (p pooledRun) legend() string {
	if p.runs == 1 {
		return p.label()
	}
	if p.fellBack > 0 {
		return fmt.Sprintf("%s (%d runs, %d fell back)", p.Policy, p.runs, p.fellBack)
	}
	return fmt.Sprintf("%s (%d runs)", p.Policy, p.runs)
}

func lineStyle(i int) draw.LineStyle {
	return draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.5)}
}

// cdf plots, for route k at rate, the share of sent requests answered 200
// within x of their intended send time, one line per policy; the curve
// tops out at the route's success ratio.
func (r *Report) cdf(runs []pooledRun, rate float64, k int, policies []string) *plot.Plot {
	p := plot.New()
	p.Add(plotter.NewGrid())
	var route RouteReport
	lo, hi := 0.0, 0.0
	for _, run := range runs {
		if run.Rate != rate {
			continue
		}
		rr := run.Routes[k]
		route = rr
		pts := rr.latencies.cdf(cdfPoints)
		if len(pts) == 0 || rr.Sent == 0 {
			continue
		}
		m := len(pts)
		xys := make(plotter.XYs, m)
		for j, pt := range pts {
			xys[j].X = max(ms(pt.at), 0.001)
			xys[j].Y = float64(pt.count) / float64(rr.Sent)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		l.LineStyle = lineStyle(slices.Index(policies, run.Policy))
		p.Add(l)
		p.Legend.Add(run.legend(), l)
		if lo == 0 || xys[0].X < lo {
			lo = xys[0].X
		}
		hi = max(hi, xys[m-1].X)
	}
	dl := max(ms(route.Deadline), 0.001)
	deadline, _ := plotter.NewLine(plotter.XYs{{X: dl, Y: 0}, {X: dl, Y: 1}})
	deadline.LineStyle = draw.LineStyle{Color: color.Gray{Y: 96}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	p.Add(deadline)
	p.Legend.Add("deadline "+route.Deadline.String(), deadline)

	p.Title.Text = fmt.Sprintf("%s, %s at %s req/s: latency CDF from intended send time", r.Workload, route.Route, fmtRate(rate))
	// Short: gonum reserves room for the label around the arithmetic
	// middle of the range, far right on a log scale.
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "share of sent requests answered 200"
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Y.Tick.Marker = shareTicks()
	if lo == 0 { // no line: show around the deadline
		lo, hi = dl, dl
	}
	p.X.Min, p.X.Max = min(lo, dl)/1.5, max(hi, dl)*1.5
	// CDFs leave the bottom right empty; the legend goes there, above
	// the X axis.
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), vg.Points(8)
	return p
}

// missVsLoad plots the deadline-miss ratio of route k (all routes if k <
// 0) against the offered load, one line per policy.
func (r *Report) missVsLoad(runs []pooledRun, k int, policies []string) *plot.Plot {
	p := plot.New()
	p.Add(plotter.NewGrid())
	what := "all routes"
	if k >= 0 && len(runs) > 0 {
		what = runs[0].Routes[k].Route
	}
	for i, pol := range policies {
		var xys plotter.XYs
		fellBack := 0
		for _, run := range runs {
			if run.Policy != pol {
				continue
			}
			fellBack += run.fellBack
			sent, missed := 0, 0.0
			for j, rr := range run.Routes {
				if k < 0 || j == k {
					sent += rr.Sent
					missed += rr.MissRatio * float64(rr.Sent)
				}
			}
			y := 0.0
			if sent > 0 {
				y = missed / float64(sent)
			}
			xys = append(xys, plotter.XY{X: run.Rate, Y: y})
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		l.LineStyle = lineStyle(i)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		label := pol
		if fellBack > 0 {
			label += fmt.Sprintf(" (fell back in %d runs)", fellBack)
		}
		p.Legend.Add(label, l, pts)
	}
	var rates plot.ConstantTicks
	for _, run := range runs {
		if !slices.ContainsFunc(rates, func(t plot.Tick) bool { return t.Value == run.Rate }) {
			rates = append(rates, plot.Tick{Value: run.Rate, Label: fmtRate(run.Rate)})
		}
	}
	if len(rates) <= 12 {
		p.X.Tick.Marker = rates
	}
	p.Title.Text = fmt.Sprintf("%s: deadline-miss ratio, %s", r.Workload, what)
	p.X.Label.Text = "offered load (req/s)"
	p.Y.Label.Text = "miss ratio (not 200 within the deadline)"
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = shareTicks()
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

// logTicks labels 1, 2 and 5 times the powers of ten (only the powers
// over more than three decades), with minor ticks between.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	wide := math.Log10(hi/lo) > 3 // label the powers of ten only
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || !wide && (m == 2 || m == 5) {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// shareTicks marks 0 to 1 by tenths, labelling every other.
func shareTicks() plot.ConstantTicks {
	var ts plot.ConstantTicks
	for i := 0; i <= 10; i++ {
		t := plot.Tick{Value: float64(i) / 10}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(t.Value, 'f', 1, 64)
		}
		ts = append(ts, t)
	}
	return ts
}
