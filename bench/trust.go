package bench

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gosledge/gosledge/core"
)

// What a run's figures can and cannot be trusted for: whether the policy
// under test ran all along (Fallback), whether the load generator kept to
// its schedule (Lag), and how much repeats of the same run differ
// (Summary).

// ErrFellBack is wrapped by Run's error when a strict run's policy fell
// back: its figures are partly the fallback's.
var ErrFellBack = errors.New("the policy under test fell back")

// Fallback is a policy plugin failing during a run and the built-in
// runtime.plugin_fallback taking over (core.Fallback, seen from the run).
type Fallback struct {
	From string        // the [[plugin]] under test
	To   string        // the built-in that ran the rest
	At   time.Duration // from the start of the run (its first scheduled send, warm-up included)
	// Cause is the plugin's fault, e.g. a call past plugin_timeout.
	Cause string
	// Decisions and Requests count the plugin's accepted answers and
	// the requests the server had received before the fault.
	Decisions, Requests uint64
}

func newFallback(fb core.Fallback, start time.Time) *Fallback {
	cause := ""
	if fb.Cause != nil {
		cause = fb.Cause.Error()
	}
	return &Fallback{From: fb.Plugin, To: fb.To, At: fb.Time.Sub(start), Cause: cause,
		Decisions: fb.Decisions, Requests: fb.Requests}
}

// String is how a report's policy column shows it: "llf→fifo@0.5s".
func (f *Fallback) String() string { return f.From + "→" + f.To + "@" + fmtOffset(f.At) }

// fmtOffset shows a time into a run to the precision that tells warm-up
// from measured time: 0.04s, 0.5s, 12s.
func fmtOffset(d time.Duration) string {
	switch s := d.Seconds(); {
	case s < 0.1:
		return fmt.Sprintf("%.2fs", s)
	case s < 10:
		return fmt.Sprintf("%.1fs", s)
	default:
		return fmt.Sprintf("%.0fs", s)
	}
}

// Lag is how late the load generator sent a run's measured requests
// against their schedule: from a request's due time to when a vegeta
// worker took it up. Latency is measured from the due time whatever the
// lag, but a lagging generator bunches arrivals, so the server saw a
// burstier load than the workload describes.
type Lag struct {
	P50, P99, Max time.Duration
	// Bound is the P99 past which the run is warned about (lagBound).
	Bound time.Duration
}

// Over reports whether the lag's P99 passed its bound.
func (l Lag) Over() bool { return l.P99 > l.Bound }

// Lag bound: the larger of lagFloor and lagShare of the tightest deadline
// in the mix. By then arrivals are displaced by a noticeable share of a
// deadline; below a millisecond the lag is scheduler noise of the client's
// own goroutines, which no loaded machine avoids.
const (
	lagFloor = time.Millisecond
	lagShare = 20 // 1/20 = 5%
)

func lagBound(routes []Route) time.Duration {
	var tightest time.Duration
	for _, rt := range routes {
		if rt.Deadline > 0 && (tightest == 0 || rt.Deadline < tightest) {
			tightest = rt.Deadline
		}
	}
	return max(lagFloor, tightest/lagShare)
}

func lagOf(lags []time.Duration, bound time.Duration) Lag {
	l := Lag{Bound: bound}
	if len(lags) > 0 {
		slices.Sort(lags)
		l.P50, l.P99, l.Max = quantile(lags, 0.5), quantile(lags, 0.99), lags[len(lags)-1]
	}
	return l
}

// Spread is the median and range of one figure over a run's repeats.
type Spread[T time.Duration | float64] struct {
	Median, Min, Max T
}

// spreadOf summarises xs (not empty); the median of an even count is the
// mean of the middle two.
func spreadOf[T time.Duration | float64](xs []T) Spread[T] {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = s[n/2-1] + (s[n/2]-s[n/2-1])/2
	}
	return Spread[T]{Median: med, Min: s[0], Max: s[n-1]}
}

// Summary is one policy, rate and route over the repeats of Run.
type Summary struct {
	Policy string
	Rate   float64
	Route  string
	Runs   int // repeats
	// FellBack counts the repeats in which the policy fell back.
	FellBack int
	// OKRuns counts the repeats with at least one 200: P50 and P99 are
	// over those only (zero if none).
	OKRuns   int
	P50, P99 Spread[time.Duration]
	Miss     Spread[float64]
}

// Summaries groups the runs by policy, rate and route, in the order they
// first ran.
func (r *Report) Summaries() []Summary {
	type key struct {
		policy string
		rate   float64
		route  string
	}
	type acc struct {
		s        Summary
		p50, p99 []time.Duration
		miss     []float64
	}
	groups := map[key]*acc{}
	var keys []key
	for _, run := range r.Runs {
		for _, rr := range run.Routes {
			k := key{run.Policy, run.Rate, rr.Route}
			a := groups[k]
			if a == nil {
				a = &acc{s: Summary{Policy: run.Policy, Rate: run.Rate, Route: rr.Route}}
				groups[k] = a
				keys = append(keys, k)
			}
			a.s.Runs++
			if run.Fallback != nil {
				a.s.FellBack++
			}
			if rr.OK > 0 {
				a.p50, a.p99 = append(a.p50, rr.P50), append(a.p99, rr.P99)
			}
			a.miss = append(a.miss, rr.MissRatio)
		}
	}
	out := make([]Summary, 0, len(keys))
	for _, k := range keys {
		a := groups[k]
		a.s.OKRuns = len(a.p50)
		if len(a.p50) > 0 {
			a.s.P50, a.s.P99 = spreadOf(a.p50), spreadOf(a.p99)
		}
		a.s.Miss = spreadOf(a.miss)
		out = append(out, a.s)
	}
	return out
}

// failure is the strict error for a run that fell back.
func (r *Report) failure(run RunReport) error {
	fb := run.Fallback
	return fmt.Errorf("strict: %s: %s: the plugin failed after %d decisions and %d requests and %s ran the rest, so these are not %s's figures: %s: %w",
		r.runName(run), fb, fb.Decisions, fb.Requests, fb.To, run.Policy, cmp.Or(fb.Cause, "unknown cause"), ErrFellBack)
}
