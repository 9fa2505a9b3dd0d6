package policytest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
)

// Queue is what a benchmark's setup returns: a policy already holding n
// tasks, and a generator of further tasks.
type Queue struct {
	Policy sdk.Policy
	Next   func() sdk.Task
}

// Benchmark measures one policy's queue operations at each size (number
// of tasks held): "ops/N" is the cost of an Enqueue, GetNext and Dequeue
// of a generated task (ns/op, allocations), "latency/N" the p50 and p99
// of each Enqueue+GetNext pair, with clock-ns, the cost of the two clock
// reads every sample includes. The queue keeps its size throughout.
func Benchmark(b *testing.B, setup func(n int) Queue, sizes ...int) {
	for _, n := range sizes {
		b.Run("ops/"+strconv.Itoa(n), func(b *testing.B) {
			q := setup(n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t := q.Next()
				q.Policy.Enqueue(t, sdk.Arrived)
				id, _ := q.Policy.GetNext(0, t.Arrival)
				q.Policy.Dequeue(id, sdk.Completed)
			}
		})
		b.Run("latency/"+strconv.Itoa(n), func(b *testing.B) {
			q := setup(n)
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t := q.Next()
				t0 := time.Now()
				q.Policy.Enqueue(t, sdk.Arrived)
				id, _ := q.Policy.GetNext(0, t.Arrival)
				samples = append(samples, time.Since(t0))
				q.Policy.Dequeue(id, sdk.Completed)
			}
			b.StopTimer()
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
			b.ReportMetric(float64(samples[len(samples)*99/100]), "p99-ns")
			b.ReportMetric(float64(clockCost()), "clock-ns")
		})
	}
}

// clockCost is the median cost of a time.Now/time.Since pair.
func clockCost() time.Duration {
	clock := make([]time.Duration, 1000)
	for i := range clock {
		t0 := time.Now()
		clock[i] = time.Since(t0)
	}
	slices.Sort(clock)
	return clock[len(clock)/2]
}
