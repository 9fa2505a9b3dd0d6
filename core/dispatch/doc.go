// Package dispatch is the scheduling protocol of gosledge as a pure state
// machine: events in, actions out, over task IDs and worker slots. The
// server (core/scheduler.go), the conformance suite (sdk/policytest) and
// the simulator (bench, `sledge sim`) all drive this one implementation.
//
// Glossary:
//   - task: one request as the dispatcher knows it, by sdk.TaskID, from
//     Arrive until it is answered or finishes.
//   - worker: one of N slots, 0..N-1; at most one task runs on each.
//   - queued: the policy holds the task (it was Enqueued and not yet handed
//     out by GetNext, cancelled or shed).
//   - blocked: the task gave up its worker in a host call; nobody holds it
//     until Wake.
//   - action: what the caller must do after an event: Grant a worker to a
//     task, Raise a worker (ask its task to reach a safepoint now, because
//     an arrival should preempt it), or Answer a task that leaves without
//     running further (refused, queue full, dropped late, shed).
//   - guard: what the dispatcher knows of a policy that can fail (an
//     out-of-process or Wasm plugin): its first fault, and the built-in
//     that replaces it.
//
// Design. Every event method takes the time now on the caller's clock and
// returns the actions it produced, in the order they must be carried out.
// An arrival is admitted (the policy's sdk.Admitter or the core's
// utilisation test), bounded by the queue limit, enqueued, offered to the
// policy's Shedder, and then idle workers are filled in order; if the
// arrival still waits, WouldPreempt picks at most one victim among the
// running tasks, also serving as the comparator between two of them, and
// that worker is raised. An interrupt (the quantum expired, or a raise
// reached its safepoint) asks OnInterrupt; on yes the task is charged,
// Enqueued as Preempted and GetNext asked for that worker, which may hand
// the same task back. Block charges and frees the worker; Wake enqueues
// the task again as Woke and kicks like an arrival. Finish charges, tells
// the policy (Completed or Failed) and hands the worker on. Cancel takes a
// killed task out of the queue (Cancelled) or out of its host call
// (Failed). Whenever a worker is handed on, a task whose route drops late
// work and whose deadline passed before it ever ran is answered Dropped
// and the policy asked again.
//
// Faults are handled in one place, the failover decorator (failover.go)
// that every policy call goes through: after each call it checks the
// guard, and on a fault (or an answer naming a task the policy does not
// hold) it replaces the policy with the fallback, hands the fallback every
// queued task oldest first, records a Fallback and repeats the question.
// No caller polls for faults. For a built-in the check is a nil test.
//
// What must not live here: goroutines, channels, a wall clock, wazero,
// HTTP or status codes. The caller turns Grant into a channel send or a
// simulated start, Raise into a fuel hint or a simulated safepoint, and
// Answer into a response.
package dispatch
