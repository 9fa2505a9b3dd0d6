package core

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// estimateWindow is how many recent execution times a route remembers.
const estimateWindow = 64

// Estimator keeps a route's recent execution times (CPU time in Running of
// successful requests) and their percentile, the route's estimate of one
// request's execution. Before the first sample the estimate is the
// configured expected_execution. Samples only fill the window as they come:
// the first one does not stand in for the whole window (SLEdge's did).
// The simulator (bench) keeps its routes' estimates with it too, so that a
// simulated policy sees what a served one would. Safe for concurrent use.
type Estimator struct {
	percentile int
	current    atomic.Int64 // the estimate in ns; read on every arrival

	mu      sync.Mutex
	samples [estimateWindow]time.Duration // a ring, oldest at next once full
	n, next int
	// sorted holds the window's samples in order, kept so by each Add: an
	// insertion and a removal by binary search cost ~50 ns, where sorting
	// the window anew was ~2 µs, 7% of an echo request's CPU.
	sorted []time.Duration
}

// NewEstimator starts an estimate at initial, for the percentile (1-100)
// of the window.
func NewEstimator(initial time.Duration, percentile int) *Estimator {
	e := &Estimator{percentile: percentile}
	e.current.Store(int64(initial))
	return e
}

// Estimate returns the current estimate.
func (e *Estimator) Estimate() time.Duration { return time.Duration(e.current.Load()) }

// Add records one execution time and recomputes the estimate. It runs once
// per successful request, off the yield path.
func (e *Estimator) Add(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == estimateWindow {
		old := e.samples[e.next]
		i, _ := slices.BinarySearch(e.sorted, old)
		e.sorted = slices.Delete(e.sorted, i, i+1)
	} else {
		e.n++
	}
	e.samples[e.next] = d
	e.next = (e.next + 1) % estimateWindow
	i, _ := slices.BinarySearch(e.sorted, d)
	e.sorted = slices.Insert(e.sorted, i, d)
	e.current.Store(int64(nearestRank(e.sorted, e.percentile)))
}

// nearestRank is the p-th percentile of sorted (nearest-rank method).
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}
