package sjf

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
		Before:     func(a, b sdk.Task) bool { return a.Remaining() < b.Remaining() },
		Preemptive: true,
	})
}

// op is one call in a table-driven test.
type op = policytest.Op

// task builds a task; durations are in ms.
func task(id sdk.TaskID, expected, ran, arrival time.Duration) sdk.Task {
	return sdk.Task{ID: id, Expected: expected * ms, Ran: ran * ms, Arrival: arrival * ms}
}

const ms = time.Millisecond

func enq(id sdk.TaskID, expected, ran, arrival time.Duration) op {
	return op{Kind: "enq", Task: task(id, expected, ran, arrival)}
}
func pre(id sdk.TaskID, expected, ran, arrival time.Duration) op {
	return op{Kind: "pre", Task: task(id, expected, ran, arrival)}
}
func cancel(id sdk.TaskID) op { return op{Kind: "cancel", Task: sdk.Task{ID: id}} }
func done(id sdk.TaskID) op   { return op{Kind: "done", Task: sdk.Task{ID: id}} }
func next() op                { return op{Kind: "next"} }
func intr(id sdk.TaskID, expected, ran time.Duration) op {
	return op{Kind: "intr", Task: task(id, expected, ran, 0)}
}
func would(cur, arriving sdk.Task) op { return op{Kind: "would", Task: cur, Arriving: arriving} }

func TestOrder(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
		want []sdk.TaskID // GetNext results in order (0 = none)
		yes  []bool       // OnInterrupt and WouldPreempt results in order
	}{
		{"shortest expected first",
			[]op{enq(1, 30, 0, 0), enq(2, 10, 0, 0), enq(3, 20, 0, 0), next(), next(), next(), next()},
			[]sdk.TaskID{2, 3, 1, 0}, nil},
		{"remaining is expected minus ran",
			[]op{enq(1, 10, 8, 0), enq(2, 5, 0, 0), enq(3, 3, 0, 0), next(), next(), next()},
			[]sdk.TaskID{1, 3, 2}, nil},
		{"a preempted task that has run keeps its smaller key",
			// 1 (expects 10) runs 6, then 3 (expects 1) preempts it; 1
			// has 4 left, less than 2's 5, so it goes before 2.
			[]op{enq(1, 10, 0, 0), next(), enq(2, 5, 0, 1), intr(1, 10, 6), enq(3, 1, 0, 2), intr(1, 10, 6),
				pre(1, 10, 6, 0), next(), next(), next(), next()},
			[]sdk.TaskID{1, 3, 1, 2, 0}, []bool{false, true}},
		{"remaining floors at zero; ties by arrival, then ID",
			[]op{enq(1, 2, 5, 5), enq(2, 0, 0, 3), enq(4, 1, 0, 0), enq(3, 3, 9, 3), next(), next(), next(), next()},
			[]sdk.TaskID{2, 3, 1, 4}, nil},
		{"an overrun task is not preempted by a zero-remaining one",
			[]op{enq(2, 0, 0, 0), intr(1, 1, 3), intr(1, 1, 1), intr(1, 2, 1)},
			nil, []bool{false, false, true}},
		{"OnInterrupt uses cur's remaining at the interrupt",
			[]op{enq(2, 5, 0, 0), intr(1, 10, 0), intr(1, 10, 4), intr(1, 10, 5), intr(1, 10, 6)},
			nil, []bool{true, true, false, false}},
		{"nothing queued: no preemption",
			[]op{intr(1, 100, 0), enq(2, 1, 0, 0), next(), intr(1, 100, 0)},
			[]sdk.TaskID{2}, []bool{false, false}},
		{"WouldPreempt compares remaining, strictly",
			[]op{
				would(task(1, 10, 7, 0), task(2, 2, 0, 1)), // 2 < 3
				would(task(1, 10, 7, 0), task(2, 3, 0, 1)), // 3 = 3
				would(task(1, 10, 7, 0), task(2, 5, 4, 1)), // a woken task: 1 < 3
				would(task(1, 1, 5, 0), task(2, 0, 0, 1)),  // 0 = 0
				would(task(1, 5, 0, 0), task(2, 9, 0, 1)),
			},
			nil, []bool{true, false, true, false, false}},
		{"deadlines are ignored",
			[]op{{Kind: "enq", Task: sdk.Task{ID: 1, Deadline: ms, Expected: 10 * ms}}, {Kind: "enq", Task: sdk.Task{ID: 2, Deadline: time.Hour, Expected: ms}},
				next(), next()},
			[]sdk.TaskID{2, 1}, nil},
		{"cancel in the middle of the heap",
			[]op{enq(1, 50, 0, 0), enq(2, 20, 0, 0), enq(3, 80, 0, 0), enq(4, 10, 0, 0), enq(5, 60, 0, 0), enq(6, 30, 0, 0),
				enq(7, 90, 0, 0), enq(8, 40, 0, 0), enq(9, 70, 0, 0), enq(10, 100, 0, 0),
				cancel(6), cancel(5), cancel(3), cancel(4), // the minimum last
				intr(99, 25, 0), intr(99, 15, 0),
				next(), next(), next(), next(), next(), next(), next()},
			[]sdk.TaskID{2, 8, 1, 9, 7, 10, 0}, []bool{true, false}},
		{"dequeue of a running or unknown task is a notification",
			[]op{enq(1, 10, 0, 0), enq(2, 20, 0, 0), next(), done(1), cancel(1), cancel(99), next(), next()},
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

// bench returns n queued tasks and a generator of more, with expected
// execution uniform up to 2n µs and a third of them having run part of it.
func bench(n int) (*SJF, func() sdk.Task) {
	s := New()
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	gen := func() sdk.Task {
		i++
		exp := time.Duration(rng.IntN(2*n)) * time.Microsecond
		t := sdk.Task{ID: sdk.TaskID(i), Arrival: time.Duration(i) * time.Microsecond, Expected: exp}
		if i%3 == 0 {
			t.Ran = exp / 2
		}
		return t
	}
	for range n {
		s.Enqueue(gen(), sdk.Arrived)
	}
	return s, gen
}

func BenchmarkQueue(b *testing.B) {
	policytest.Benchmark(b, func(n int) policytest.Queue {
		p, next := bench(n)
		return policytest.Queue{Policy: p, Next: next}
	}, 100, 10000, 100000)
}
