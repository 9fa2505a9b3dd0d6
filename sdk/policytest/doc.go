// Package policytest is the conformance suite for scheduling policies:
// every built-in policy runs it, and so should every out-of-process one.
//
//	func TestConformance(t *testing.T) {
//		policytest.Run(t, func() sdk.Policy { return mypolicy.New() })
//	}
//
// Run plays the core against fresh policy instances on a fake clock: N
// workers (1 to 4), tasks arriving with random tenant, route, deadline and
// expected execution, running tasks accumulating Ran, quantum interrupts
// (OnInterrupt, then Enqueue(Preempted) and GetNext when it says yes),
// arrivals that ask WouldPreempt of the running tasks and pick a victim the
// way the core does, host calls that block and wake, completions and
// failures, cancellations of queued tasks, requests dropped past their
// deadline right after GetNext, and Charge for policies that implement
// sdk.Charger. It runs a few scripted scenarios and several seeded random
// sequences of a few thousand events, and checks that:
//
//   - Name is non-empty and stable;
//   - GetNext only returns a task the policy holds: enqueued, not handed
//     out since, not cancelled;
//   - GetNext hands out a task whenever the policy holds one (unless
//     Options.NonWorkConserving);
//   - no task is lost: at the end every worker keeps asking, and the
//     policy hands out exactly the tasks it holds, then nothing;
//   - WouldPreempt and OnInterrupt change nothing: each random sequence is
//     run twice in lockstep, once with extra WouldPreempt and OnInterrupt
//     queries between events, and both runs must make the same decisions;
//   - WouldPreempt is a strict order, as the core also uses it to compare
//     two running tasks: never true for a task against itself, nor both
//     ways for two tasks;
//   - with Options.Before, GetNext respects that order, and with
//     Options.Preemptive the preemption decisions follow it too;
//   - with Options.RoundRobin, when no work arrives and every running task
//     is interrupted once per round, every waiting task runs within as many
//     rounds as there are tasks.
//
// A failure names the seed, the worker count, the event index and kind,
// and lists the last policy calls. Each seed is its own subtest
// (Random/seed=N), so one can be rerun alone with go test -run. The whole
// suite makes a few hundred thousand policy calls and takes well under a
// second for an in-process policy under the race detector; -short runs a
// third of it.
package policytest
