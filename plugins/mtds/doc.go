// Package mtds is the multi-tenant deferrable-server policy.
//
// Configuration ([policy.mtds] and each tenant's policy.mtds table):
//
//	[policy.mtds]
//	max_queued = 65536             # Admit refuses past this many queued tasks
//
//	[[tenant]]
//	name = "paid"
//	...
//	[tenant.policy.mtds]
//	replenishment_period = "10ms"  # both or neither; max_budget ≤ period
//	max_budget = "4ms"
//
// Classes: a tenant with a replenishment period is paid. Its budget holds
// MaxBudget of CPU time at the start of every period, is charged by the CPU
// time its tasks use (sdk.Charger), and is refilled to MaxBudget at every
// boundary k·period of the server clock (k = 0, 1, ...). Nothing carries over
// a boundary: neither unused budget nor debt from an overrun. While its budget
// is positive the tenant is Guaranteed; once it is spent the tenant is
// demoted to Default until the next boundary promotes it back. Tenants
// without a period (and tenants the config does not name) are always
// Default. A task's class is its tenant's class at the moment of the
// decision, not the class it was admitted with.
//
// Refills are lazy: a tenant remembers the period index of its last charge
// and the CPU time spent in that period; every method that looks at a
// budget computes it from now (a budget whose period index is not now's is
// full). There are no timers, so every decision depends only on the calls
// made, never on the wall clock. A stretch of CPU time that straddles a
// boundary is charged only for its part after the boundary (now −
// boundary): the part before it belonged to a period already refilled.
//
// Algorithm: one EDF heap (deadline, then arrival, then ID) per paid tenant,
// and one shared EDF heap for every unpaid tenant (they are always Default,
// so one heap orders them correctly). GetNext looks at the head of every
// heap: the earliest-deadline head among Guaranteed tenants wins; if no
// Guaranteed tenant has queued work, the earliest head among the demoted
// tenants and the shared Default heap. Any runnable Guaranteed work
// therefore runs before any Default work, EDF within a class. Per-tenant
// heaps are needed because a class changes with the budget: a demoted
// tenant's whole queue moves to Default at once, and back at the boundary,
// without touching a heap.
//
// Preemption: OnInterrupt(cur) compares cur with the best waiting task
// computed as for GetNext. It counts cur's current stretch (cur.Ran minus
// the Ran the policy last saw charged for cur, clipped to the current
// period) against cur's tenant's budget, as the core only charges when a
// task stops running: a paid task that has spent its tenant's budget in
// this stretch is already Default. cur gives up its worker if the waiting
// task's class is higher (a demoted cur with Guaranteed work waiting; a
// Default cur with a tenant back in budget), or if the classes are equal
// and the waiting task's deadline is strictly earlier. WouldPreempt(cur,
// arriving) applies the same rule to the two tasks, each with its own
// tenant's class (two tasks of one tenant always share a class and compare
// by deadline only); it is a strict order because each task maps to one
// (class, deadline) key during the call, computed at the now it is given
// (never earlier than a charge already made).
//
// Admission: Admit refuses (429) when the policy already holds MaxQueued
// queued tasks, and otherwise admits with the tenant's current class. It
// does no utilisation test: the budget limits a tenant's Guaranteed share,
// not its queue.
//
// Reporter: for each paid tenant, budget_remaining_seconds (floored at 0)
// and guaranteed (1 or 0) at the time of the scrape; policy-wide, queued.
//
// Complexity, with P paid tenants: GetNext and OnInterrupt O(P + log n);
// Enqueue and Dequeue of a queued task O(log n); Admit, Charge,
// WouldPreempt and Dequeue of a running task O(1) (map look-ups). P is
// expected to be small (tenants come from the config); a large P would want
// a heap of tenant heads per class, updated on every budget change. Memory
// is O(tasks in the system): queued tasks in the heaps, plus an entry for
// every admitted task until its Dequeue, holding the CPU time last charged.
//
// Limits: only the current task's uncharged stretch is counted before a
// charge; other tasks of the same tenant running on other workers are
// counted when they stop, so a tenant with several running tasks can
// overspend its budget by up to one stretch per worker. The budget is
// policed at quanta and safepoints, not exactly at exhaustion. Demotion is
// not admission control: a demoted tenant's work still runs when the
// machine has no Guaranteed work, and a Guaranteed tenant can still miss
// deadlines if the budgets sum to more than the machine. Default work can
// starve while Guaranteed work keeps arriving. Expected is ignored.
package mtds
