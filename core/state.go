package core

import (
	"fmt"
	"time"
)

// State is a sandbox's lifecycle state.
type State uint8

const (
	StateInitialized State = iota // created, not yet known to the policy
	StateRunnable                 // queued in the policy, has not run since it arrived or woke
	StateRunning                  // holds a worker and executes Wasm
	StatePreempted                // gave its worker up at a safepoint; queued in the policy
	StateBlocked                  // waits in a host call without a worker
	StateReturned                 // Wasm finished; response not yet written
	StateComplete                 // response written (terminal)
	StateError                    // trapped, killed, refused or cancelled (terminal)
	numStates
)

var stateNames = [numStates]string{
	"Initialized", "Runnable", "Running", "Preempted", "Blocked", "Returned", "Complete", "Error",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// transitions is the single source of truth for the lifecycle: from → the
// set of legal next states. Error is reachable from every non-terminal
// state.
var transitions = [numStates][]State{
	StateInitialized: {StateRunnable, StateError},
	StateRunnable:    {StateRunning, StateError},
	StateRunning:     {StatePreempted, StateBlocked, StateReturned, StateError},
	StatePreempted:   {StateRunning, StateError},
	StateBlocked:     {StateRunnable, StateError},
	StateReturned:    {StateComplete, StateError},
	StateComplete:    nil,
	StateError:       nil,
}

// CanTransition reports whether from → to is legal.
func CanTransition(from, to State) bool {
	if from >= numStates {
		return false
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// StateClock tracks the current state of one sandbox and the time it has
// spent in each state. It is not safe for concurrent use: the scheduler
// lock guards it.
type StateClock struct {
	state State
	since time.Duration // clock reading at the last transition
	spent [numStates]time.Duration
}

// NewStateClock starts in Initialized at now.
func NewStateClock(now time.Duration) StateClock {
	return StateClock{state: StateInitialized, since: now}
}

// State returns the current state.
func (c *StateClock) State() State { return c.state }

// To moves to state to at now, or returns an error if the move is illegal
// (the state is then unchanged).
func (c *StateClock) To(to State, now time.Duration) error {
	if !CanTransition(c.state, to) {
		return fmt.Errorf("illegal sandbox transition %s → %s", c.state, to)
	}
	c.spent[c.state] += now - c.since
	c.state, c.since = to, now
	return nil
}

// Spent returns the time spent in s up to now (including the current
// stretch if s is the current state).
func (c *StateClock) Spent(s State, now time.Duration) time.Duration {
	d := c.spent[s]
	if s == c.state {
		d += now - c.since
	}
	return d
}
