package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestLatencies: exact up to exactLimit, then a histogram whose quantiles
// are within its 0.1% of the exact ones and whose size does not grow.
func TestLatencies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l latencies
	var all []time.Duration
	for i := range 3 * exactLimit {
		d := time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		all = append(all, d)
		l.add(d)
		if i+1 == exactLimit && !l.Exact() {
			t.Fatal("a histogram before exactLimit latencies")
		}
		if i+1 == exactLimit {
			for _, q := range []float64{0.5, 0.99, 1} {
				if got, want := l.quantile(q), quantile(slices.Sorted(slices.Values(all)), q); got != want {
					t.Errorf("exact quantile(%v) = %v, want %v", q, got, want)
				}
			}
		}
	}
	if l.Exact() || l.exact != nil || l.len() != len(all) {
		t.Fatalf("after %d: exact %v, len %d", len(all), l.Exact(), l.len())
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		got, want := l.quantile(q), quantile(all, q)
		if diff := float64(got-want) / float64(want); diff < -0.002 || diff > 0.002 {
			t.Errorf("quantile(%v) = %v, exact %v (%.3f%%)", q, got, want, 100*diff)
		}
	}
	if l.quantile(1) != all[len(all)-1] || l.max != all[len(all)-1] {
		t.Errorf("max %v / quantile(1) %v, want %v", l.max, l.quantile(1), all[len(all)-1])
	}
	pts := l.cdf(400)
	if len(pts) == 0 || len(pts) > 401 || pts[len(pts)-1].count != len(all) {
		t.Fatalf("cdf: %d points, last %+v", len(pts), pts[len(pts)-1])
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].at < pts[i-1].at || pts[i].count <= pts[i-1].count {
			t.Fatalf("cdf not ascending at %d: %+v %+v", i, pts[i-1], pts[i])
		}
	}
}

func TestLatenciesMerged(t *testing.T) {
	var a, b latencies
	for i := range 10 {
		a.add(time.Duration(i) * time.Millisecond)
		b.add(time.Duration(10+i) * time.Millisecond)
	}
	m := a.merged(&b)
	if !m.Exact() || m.len() != 20 || m.quantile(0.5) != 9*time.Millisecond || m.max != 19*time.Millisecond {
		t.Errorf("small merge: exact %v len %d p50 %v max %v", m.Exact(), m.len(), m.quantile(0.5), m.max)
	}
	for range exactLimit {
		b.add(time.Millisecond)
	}
	m = a.merged(&b)
	if m.Exact() || m.len() != 20+exactLimit || a.len() != 10 {
		t.Errorf("big merge: exact %v len %d (a %d)", m.Exact(), m.len(), a.len())
	}
	if (*latencies)(nil).merged(nil).len() != 0 {
		t.Error("merging nils is not empty")
	}
}
