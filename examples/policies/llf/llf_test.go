package llf

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gosledge/gosledge/sdk"
	"github.com/gosledge/gosledge/sdk/policytest"
)

// Options is what LLF promises the conformance suite: it respects the
// laxity order exactly, including when it preempts.
var Options = policytest.Options{
	Before:     func(a, b sdk.Task) bool { return key(a) < key(b) },
	Preemptive: true,
}

func TestConformance(t *testing.T) {
	policytest.Run(t, func() sdk.Policy { return New() }, Options)
}

const ms = time.Millisecond

func tk(id sdk.TaskID, deadline, expected, ran, arrival time.Duration) sdk.Task {
	return sdk.Task{ID: id, Deadline: deadline, Expected: expected, Ran: ran, Arrival: arrival}
}

func TestLaxity(t *testing.T) {
	for _, tt := range []struct {
		t    sdk.Task
		now  time.Duration
		want time.Duration
	}{
		{tk(1, 10*ms, 3*ms, 0, 0), 2 * ms, 5 * ms},
		{tk(1, 10*ms, 3*ms, 1*ms, 0), 2 * ms, 6 * ms},
		{tk(1, 10*ms, 3*ms, 5*ms, 0), 2 * ms, 8 * ms}, // overran: Remaining 0
		{tk(1, 10*ms, 3*ms, 0, 0), 9 * ms, -2 * ms},   // will miss
	} {
		if got := Laxity(tt.t, tt.now); got != tt.want {
			t.Errorf("Laxity(%+v, %v) = %v, want %v", tt.t, tt.now, got, tt.want)
		}
	}
}

func TestOrder(t *testing.T) {
	l := New()
	// Laxity at 0: 1 → 10-8 = 2ms, 2 → 5-1 = 4ms, 3 → 20-19 = 1ms, 4 → 4-2 = 2ms
	// (ties with 1: earlier arrival first), 5 → 2ms, arrives last.
	l.Enqueue(tk(1, 10*ms, 8*ms, 0, 1), sdk.Arrived)
	l.Enqueue(tk(2, 5*ms, ms, 0, 2), sdk.Arrived)
	l.Enqueue(tk(3, 20*ms, 19*ms, 0, 3), sdk.Arrived)
	l.Enqueue(tk(4, 4*ms, 2*ms, 0, 0), sdk.Arrived)
	l.Enqueue(tk(5, 3*ms, ms, 0, 9), sdk.Arrived)
	l.Dequeue(5, sdk.Cancelled)
	if g := l.Report(0); len(g) != 1 || g[0].Value != 4 {
		t.Fatalf("Report = %v", g)
	}
	var got []sdk.TaskID
	for {
		id, ok := l.GetNext(0, 0)
		if !ok {
			break
		}
		got = append(got, id)
	}
	if want := []sdk.TaskID{3, 4, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("GetNext order %v, want %v (EDF would say 4, 2, 1, 3)", got, want)
	}
}

func TestPreemption(t *testing.T) {
	l := New()
	cur := tk(1, 10*ms, 4*ms, ms, 0) // laxity at now=2ms: 10-2-3 = 5ms
	if l.OnInterrupt(0, cur, 2*ms) {
		t.Fatal("OnInterrupt with nothing queued")
	}
	l.Enqueue(tk(2, 9*ms, 2*ms, 0, 2*ms), sdk.Arrived) // laxity 5ms: a tie keeps cur
	if l.OnInterrupt(0, cur, 2*ms) {
		t.Fatal("OnInterrupt preempted for an equal laxity")
	}
	l.Enqueue(tk(3, 6*ms, 0, 0, 2*ms), sdk.Arrived) // laxity 4ms
	if !l.OnInterrupt(0, cur, 2*ms) {
		t.Fatal("OnInterrupt kept cur with a smaller laxity queued")
	}
	// WouldPreempt compares at arriving.Arrival; an EDF would say the
	// opposite here (arriving has the later deadline).
	arriving := tk(4, 12*ms, 9*ms, 0, 2*ms) // laxity 1ms
	if !l.WouldPreempt(0, cur, arriving, arriving.Arrival) || l.WouldPreempt(0, arriving, cur, arriving.Arrival) {
		t.Fatal("WouldPreempt does not follow laxity")
	}
	if l.WouldPreempt(0, cur, cur, 0) {
		t.Fatal("WouldPreempt(cur, cur)")
	}
}

// ref is the reference LLF: a slice kept sorted by (key, arrival, ID),
// searched linearly. Slow and obviously right.
type ref struct{ es []entry }

func (r *ref) less(a, b entry) bool { return less(&a, &b) }

func (r *ref) enqueue(t sdk.Task) {
	r.dequeue(t.ID)
	e := entry{id: t.ID, key: key(t), arrival: t.Arrival}
	i := 0
	for i < len(r.es) && r.less(r.es[i], e) {
		i++
	}
	r.es = slices.Insert(r.es, i, e)
}

func (r *ref) getNext() (sdk.TaskID, bool) {
	if len(r.es) == 0 {
		return 0, false
	}
	id := r.es[0].id
	r.es = r.es[1:]
	return id, true
}

