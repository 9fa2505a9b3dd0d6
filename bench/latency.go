package bench

import (
	"math"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// exactLimit is how many latencies a route keeps exactly in one run (512
// KiB); past it they go into a histogram, so a run's memory does not grow
// with its length (a simulated million requests, a long trace).
const exactLimit = 1 << 16

// The histogram's range and precision: 1 µs to one hour, 3 significant
// digits (a quantile is within 0.1% of the exact one), about 200 KiB.
const (
	histLowest  = int64(time.Microsecond)
	histHighest = int64(time.Hour)
	histDigits  = 3
)

// latencies are a route's latencies of its 200s: exact while there are at
// most exactLimit of them, else an HDR histogram. The zero value is empty.
type latencies struct {
	exact  []time.Duration // nil once hist holds everything
	sorted bool
	hist   *hdrhistogram.Histogram
	max    time.Duration // the largest added, exact either way
}

func (l *latencies) add(d time.Duration) {
	l.max = max(l.max, d)
	if l.hist == nil && len(l.exact) < exactLimit {
		l.exact, l.sorted = append(l.exact, d), false
		return
	}
	l.toHistogram()
	// Out of range: clamped, so the count stays right (max is exact).
	_ = l.hist.RecordValue(min(max(int64(d), histLowest), histHighest))
}

// toHistogram moves the exact latencies into the histogram.
func (l *latencies) toHistogram() {
	if l.hist != nil {
		return
	}
	l.hist = hdrhistogram.New(histLowest, histHighest, histDigits)
	for _, d := range l.exact {
		_ = l.hist.RecordValue(min(max(int64(d), histLowest), histHighest))
	}
	l.exact = nil
}

// len is how many latencies there are; a nil l has none.
func (l *latencies) len() int {
	if l == nil {
		return 0
	}
	if l.hist != nil {
		return int(l.hist.TotalCount())
	}
	return len(l.exact)
}

// Exact reports whether quantiles are exact (no histogram yet).
func (l *latencies) Exact() bool { return l.hist == nil }

func (l *latencies) sort() {
	if !l.sorted {
		slices.Sort(l.exact)
		l.sorted = true
	}
}

// quantile is the nearest-rank q-quantile (0 < q ≤ 1), 0 if empty.
func (l *latencies) quantile(q float64) time.Duration {
	switch {
	case l.len() == 0:
		return 0
	case l.hist != nil:
		return min(time.Duration(l.hist.ValueAtQuantile(100*q)), l.max)
	}
	l.sort()
	return quantile(l.exact, q)
}

// merged returns the latencies of l and o together, for charts that pool
// repeated runs; neither is changed, either may be nil.
func (l *latencies) merged(o *latencies) *latencies {
	if l == nil {
		l = &latencies{}
	}
	if o == nil {
		o = &latencies{}
	}
	out := &latencies{max: max(l.max, o.max)}
	if l.hist == nil && o.hist == nil && len(l.exact)+len(o.exact) <= exactLimit {
		out.exact = slices.Concat(l.exact, o.exact)
		return out
	}
	out.toHistogram()
	for _, in := range []*latencies{l, o} {
		if in.hist != nil {
			out.hist.Merge(in.hist)
		}
		for _, d := range in.exact {
			_ = out.hist.RecordValue(min(max(int64(d), histLowest), histHighest))
		}
	}
	return out
}

// cdf returns at most n points (latency, how many latencies are at most
// it), ascending, ending at the largest.
func (l *latencies) cdf(n int) []cdfPoint {
	total := l.len()
	if total == 0 || n < 2 {
		return nil
	}
	var pts []cdfPoint
	if l.hist == nil {
		l.sort()
		for j := range min(total, n) {
			i := j
			if total > n {
				i = j * (total - 1) / (n - 1)
			}
			pts = append(pts, cdfPoint{l.exact[i], i + 1})
		}
		return pts
	}
	// One point per histogram bucket, thinned to n evenly by rank.
	step := max(1, int(math.Ceil(float64(total)/float64(n))))
	seen, next := 0, step
	for _, b := range l.hist.Distribution() {
		if b.Count == 0 {
			continue
		}
		seen += int(b.Count)
		if seen >= next || seen == total {
			pts = append(pts, cdfPoint{min(time.Duration(b.To), l.max), seen})
			next = seen + step
		}
	}
	return pts
}

// cdfPoint is one point of a cumulative distribution.
type cdfPoint struct {
	at    time.Duration
	count int
}

// sortedExact returns the exact latencies, ascending (nil once they are a
// histogram).
func (l *latencies) sortedExact() []time.Duration {
	l.sort()
	return l.exact
}
