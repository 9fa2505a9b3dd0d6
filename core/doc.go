// Package core is the gosledge runtime: it accepts HTTP requests for a
// tenant's routes, runs each in a fresh WebAssembly sandbox on one of N
// workers, and lets a policy (package sdk) decide which sandbox runs when.
//
// Glossary:
//   - worker: one of N slots (runtime.workers). At most N sandboxes execute
//     Wasm at any instant. A worker is not a goroutine.
//   - sandbox: one request's execution (Sandbox): a fresh wazero instance,
//     the goroutine that runs it (the request's own handler goroutine), its
//     task as the policy sees it, and its lifecycle clock.
//   - safepoint: a check the instrumenter (core/instrument) puts at every
//     function entry and loop header; when the sandbox's fuel runs out it
//     calls the host function yield.
//   - fuel: safepoints left before the next yield; recalibrated at every
//     yield so yields come about every 20 µs whatever the guest does. A
//     kill or an urgent arrival empties it from outside (a hint) so the
//     yield comes at the very next safepoint.
//   - quantum: how long a sandbox may hold a worker before the policy is
//     asked (OnInterrupt) whether another should run.
//   - pooled instance: an instance of a route's module restored, after
//     each request, to the snapshot taken at load (instancepool.go), so
//     that the next request runs on it instead of on a fresh one: as
//     instantiated for a command, after _initialize for a reactor.
//   - reactor: a route whose module has _initialize and no _start; its
//     requests call the route's handler export on pooled instances.
//   - result: how a request ended (Result: ok, trapped, killed, refused,
//     dropped, …). Only the listener maps it to an HTTP status
//     (httpStatus); metrics, the perf log and the logs observe it.
//
// Design. The scheduling protocol is core/dispatch, a state machine with
// no goroutines, channels or clock: events in (Arrive, Interrupt, Block,
// Wake, Finish, Cancel), actions out (Grant, Raise, Answer). scheduler.go
// is its shell: every event is fed, under one scheduler mutex and on the
// server clock, from the goroutine of the sandbox that causes it: a
// request arrives (submit), a sandbox yields past its quantum (interrupt),
// blocks in a host call (block/unblock), or finishes (finish). The shell
// carries the actions out: a Grant is a send on the sandbox's own wake
// channel, where a waiting sandbox is parked; a Raise sets the worker's
// preempt flag and empties its sandbox's fuel; an Answer (dropped late,
// shed) sends the verdict instead of a worker. So a preempted sandbox is
// simply a goroutine parked inside yield, with its Wasm stack intact, and
// resuming it is a channel send. The quantum needs no timer: yield
// compares the clock with the start of the slice and calls interrupt.
// Timers could not be relied on anyway: Go cannot preempt Wasm, so a timer
// (or a GC stop-the-world) may wait until a sandbox enters Go, which only
// its own fuel guarantees. A faulty plugin policy is ejected by the
// dispatcher's failover decorator; guard.go stops the plugin and keeps the
// record (Server.Fallbacks).
//
// Kills (route timeout, client gone, shutdown) set the sandbox's kill
// reason; a running sandbox unwinds at its next safepoint by panicking with
// a WASI exit error from yield, a waiting one is taken out of the queue at
// once. The timeout's timer and the watch on the client's context are
// armed only when a sandbox first waits or runs past a stretch of fuel
// (Sandbox.watch): most requests end before either could fire, and the
// two cost a tenth of an echo. wazero's WithCloseOnContextDone is
// deliberately not used: it costs about 15× on loops.
//
// Reading order for one request: listener.go (ServeHTTP) → sandbox.go
// (run, yield, sleep) → scheduler.go (submit, await, interrupt, block,
// finish) → dispatch/doc.go and dispatch/dispatch.go (the decisions) →
// engine.go (the wazero runtime and compiled modules) → state.go (the
// lifecycle table). A route with interface = "wagi" adds wagi.go: its
// prefix match, CGI environment and argv on the way in, CGI headers parsed
// out of stdout on the way back.
//
// Per-route limits and extras, each in its own file: cpu_limit is checked
// in yield against the CPU time charged since the last grant (sandbox.go),
// max_concurrency in the listener (concurrency.go), preopened directories
// are os.Root mounts (preopen.go), and OpenTelemetry tracing records a
// sampled request's phases in the scheduler and exports them once it is
// answered (tracing.go).
//
// Beside the tenant listeners, what an instance tells a load balancer:
// load.go computes its state (up, drain, down) and admission headroom
// (Headroom, over the dispatcher), served at GET /load and as gauges on
// the metrics listener (metrics.go) and to HAProxy's agent-check by
// agent.go (runtime.agent). Balancing is HAProxy's (package cluster).
//
// What must not live here: policies (plugins/), the policy contract (sdk/),
// config parsing (core/config), Wasm rewriting (core/instrument).
package core
