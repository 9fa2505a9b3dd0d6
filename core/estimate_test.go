package core

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestEstimator(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name       string
		percentile int
		samples    []time.Duration
		want       time.Duration
	}{
		{"no sample: configured", 70, nil, 5 * ms},
		{"one sample is one sample", 70, []time.Duration{1 * ms}, 1 * ms},
		{"p50 of four", 50, []time.Duration{4 * ms, 1 * ms, 3 * ms, 2 * ms}, 2 * ms},
		{"p70 of ten", 70, []time.Duration{10 * ms, 9 * ms, 8 * ms, 7 * ms, 6 * ms, 5 * ms, 4 * ms, 3 * ms, 2 * ms, 1 * ms}, 7 * ms},
		{"p99 is the max of few", 99, []time.Duration{1 * ms, 100 * ms, 2 * ms}, 100 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator(5*ms, tt.percentile)
			for _, s := range tt.samples {
				e.Add(s)
			}
			if got := e.Estimate(); got != tt.want {
				t.Errorf("Estimate() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEstimatorWindowSlides checks that old samples leave the window.
func TestEstimatorWindowSlides(t *testing.T) {
	e := NewEstimator(time.Second, 50)
	for range estimateWindow {
		e.Add(100 * time.Millisecond)
	}
	for range estimateWindow {
		e.Add(time.Millisecond)
	}
	if got := e.Estimate(); got != time.Millisecond {
		t.Errorf("after a full window of 1ms samples: %v", got)
	}
}

// TestEstimatorMatchesSortedWindow: the incrementally sorted window gives,
// after every sample, the percentile of the last estimateWindow samples
// sorted anew, duplicates included.
func TestEstimatorMatchesSortedWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []int{1, 50, 70, 99, 100} {
		e := NewEstimator(time.Second, p)
		var all []time.Duration
		for i := range 5 * estimateWindow {
			d := time.Duration(rng.IntN(40)) * time.Millisecond // many repeats
			e.Add(d)
			all = append(all, d)
			window := slices.Clone(all[max(0, len(all)-estimateWindow):])
			slices.Sort(window)
			if got, want := e.Estimate(), nearestRank(window, p); got != want {
				t.Fatalf("p%d after %d samples: %v, want %v", p, i+1, got, want)
			}
		}
	}
}
