package core

import (
	"testing"
	"time"
)

// TestTransitionsExhaustive checks every (from, to) pair against the
// lifecycle the design names.
func TestTransitionsExhaustive(t *testing.T) {
	legal := map[[2]State]bool{
		{StateInitialized, StateRunnable}: true,
		{StateRunnable, StateRunning}:     true,
		{StateRunning, StatePreempted}:    true,
		{StatePreempted, StateRunning}:    true,
		{StateRunning, StateBlocked}:      true,
		{StateBlocked, StateRunnable}:     true,
		{StateRunning, StateReturned}:     true,
		{StateReturned, StateComplete}:    true,
	}
	for from := State(0); from < numStates; from++ {
		if from != StateComplete && from != StateError {
			legal[[2]State{from, StateError}] = true
		}
	}
	for from := State(0); from <= numStates; from++ {
		for to := State(0); to <= numStates; to++ {
			want := legal[[2]State{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
			c := StateClock{state: from}
			err := c.To(to, time.Second)
			if from < numStates && (err == nil) != want {
				t.Errorf("To(%s → %s) error = %v, want legal=%v", from, to, err, want)
			}
			if err != nil && c.State() != from {
				t.Errorf("illegal To(%s → %s) changed the state to %s", from, to, c.State())
			}
		}
	}
}

func TestStateClockSpent(t *testing.T) {
	c := NewStateClock(0)
	steps := []struct {
		to  State
		now time.Duration
	}{
		{StateRunnable, 1 * time.Millisecond},
		{StateRunning, 3 * time.Millisecond},
		{StatePreempted, 4 * time.Millisecond},
		{StateRunning, 10 * time.Millisecond},
		{StateReturned, 12 * time.Millisecond},
		{StateComplete, 13 * time.Millisecond},
	}
	for _, s := range steps {
		if err := c.To(s.to, s.now); err != nil {
			t.Fatal(err)
		}
	}
	want := map[State]time.Duration{
		StateInitialized: time.Millisecond,
		StateRunnable:    2 * time.Millisecond,
		StateRunning:     3 * time.Millisecond,
		StatePreempted:   6 * time.Millisecond,
		StateReturned:    time.Millisecond,
		StateComplete:    7 * time.Millisecond, // still in it at 20ms
	}
	for s, d := range want {
		if got := c.Spent(s, 20*time.Millisecond); got != d {
			t.Errorf("Spent(%s) = %v, want %v", s, got, d)
		}
	}
}
