package fifo

import (
	"slices"
	"testing"

	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/policytest"
)

func TestConformance(t *testing.T) {
	policytest.Run(t, func() sdk.Policy { return New() }, policytest.Options{RoundRobin: true})
}

func TestOrder(t *testing.T) {
	type op struct {
		kind string // "enq", "deq" (cancel), "next", "interrupt"
		id   sdk.TaskID
	}
	tests := []struct {
		name string
		ops  []op
		want []sdk.TaskID // GetNext results in order (0 = none)
		intr []bool       // OnInterrupt results in order
	}{
		{"arrival order", []op{{"enq", 1}, {"enq", 2}, {"enq", 3}, {"next", 0}, {"next", 0}, {"next", 0}, {"next", 0}},
			[]sdk.TaskID{1, 2, 3, 0}, nil},
		{"preempted goes to the tail", []op{{"enq", 1}, {"enq", 2}, {"next", 0}, {"interrupt", 1}, {"enq", 1}, {"next", 0}, {"next", 0}},
			[]sdk.TaskID{1, 2, 1}, []bool{true}},
		{"alone is not preempted", []op{{"enq", 1}, {"next", 0}, {"interrupt", 1}},
			[]sdk.TaskID{1}, []bool{false}},
		{"cancelled is skipped", []op{{"enq", 1}, {"enq", 2}, {"enq", 3}, {"deq", 2}, {"next", 0}, {"next", 0}, {"next", 0}},
			[]sdk.TaskID{1, 3, 0}, nil},
		{"only cancelled left: no interrupt", []op{{"enq", 1}, {"enq", 2}, {"next", 0}, {"deq", 2}, {"interrupt", 1}},
			[]sdk.TaskID{1}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			var got []sdk.TaskID
			var intr []bool
			for _, o := range tt.ops {
				switch o.kind {
				case "enq":
					f.Enqueue(sdk.Task{ID: o.id}, sdk.Arrived)
				case "deq":
					f.Dequeue(o.id, sdk.Cancelled)
				case "next":
					id, ok := f.GetNext(0, 0)
					if !ok {
						id = 0
					}
					got = append(got, id)
				case "interrupt":
					intr = append(intr, f.OnInterrupt(0, sdk.Task{ID: o.id}, 0))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GetNext order %v, want %v", got, tt.want)
			}
			if !slices.Equal(intr, tt.intr) {
				t.Errorf("OnInterrupt %v, want %v", intr, tt.intr)
			}
		})
	}
}

// TestCompaction checks that a long-running queue does not grow without
// bound.
func TestCompaction(t *testing.T) {
	f := New()
	for i := range 100000 {
		f.Enqueue(sdk.Task{ID: sdk.TaskID(i)}, sdk.Arrived)
		if id, ok := f.GetNext(0, 0); !ok || id != sdk.TaskID(i) {
			t.Fatalf("GetNext = %d %v, want %d", id, ok, i)
		}
	}
	if len(f.queue) > 200 {
		t.Errorf("queue slice holds %d entries with nothing queued", len(f.queue))
	}
}

func TestNeverPreemptsOnArrival(t *testing.T) {
	if New().WouldPreempt(0, sdk.Task{ID: 1, Deadline: 100}, sdk.Task{ID: 2, Deadline: 1}, 0) {
		t.Error("fifo WouldPreempt = true")
	}
}

func BenchmarkQueue(b *testing.B) {
	policytest.Benchmark(b, func(n int) policytest.Queue {
		f, next := New(), sdk.TaskID(0)
		gen := func() sdk.Task { next++; return sdk.Task{ID: next} }
		for range n {
			f.Enqueue(gen(), sdk.Arrived)
		}
		return policytest.Queue{Policy: f, Next: gen}
	}, 100, 10000, 100000)
}
