// Package mtdbf is the multi-tenant demand-bound-function policy:
// admission by demand bound functions, then class-then-EDF scheduling.
//
// Configuration ([policy.mtdbf] and each tenant's policy.mtdbf table):
//
//	[policy.mtdbf]
//	max_queued = 65536   # Admit refuses past this many queued tasks
//
//	[[tenant]]
//	...
//	[tenant.policy.mtdbf]
//	reservation = 0.3    # the tenant's share of the machine; sum ≤ 1
//
// Demand. For a set of admitted, unfinished tasks, D(t) is the sum of the
// remaining expected execution c = max(Expected − Ran, 0) of the tasks with
// deadline ≤ t (Ran as of the task's last Charge). A task's c shrinks when
// it is charged and leaves the sets at its Dequeue (or when Shed gives it
// up). The policy keeps one demand set per tenant, holding the tenant's
// Guaranteed tasks, and one for the machine, holding every admitted task of
// every tenant and class. With W workers, a tenant's supply is r·W·(t − now)
// for its reservation r, the machine's W·(t − now).
//
// Admission of a task with c = Remaining() and absolute deadline d, at now:
//
//   - Guaranteed if the tenant's reservation r > 0 and, for t = d and every
//     deadline t ≥ d of the tenant's Guaranteed set,
//     D_tenant(t) + c ≤ r·W·(t − now);
//   - otherwise Best-effort if the same holds for the machine's set:
//     D_all(t) + c ≤ W·(t − now), for t = d and every admitted deadline
//     t ≥ d (all tenants, both classes);
//   - otherwise refused (429). Also refused, whatever the demand, when
//     MaxQueued tasks are queued.
//
// Deadlines before d are not checked: the new task does not change demand
// there. A deadline already past (d < now) is refused unless it has no
// demand at all. Best-effort admission ignores reservations: an idle
// machine serves anyone, and shedding (below) protects the Guaranteed work
// that arrives later. Tenants the config does not name, and tenants with
// reservation 0, are never Guaranteed.
//
// The O(log n) test. Each set is a treap keyed by (deadline, ID) whose
// nodes keep their subtree's Σc and the maximum over the subtree of
// (prefix sum of c up to the node) − rate·deadline, where rate is r·W or
// W. For a node v the whole-set value is f(v) = D(dl(v)) − rate·dl(v) (among
// nodes sharing a deadline, the last carries the full D, and the others
// have smaller f). Then
//
//	∀t ≥ d: D(t) + c ≤ rate·(t − now)
//	  ⟺  max_{dl(v) ≥ d} f(v) ≤ −c − rate·now,
//
// a range-max over keys ≥ d computed in one root-to-leaf descent (adding the
// sum of everything left of each subtree entered), plus D(d) + c ≤
// rate·(d − now), a prefix sum in another. Insert, remove and changing a
// node's c recompute the aggregates along one path. The arithmetic is in
// float64 nanoseconds: exact for integer values below 2^53 ns (104 days of
// clock) and r·W a multiple of a power of two, otherwise within rounding at
// the boundary of the test.
//
// Scheduling: two EDF heaps (deadline, then arrival, then ID), Guaranteed
// before Best-effort. GetNext pops the Guaranteed head, else the
// Best-effort head. OnInterrupt(cur) and WouldPreempt(cur, arriving)
// preempt for a higher class, or the same class with a strictly earlier
// deadline, using the class each task was admitted with (a task's class
// never changes). The order is strict: each task has one (class, deadline)
// key.
//
// Shedding (409): after an arrival, while the machine's set fails its test
// now, that is D_all(t) > W·(t − now) at some deadline t ≥ now, Shed takes
// the earliest such t and gives up the queued Best-effort task with the
// latest deadline ≤ t (the one EDF would run last among those that make up
// the excess), removing it from the queue and the demand sets, then looks
// again. It stops when the test passes or no queued Best-effort task is due
// by the earliest failing deadline (the excess is Guaranteed, running or
// blocked work, which shedding cannot reduce; later failing deadlines are
// then left alone until it clears). Each look is two descents, O(log n).
// Guaranteed tasks are never shed; the core then calls Dequeue(Cancelled)
// for each shed task, which finds it gone.
//
// Guarantee: a necessary condition, not a sufficient one. The demand test is
// the processor-demand criterion for jobs that are all released by now: on
// one worker, preemptive EDF meets every deadline of a set that passes it
// (the test is exact there), so a Guaranteed task meets its deadline if
// estimates hold, its tenant's Guaranteed set passed at every admission,
// and preemption is immediate. On W > 1 workers the supply W·(t − now)
// assumes work can spread over all workers, which a single task cannot (it
// needs c ≤ t − now on one worker) and global EDF does not achieve, so
// passing the test is only necessary: a set that fails it will miss a
// deadline, one that passes may still miss.
//
// Complexity: Admit O(log n) (expected, for n admitted tasks); Enqueue,
// GetNext, Dequeue and Charge O(log n); OnInterrupt and WouldPreempt O(1);
// Shed O(log n) when it gives up nothing, plus O(log n) per task it gives
// up. Memory O(n), one treap node per set a task is in; steady state
// allocates nothing but map entries.
//
// Limits: only as good as Expected. A task that overruns its estimate has
// c = 0 and runs unaccounted; the current stretch of a running task is not
// subtracted until it is charged, so demand is overestimated meanwhile
// (safe for admission). Blocked tasks keep their demand. Reservations are
// fractions of the whole machine, not of a worker. Best-effort work can
// starve behind a steady stream of Guaranteed work, and is shed only when
// the demand test fails, not when its own deadline becomes hopeless.
// Tenants the config does not name are added as unreserved tenants on
// their first request and never removed.
//
// Reporter: per tenant, admitted_demand_seconds (Σc of its admitted tasks,
// both classes), guaranteed_demand_seconds and reservation; and, policy-wide,
// sdk.HeadroomGauge: 1 − the highest demand density D(t)/(workers·(t − now))
// over the admitted deadlines, what a load balancer is told (runtime.agent).
package mtdbf
