package llf

import (
	"slices"
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
	if !l.WouldPreempt(0, cur, arriving) || l.WouldPreempt(0, arriving, cur) {
		t.Fatal("WouldPreempt does not follow laxity")
	}
	if l.WouldPreempt(0, cur, cur) {
		t.Fatal("WouldPreempt(cur, cur)")
	}
}
