// Package sdk is the contract between the gosledge core and a scheduling
// policy.
//
// Glossary:
//   - Task: a plain value describing one request's sandbox as a policy sees
//     it (ID, tenant, route, arrival, absolute deadline, expected execution,
//     CPU time run so far, class). A policy never sees a sandbox itself.
//   - Worker: one of N execution slots, identified by WorkerID 0..N-1.
//   - Quantum: the preemption timer period; OnInterrupt is asked when it
//     expires.
//   - Clock: every time.Duration named "now", Arrival or Deadline is
//     measured on one monotonic clock that starts when the server starts.
//
// The core calls the policy; the policy never calls the core. The core
// serialises every call into one policy instance (it holds its scheduler
// lock), so a policy needs no locking of its own. A policy owns the tasks it
// was given by Enqueue until it hands them out by GetNext or they are
// removed by Dequeue; a task that is running belongs to the core.
//
// Optional capabilities are separate interfaces a policy may also implement,
// found in one place (ExtensionsOf), so adding one never changes Policy:
// [Charger] learns the CPU time each task used each time it stops running,
// [Configurer] gets the worker count and the policy's own config tables
// ([Options], decoded and checked by the policy), [Admitter] decides
// admission, [Shedder] gives up queued tasks, [Reporter] exposes gauges.
//
// What must not live here: anything that imports core/ or a concrete policy.
// Built-in policies live in plugins/ and are listed, explicitly, by
// plugins.Builtins.
package sdk
