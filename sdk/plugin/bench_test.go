package plugin

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/gosledge/gosledge/plugins/edf"
	"github.com/gosledge/gosledge/sdk"
)

// BenchmarkDecision times one scheduling decision as the core makes it:
// Enqueue a task, then GetNext, on a queue of 100 tasks, for the built-in
// EDF in-process and for the same EDF served by the test plugin over each
// link (socket: the protocol's own; grpc: the Session stream, what every
// call cost before). floor is a bare round trip of a similar size between
// two processes over a Unix socket, with no protocol at all. Each reports
// the 50th and 99th percentiles per decision.
func BenchmarkDecision(b *testing.B) {
	b.Run("builtin", func(b *testing.B) { benchDecision(b, edf.New()) })
	b.Run("floor", benchFloor)
	for _, l := range links {
		b.Run(l.name, func(b *testing.B) {
			c := launch(b, "edf", LaunchOptions{CallTimeout: time.Second, grpcLink: l.grpc})
			benchDecision(b, c.Policy())
			if err := c.Err(); err != nil {
				b.Fatal(err)
			}
		})
	}
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
	reportPercentiles(b, samples)
}

func reportPercentiles(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// benchFloor: the test plugin in pingpong mode answers each write with 16
// bytes; the host writes a request the size of Enqueue+GetNext's.
func benchFloor(b *testing.B) {
	link, file, err := socketPair(time.Second)
	if errors.Is(err, errNoSocketLink) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(testBin, "pingpong")
	cmd.ExtraFiles = []*os.File{file}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	file.Close()
	defer func() {
		link.abort()
		link.close()
		cmd.Wait()
	}()
	req := decisionFrame(sdk.Task{ID: 1, Tenant: "t0", Route: "/a"})
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := link.roundTrip(req); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, samples)
}
