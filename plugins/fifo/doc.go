// Package fifo is the first-in, first-out policy with round robin on the
// quantum.
//
// Algorithm: one global queue. Arrivals and woken tasks join the tail;
// GetNext takes the head. When a running task's quantum expires and any
// other task is waiting, OnInterrupt asks the core to preempt it, and the
// preempted task rejoins the tail, so runnable tasks share workers in turn
// (SLEdge's FIFO never rotated; this one does). An arrival never preempts
// a running task: WouldPreempt is always false.
//
// Complexity: Enqueue, GetNext, OnInterrupt and Dequeue are O(1) amortised;
// a Dequeue of a queued task marks it gone and GetNext skips it later.
//
// Limits: no notion of deadlines or tenants; a long task delays every task
// behind it by at most one quantum per turn when preemption is on, and
// entirely when it is off.
package fifo
