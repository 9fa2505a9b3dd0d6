// Package wasmpolicy runs scheduling policies compiled to WebAssembly, in
// process: a policy module is loaded from a [[plugin]] with kind = "wasm"
// and called, in its own wazero instance inside the server, through the
// small ABI below. This package is both sides of that ABI: Serve, for the
// module (Go code built for wasip1), and Client, for the host (the core's
// wazero runner in core/wasmpolicy.go implements Guest).
//
// A Go policy becomes a module with one call, from an init function (a
// reactor's main never runs):
//
//	//go:build wasip1
//
//	package main
//
//	func init() { wasmpolicy.Serve(mypolicy.New()) }
//
//	func main() {}
//
// built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mypolicy.wasm ./cmd/mypolicy-wasm
//
// Any language that can export the functions below works as well.
//
// # The ABI, version 2
//
// All integers are little-endian; a "word" is 8 bytes. The module exports
// its linear memory and these functions (i32/i64 are Wasm types; signed
// unless said):
//
//	gosledge_policy_abi() -> i32               ABIVersion (2); checked at load
//	gosledge_policy_buffer() -> i32            address of the shared buffer:
//	                                           BufferSize (65536) bytes, 8-aligned,
//	                                           fixed for the module's life
//	gosledge_policy_hello() -> i32             capability mask (CapCharger 1,
//	                                           CapConfigurer 2, CapAdmitter 4,
//	                                           CapShedder 8, CapReporter 16), or -1
//	                                           if no policy is served; writes the
//	                                           policy's name at the buffer: a word
//	                                           with its length (1..256), the bytes
//	gosledge_policy_notify(n i32)              apply the records, nothing else
//	gosledge_policy_get_next(n, w i32, now i64) -> i64
//	                                           task ID, or -1 for none
//	gosledge_policy_on_interrupt(n, w i32, now i64) -> i32
//	                                           cur at byte n; 1 preempt, 0 keep
//	gosledge_policy_would_preempt(n, w i32, now i64) -> i32
//	                                           cur at n, arriving at n+64; 1 or 0
//	gosledge_policy_admit(n i32, now i64) -> i32      CapAdmitter only
//	                                           task at n; class 0..255, or -1 refused
//	gosledge_policy_shed(n i32, now i64) -> i32       CapShedder only
//	                                           writes the shed IDs at the buffer
//	                                           (one word each) and returns their
//	                                           count; -k: k written, more follow,
//	                                           the host calls again at once (n = 0)
//	gosledge_policy_report(n i32, now i64) -> i32     CapReporter only
//	                                           writes gauges at the buffer, returns
//	                                           their count; a gauge is its value
//	                                           (f64 bits), a word of the name's
//	                                           length | the tenant's << 32, then
//	                                           both strings' bytes, padded to 8
//	gosledge_policy_configure(n, workers i32) -> i32  CapConfigurer only
//	                                           the config at n: the policy's options
//	                                           (text), a tenant count word, then per
//	                                           tenant its name and its options (text);
//	                                           text is a length word and the bytes
//	                                           padded to 8; writes the errors at the
//	                                           buffer and returns their count (0: ok):
//	                                           each a word of lengths (tenant | key
//	                                           << 16 | message << 32), then the three
//	                                           strings' bytes padded to 8; key "" for
//	                                           an error not about one key
//
// Times are nanoseconds on the server clock (time.Duration). A task is 8
// words: ID, tenant symbol, route symbol, Arrival, Deadline, Expected, Ran,
// Class. Task IDs are below 2^63.
//
// Batching: every function that takes n first applies, in order, the
// records the host wrote in the buffer's first n bytes (n is a multiple of
// 8), then does what it is called for; arguments that are not parameters
// (tasks, tenants) follow at byte n. The host queues notifications
// (Enqueue, Dequeue, Charge) as records and sends them with the next call
// that needs an answer, so a decision is one guest call however many
// notifications preceded it; when the buffer would overflow it calls notify
// first. A record is a word with its opcode and then:
//
//	1 Enqueue  why, task                        (10 words)
//	2 Dequeue  id, why                          (3 words)
//	3 Charge   used, now, task                  (11 words; CapCharger only)
//	4 String   symbol, length, bytes padded to 8
//
// Strings (tenants, routes) are sent once, as String records defining a
// symbol (1, 2, ...; 0 is ""), before the first record or argument that
// names them; a symbol never changes meaning. Names longer than MaxString
// are cut. The reasons are the sdk constants (sdk.Arrived = 0, ...).
//
// Version 2 (contract v2) changed Configure's layout to carry the
// policy's config tables (sdk.Options) and errors about their keys.
//
// # The sandbox
//
// The host gives a module nothing but a clock: it may import only
// wasi_snapshot_preview1, whose clock_time_get and clock_res_get work,
// fd_write to stdout and stderr goes to the server's log, proc_exit ends
// the module, args and environ are empty, and everything else fails
// (EBADF, ENOSYS). Its memory is capped ([[plugin]] memory_limit), and it
// runs with fuel: a call that runs past plugin_timeout is stopped. A trap,
// an exit, a timeout or an answer outside the ABI is a fault, and the
// server replaces the policy with its plugin_fallback, like a crashed
// plugin process.
//
// A Go module's runtime (its scheduler and collector) runs only inside
// these calls, on the one thread Wasm has, so the policy must never block:
// a goroutine waiting on anything is a deadlock, which the Go runtime
// reports by exiting. Allocation costs more than on the host (the
// collector runs inside a decision now and then); a policy that keeps its
// steady state free of allocation keeps its p99 close to its p50.
//
// Files: abi.go (constants, export names and signatures, record layouts),
// guest.go (Serve and the dispatcher, the guest side), exports_wasip1.go
// (the //go:wasmexport functions), host.go (Client and Guest, the host
// side).
//
// What must not live here: wazero, the WASI subset and the fuel (the
// core's, in core/wasmpolicy.go), or a concrete policy.
package wasmpolicy
