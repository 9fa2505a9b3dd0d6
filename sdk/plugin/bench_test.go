package plugin

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/sdk"
)

// BenchmarkDecision times one scheduling decision as the core makes it:
// Enqueue a task, then GetNext, on a queue of 100 tasks, for the built-in
// EDF in-process and for the same EDF served by the test plugin. It
// reports the 50th and 99th percentiles per decision.
func BenchmarkDecision(b *testing.B) {
	b.Run("builtin", func(b *testing.B) { benchDecision(b, edf.New()) })
	b.Run("plugin", func(b *testing.B) {
		c := launch(b, "edf", LaunchOptions{CallTimeout: time.Second})
		benchDecision(b, c.Policy())
		if err := c.Err(); err != nil {
			b.Fatal(err)
		}
	})
}

func benchDecision(b *testing.B, p sdk.Policy) {
	rng := rand.New(rand.NewPCG(1, 2))
	id := sdk.TaskID(0)
	gen := func() sdk.Task {
		id++
		at := time.Duration(id) * time.Microsecond
		return sdk.Task{ID: id, Tenant: "t0", Route: "/a", Arrival: at, Deadline: at + time.Duration(rng.IntN(200))*time.Microsecond, Expected: time.Microsecond}
	}
	for range 100 {
		p.Enqueue(gen(), sdk.Arrived)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t := gen()
		t0 := time.Now()
		p.Enqueue(t, sdk.Arrived)
		if _, ok := p.GetNext(0, t.Arrival); !ok {
			b.Fatal("GetNext: nothing")
		}
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}
