package edf

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/policytest"
)

func TestConformance(t *testing.T) {
	policytest.Run(t, func() sdk.Policy { return New() }, policytest.Options{
		Before:     func(a, b sdk.Task) bool { return a.Deadline < b.Deadline },
		Preemptive: true,
	})
}

// op is one call in a table-driven test.
type op = policytest.Op

func enq(id sdk.TaskID, deadline, arrival time.Duration) op {
	return op{Kind: "enq", Task: sdk.Task{ID: id, Deadline: deadline, Arrival: arrival}}
}
func pre(id sdk.TaskID, deadline, arrival time.Duration) op {
	return op{Kind: "pre", Task: sdk.Task{ID: id, Deadline: deadline, Arrival: arrival}}
}
func cancel(id sdk.TaskID) op { return op{Kind: "cancel", Task: sdk.Task{ID: id}} }
func done(id sdk.TaskID) op   { return op{Kind: "done", Task: sdk.Task{ID: id}} }
func next() op                { return op{Kind: "next"} }
func intr(id sdk.TaskID, deadline time.Duration) op {
	return op{Kind: "intr", Task: sdk.Task{ID: id, Deadline: deadline}}
}
func would(cur, arriving time.Duration) op {
	return op{Kind: "would", Task: sdk.Task{ID: 1000, Deadline: cur}, Arriving: sdk.Task{ID: 1001, Deadline: arriving}}
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
		want []sdk.TaskID // GetNext results in order (0 = none)
		yes  []bool       // OnInterrupt and WouldPreempt results in order
	}{
		{"earliest deadline first",
			[]op{enq(1, 30, 0), enq(2, 10, 0), enq(3, 20, 0), next(), next(), next(), next()},
			[]sdk.TaskID{2, 3, 1, 0}, nil},
		{"ties by arrival, then ID",
			[]op{enq(5, 10, 2), enq(4, 10, 1), enq(3, 10, 1), enq(1, 11, 0), enq(2, 9, 5), next(), next(), next(), next(), next()},
			[]sdk.TaskID{2, 3, 4, 5, 1}, nil},
		{"deadlines already past come first",
			[]op{enq(1, 50, 0), enq(2, 0, 0), enq(3, 1<<62, 0), next(), next(), next()},
			[]sdk.TaskID{2, 1, 3}, nil},
		{"preempted only for a strictly earlier deadline",
			[]op{enq(1, 10, 0), next(), enq(2, 20, 1), intr(1, 10), enq(3, 10, 2), intr(1, 10), enq(4, 5, 3), intr(1, 10),
				pre(1, 10, 0), next(), next(), next(), next(), next()},
			[]sdk.TaskID{1, 4, 1, 3, 2, 0}, []bool{false, false, true}},
		{"nothing queued: no preemption",
			[]op{intr(1, 1<<62), enq(2, 3, 0), next(), intr(1, 1<<62)},
			[]sdk.TaskID{2}, []bool{false, false}},
		{"WouldPreempt: strictly earlier arriving deadline",
			[]op{would(10, 9), would(10, 10), would(10, 11), would(0, 0)},
			nil, []bool{true, false, false, false}},
		{"cancel in the middle of the heap",
			[]op{enq(1, 50, 0), enq(2, 20, 0), enq(3, 80, 0), enq(4, 10, 0), enq(5, 60, 0), enq(6, 30, 0), enq(7, 90, 0),
				enq(8, 40, 0), enq(9, 70, 0), enq(10, 100, 0),
				cancel(6), cancel(5), cancel(3), cancel(4), // the minimum last
				intr(99, 25), intr(99, 15),
				next(), next(), next(), next(), next(), next(), next()},
			[]sdk.TaskID{2, 8, 1, 9, 7, 10, 0}, []bool{true, false}},
		{"cancel the last queued task",
			[]op{enq(1, 1, 0), cancel(1), intr(99, 5), next()},
			[]sdk.TaskID{0}, []bool{false}},
		{"dequeue of a running or unknown task is a notification",
			[]op{enq(1, 10, 0), enq(2, 20, 0), next(), done(1), cancel(1), cancel(99), next(), next()},
			[]sdk.TaskID{1, 2, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, yes := policytest.Replay(New(), tt.ops)
			if !slices.Equal(got, tt.want) {
				t.Errorf("GetNext order %v, want %v", got, tt.want)
			}
			if !slices.Equal(yes, tt.yes) {
				t.Errorf("OnInterrupt/WouldPreempt %v, want %v", yes, tt.yes)
			}
		})
	}
}

// bench returns n queued tasks and a generator of more: task i arrives at
// i µs with a random relative deadline up to 2n µs, so a new task lands
// anywhere in the queue and the queue keeps its size.
func bench(n int) (*EDF, func() sdk.Task) {
	e := New()
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	gen := func() sdk.Task {
		i++
		at := time.Duration(i) * time.Microsecond
		return sdk.Task{ID: sdk.TaskID(i), Arrival: at, Deadline: at + time.Duration(rng.IntN(2*n))*time.Microsecond}
	}
	for range n {
		e.Enqueue(gen(), sdk.Arrived)
	}
	return e, gen
}

func BenchmarkQueue(b *testing.B) {
	policytest.Benchmark(b, func(n int) policytest.Queue {
		p, next := bench(n)
		return policytest.Queue{Policy: p, Next: next}
	}, 100, 10000, 100000)
}
