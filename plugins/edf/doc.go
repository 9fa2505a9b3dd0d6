// Package edf is the preemptive earliest-deadline-first policy.
//
// Algorithm: one global min-heap of runnable tasks keyed by absolute
// Deadline, ties broken by Arrival, then by ID, so the order is total and
// every decision deterministic. GetNext pops the earliest deadline, whatever
// the worker. A running task is preempted only for a strictly earlier
// deadline: OnInterrupt is true iff the heap holds a task whose deadline is
// before cur's (equal deadlines keep cur running, so EDF does not rotate
// among ties), and WouldPreempt(w, cur, arriving) is arriving.Deadline <
// cur.Deadline. WouldPreempt only asks for an early safepoint: when the core
// reaches it, OnInterrupt decides against what is queued then, so one
// arrival displaces at most one task.
//
// Unlike SLEdge, which split work between a global request heap and a
// per-worker local heap and pulled across on every scheduling decision,
// there is a single queue: the core serialises every call, so nothing is
// gained by splitting it, and a task can never be stuck behind a worker's
// local queue.
//
// Complexity: Enqueue, GetNext and Dequeue of a queued (cancelled) task are
// O(log n); OnInterrupt, WouldPreempt and Dequeue of a running task are
// O(1). Memory is O(n) in queued tasks; the steady state allocates nothing.
//
// Limits: no admission or overload control. A task whose deadline has
// already passed keeps the highest priority, so under overload EDF
// degrades into the classic domino effect where every task misses;
// shedding late work is left to the core (routes that drop late requests)
// or to the multi-tenant policies. A task with a far deadline can wait
// indefinitely under sustained load. Tenants and Expected are ignored.
package edf
