// Package bench drives a workload against one or more scheduling policies,
// one after another, each on a fresh in-process server, and reports what
// each route experienced: `sledge bench`.
//
// A workload file (TOML, see LoadWorkload and examples/workloads/) names a
// serve config, a weighted mix of routes with their request bodies, an
// open-loop arrival process (constant or Poisson, one rate or a sweep of
// rates), a duration, a warm-up and a seed. Run starts a core.Server per
// policy and rate (tenant ports ephemeral, 127.0.0.1 only), attacks it with
// vegeta at the scheduled rate whatever the server does, so that queueing
// shows up as latency, and stops it. Latency is measured from each
// request's intended send time, not from when the client got round to
// sending it (no coordinated omission). Results sent during the warm-up
// are discarded. Every run of one invocation sees the same arrival times
// and route choices, from the seed.
//
// A Report is printed as a table (WriteTable) and saved (Save) as CSV,
// JSON and charts drawn with gonum/plot: a latency CDF per route with one
// line per policy and, when sweeping, the deadline-miss ratio against the
// offered load.
//
// A report says what its figures cannot be trusted for (trust.go):
//   - Fallback: a plugin policy that fails mid-run is replaced by the
//     server's built-in plugin_fallback (core.Server.Fallbacks); the run
//     then records when, why, and how much the plugin had decided, shows
//     as "llf→fifo@0.5s", and under Options.Strict (the default for
//     plugin policies) fails. Every plugin policy is started once before
//     any run, so one that cannot start fails the bench at once.
//   - Lag: how late the load generator sent requests against their
//     schedule (p50, p99, max). Latency is measured from the schedule
//     anyway, but a lagging client bunches arrivals; a p99 over the
//     larger of 1 ms and 1/20 of the tightest deadline is warned about.
//   - Repeat: each policy runs N times, interleaved (A, B, A, B) so that
//     the machine's drift hits every policy alike, and Summaries gives the
//     median and min–max of P50, P99 and the miss ratio over the repeats;
//     charts pool the repeats.
//
// The simulator (sim.go, `sledge sim`) runs the same workloads in virtual
// time through core/dispatch, the server's own scheduling protocol, and
// the same policy code, with service times from each route's model
// (service.go) and the runtime's costs (Costs), and writes the same
// Report; Compare lays a bench and a sim report side by side. Arrivals
// come from one generator (gaps, picker) or a trace (trace.go) for both,
// so one seed gives bench and sim the same arrival times and routes.
//
// Beyond one server: Options.Targets sends a workload to servers already
// running (a HAProxy frontend in front of several instances, a remote
// one) instead of starting one per run (`sledge bench --target`), and
// SimOptions.Nodes simulates a cluster, one dispatcher and policy
// instance per node, behind a Balancer (balancer.go, `sledge sim
// --nodes`).
//
// What must not live here: runtime or policy logic (that is core and
// plugins), config parsing (core/config), flag parsing (cmd/sledge). This
// package only uses core's public API, as an operator's load generator
// would.
package bench
