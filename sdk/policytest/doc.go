// Package policytest is the conformance suite for scheduling policies:
// every built-in policy runs it, and so should every out-of-process one.
//
//	func TestConformance(t *testing.T) {
//		policytest.Run(t, func() sdk.Policy { return mypolicy.New() })
//	}
//
// Run drives the scheduling protocol the server runs, core/dispatch, not a
// copy of it, against fresh policy instances on a fake clock; every policy
// call the dispatcher makes passes through a checking decorator that
// knows what the policy holds. The events: N workers (1 to 4), tasks
// arriving with random tenant,
// route, deadline and expected execution, running tasks accumulating Ran,
// quantum interrupts (OnInterrupt, then Enqueue(Preempted) and GetNext when
// it says yes), arrivals that fill idle workers and then pick at most one
// victim with WouldPreempt, host calls that block and wake, completions and
// failures, cancellations of queued tasks, kills of blocked ones, and
// requests dropped past their deadline right after GetNext. It also drives
// the optional capabilities the way the core does: Configure first (three
// tenants: "t0" paid with a budget and a reservation, "t1" with a
// reservation, "t2" with neither), Admit before each arrival's Enqueue,
// Shed after it, Charge each time a task stops running, and Report among
// the extra queries below. It runs a few scripted scenarios and several seeded random
// sequences of a few thousand events each, and checks that:
//
//   - Name is non-empty and stable;
//   - GetNext only returns a task the policy holds: enqueued, not handed
//     out since, not cancelled or shed; Shed only returns held tasks;
//   - GetNext hands out a task whenever the policy holds one (unless
//     Options.NonWorkConserving);
//   - no task is lost: at the end every worker keeps asking, and the
//     policy hands out exactly the tasks it holds, then nothing;
//   - WouldPreempt and OnInterrupt change nothing: each random sequence is
//     run twice in lockstep, once with extra WouldPreempt, OnInterrupt and
//     Report queries between events, and both runs must make the same
//     decisions (GetNext, OnInterrupt, WouldPreempt, Admit, Shed);
//   - WouldPreempt is a strict order, as the core also uses it to compare
//     two running tasks: never true for a task against itself, nor both
//     ways for two tasks;
//   - with Options.Before, GetNext respects that order, and with
//     Options.Preemptive the preemption decisions follow it too;
//   - with Options.RoundRobin, when no work arrives and every running task
//     is interrupted once per round, every waiting task runs within as many
//     rounds as there are tasks.
//
// The lockstep comparison assumes the policy is deterministic: the same
// calls get the same answers. A policy that wants randomness should derive
// it from what it is told (IDs, times passed in), not from the wall clock
// or a global source.
//
// A failure names the seed, the worker count, the event index and kind,
// and lists the last policy calls. Each seed is its own subtest
// (Random/seed=N), so one can be rerun alone with go test -run. The whole
// suite makes over 100,000 policy calls and takes about a tenth of a
// second for an in-process policy under the race detector; -short runs a
// third of the random events.
package policytest