func (r *ref) dequeue(id sdk.TaskID) {
	r.es = slices.DeleteFunc(r.es, func(e entry) bool { return e.id == id })
}

func (r *ref) onInterrupt(cur sdk.Task, now time.Duration) bool {
	return len(r.es) > 0 && r.es[0].key-now < Laxity(cur, now)
}

// TestHammer runs LLF and the reference on the same random sequence of
// enqueues (some of an ID already queued), pops, dequeues (of queued,
// popped and never-seen IDs) and interrupts, and compares every answer
// and the queue length after every step.
func TestHammer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		steps  int
		keys   int                           // deadlines and expectations in [0, keys) ms: few keys, many ties
		pEnq   int                           // percent of steps that enqueue
		id     func(r *rand.Rand) sdk.TaskID // the next new ID
		maxLen int                           // pop instead of enqueue above this length
	}{
		{"sequential", 20000, 1000, 50, nil, 300},
		{"ties", 20000, 3, 50, nil, 300},
		{"grow", 20000, 50, 80, nil, 5000},
		{"drain", 20000, 100, 30, nil, 100},
		{"sparse IDs", 20000, 1000, 55, func(r *rand.Rand) sdk.TaskID { return sdk.TaskID(r.Uint64() >> 1) }, 500},
		// multiples of 2^40 share their low bits: only the multiplicative
		// hash separates them.
		{"strided IDs", 20000, 100, 55, func(r *rand.Rand) sdk.TaskID { return sdk.TaskID(r.IntN(1<<20)) << 40 }, 500},
		{"small IDs", 20000, 100, 60, func(r *rand.Rand) sdk.TaskID { return sdk.TaskID(r.IntN(64)) }, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(tc.name)), uint64(tc.steps)))
			l, r := New(), &ref{}
			var seen []sdk.TaskID
			next := sdk.TaskID(0)
			newID := func() sdk.TaskID {
				if tc.id != nil {
					return tc.id(rng)
				}
				next++
				return next
			}
			d := func() time.Duration { return time.Duration(rng.IntN(tc.keys)) * ms }
			now := time.Duration(0)
			for step := range tc.steps {
				now += time.Duration(rng.IntN(1000)) * time.Microsecond
				switch p := rng.IntN(100); {
				case p < tc.pEnq && len(r.es) < tc.maxLen:
					id := newID()
					if len(seen) > 0 && rng.IntN(20) == 0 { // re-enqueue a known ID
						id = seen[rng.IntN(len(seen))]
					}
					seen = append(seen, id)
					task := sdk.Task{ID: id, Arrival: now - d(), Deadline: now + d(), Expected: d(), Ran: d() / 2}
					l.Enqueue(task, sdk.EnqueueReason(rng.IntN(3)))
					r.enqueue(task)
				case p < tc.pEnq+(100-tc.pEnq)/2 || len(seen) == 0:
					got, gok := l.GetNext(0, now)
					want, wok := r.getNext()
					if got != want || gok != wok {
						t.Fatalf("step %d: GetNext = %d, %v; want %d, %v", step, got, gok, want, wok)
					}
				case p < 97:
					id := seen[rng.IntN(len(seen))]
					if rng.IntN(4) == 0 {
						id = newID() // most likely never seen
					}
					l.Dequeue(id, sdk.Completed)
					r.dequeue(id)
				default:
					cur := sdk.Task{ID: newID(), Deadline: now + d(), Expected: d()}
					if got, want := l.OnInterrupt(0, cur, now), r.onInterrupt(cur, now); got != want {
						t.Fatalf("step %d: OnInterrupt = %v, want %v", step, got, want)
					}
				}
				if g := l.Report(now); g[0].Value != float64(len(r.es)) {
					t.Fatalf("step %d: %v queued, want %d", step, g[0].Value, len(r.es))
				}
			}
			for { // what is left comes out in the same order
				got, gok := l.GetNext(0, now)
				want, wok := r.getNext()
				if got != want || gok != wok {
					t.Fatalf("drain: GetNext = %d, %v; want %d, %v", got, gok, want, wok)
				}
				if !gok {
					break
				}
			}
		})
	}
}

// TestNoAllocs: once the queue has reached its size, an Enqueue, GetNext
// and Dequeue allocate nothing (the point of the hand-written heap and
// index: allocation is what a Go policy pays most for in Wasm).
func TestNoAllocs(t *testing.T) {
	for _, n := range []int{0, 1, 100, 10000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			l := New()
			id := sdk.TaskID(0)
			task := func() sdk.Task {
				id++
				return tk(id, time.Duration(id%97)*ms, ms, 0, time.Duration(id))
			}
			for range n {
				l.Enqueue(task(), sdk.Arrived)
			}
			// warm: the table grows at the first enqueue past half full
			l.Enqueue(task(), sdk.Arrived)
			l.GetNext(0, 0)
			if a := testing.AllocsPerRun(1000, func() {
				l.Enqueue(task(), sdk.Arrived)
				got, _ := l.GetNext(0, 0)
				l.Dequeue(got, sdk.Completed)
				l.Dequeue(id+1, sdk.Cancelled)
			}); a != 0 {
				t.Errorf("%v allocations per decision", a)
			}
		})
	}
}
