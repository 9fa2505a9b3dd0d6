// Package llf is an example out-of-process policy: preemptive
// least-laxity-first. It is built into its own plugin binary
// (cmd/llf-policy, which only calls plugin.Serve(llf.New())) and loaded by
// gosledge from a [[plugin]] table of the config; see README.md for the
// walk-through. The same package also builds as a WebAssembly policy
// module (cmd/llf-wasm, committed as llf.wasm), run in process. The package itself is an ordinary sdk.Policy, so its tests
// run it both in-process and over the plugin connection.
//
// Algorithm: a task's laxity at time now is Deadline − now − Remaining,
// the slack it has left if it ran from now to completion (Remaining is
// Expected − Ran, floored at zero). LLF runs the task with the least
// laxity. Since now is the same for every task, comparing laxities at one
// instant is comparing Deadline − Remaining, which does not change while a
// task waits; so queued tasks sit in one min-heap keyed by Deadline −
// Remaining (ties by Arrival, then ID): a hand-written binary heap of
// values, with an open-addressing table from task ID to heap position for
// Dequeue, neither allocating once grown to the longest queue seen (the
// policy is also built for Wasm, where allocation and maps are dear). A
// running task's laxity stays constant while a waiting task's shrinks,
// which is what makes LLF switch more than EDF.
//
//   - GetNext pops the least laxity, whatever the worker.
//   - OnInterrupt(w, cur, now) is true iff a queued task has strictly
//     smaller laxity than cur at now (cur with Ran as of the interrupt).
//   - WouldPreempt(w, cur, arriving, now) compares laxities at now; as now
//     cancels out, it is Deadline − Remaining of arriving against cur,
//     strictly smaller: a strict order, as the core requires.
//
// Complexity: Enqueue, GetNext and Dequeue of a queued task O(log n),
// Dequeue of one not queued O(1) expected; OnInterrupt and WouldPreempt
// O(1). Report exposes the queue length.
//
// Limits: classic LLF thrashes between tasks of equal laxity; strict
// comparisons here keep the running one. Expected is the route's estimate,
// so laxity is only as good as the estimate. No admission or overload
// control.
//
// This package imports only sdk: plugin authors can copy it as a start.
package llf
