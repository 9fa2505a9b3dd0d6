// Package sjf is the preemptive shortest-remaining-expected-execution-first
// policy.
//
// Algorithm: one global min-heap of runnable tasks keyed by
// Task.Remaining() (Expected − Ran, floored at zero) as of Enqueue, ties
// broken by Arrival, then by ID. A queued task does not run, so its key
// stays exact while it waits; a preempted task is re-enqueued with the CPU
// time it has used, so a task that has run keeps a smaller key than an
// identical one that has not. The same key is used everywhere: GetNext pops
// the smallest, OnInterrupt is true iff a queued task's remaining is
// strictly below cur.Remaining() (taken at the interrupt, so it includes
// the current stretch), and WouldPreempt(w, cur, arriving) is
// arriving.Remaining() < cur.Remaining(). SLEdge keyed its local run queue
// by deadline while its global queue used remaining execution; this policy
// does not copy that inconsistency.
//
// Complexity: Enqueue, GetNext and Dequeue of a queued (cancelled) task are
// O(log n); OnInterrupt, WouldPreempt and Dequeue of a running task are
// O(1). Memory is O(n) in queued tasks; the steady state allocates nothing.
//
// Limits: only as good as Expected, the route's estimate. A task that
// overruns it has remaining zero, the smallest possible key: nothing
// preempts it any more (ties keep cur running) and it runs to completion or
// to its route's timeout. Long tasks can starve under a steady stream of
// short ones. Deadlines and tenants are ignored.
package sjf
