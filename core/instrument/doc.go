// Package instrument rewrites a WebAssembly binary at load time so that a
// running sandbox can be preempted cooperatively.
//
// # What lives here
//
// One entry point, [Instrument], which takes module bytes and returns new
// module bytes, plus its [Options] and sentinel errors, and [HostWait], the
// engine-independent half of the wait imports' host side, kept here beside
// the rewrite whose contract it implements, and [ExportedFunctions], which
// lets a host choose Options (Options.ExportState for a module it will
// snapshot, state.go) before it instruments. The package is otherwise a
// pure byte-to-byte transformation: it does not run, compile or link
// modules, provide the yield host function, or decide when a sandbox should
// yield. Those belong to the runtime that calls it. Keep it free of wazero
// imports outside tests, so the rewrite can be reasoned about (and fuzzed)
// on its own.
//
// # Glossary
//
//   - fuel: a mutable i32 global appended to the module and exported as
//     Options.FuelExport. Each safepoint spends one unit.
//   - safepoint: the instruction sequence
//     "if (fuel) fuel-- else fuel = yield()", inserted at function entries
//     and right after loop headers (see "Where safepoints go"). It neither
//     consumes nor produces operands, so it is valid anywhere an
//     instruction may start, including inside loops that carry parameters.
//   - yield: the host function Options.ImportModule.Options.ImportName of
//     type () -> i32, appended as the last import. The host may block,
//     reschedule, or abort (e.g. panic with sys.ExitError in wazero) and
//     returns the next fuel grant. Setting the exported fuel global to 0
//     from outside forces a yield at the next safepoint.
//   - wait imports: Options.Wait32Name and Options.Wait64Name in
//     Options.ImportModule, of types (i32 addr, i32 expected, i64 timeout,
//     i32 offset) -> (i32 result, i32 addr) and the same with an i64
//     expected. Each memory.atomic.wait32/64 on a shared memory becomes
//     "i32.const offset; call $waitN; iN.atomic.load memarg; drop", and
//     each import is added only if the module has such a wait. The host
//     waits (a sandbox is one agent: nothing can notify it, so only the
//     timeout or the host ends the wait) and returns 1 if the value
//     differs, 2 on timeout; for an access out of bounds or unaligned it
//     returns at once, and the atomic load, with the wait's own memarg,
//     traps exactly as the wait would have. Waits on an unshared memory are
//     left alone: they trap before they could block.
//   - index shift: because the yield import (and any wait import) joins
//     the function index space after the existing imports, every defined
//     function's index grows by one to three. Every place that names a
//     function is remapped: call, return_call, ref.func (in code and
//     constant expressions), function exports, the start function, element
//     segments, and the function-keyed subsections of the "name" section.
//
// # Design
//
// The module is first split into sections (sizes and order checked), then
// analyzed for the counts the rewrite needs (types, imported functions and
// globals, defined functions and globals, shared memories; a module with a
// shared memory also has its code walked once to find its waits, on which
// the index shift depends), then every section is rewritten in place of
// the original. Sections the module lacks but the rewrite needs
// (type, import, global, export) are created at their proper position.
// Non-custom sections are rewritten before custom ones so that the label
// names of the "name" section, which count block/loop/if in order, can be
// renumbered around the inserted safepoint blocks. DWARF (".debug_*") is
// dropped because its code offsets no longer hold, and so is a "name"
// section that does not parse (a malformed custom section must not make a
// module invalid, and one that cannot be renumbered must not survive stale);
// other custom sections are copied verbatim.
//
// Immediates are copied byte for byte except where an index changes, so
// non-canonical LEB128 encodings survive. Memories may be capped through
// Options.MaxMemoryPages; the shared flag is kept. Tables may be capped
// through Options.MaxTableElements (a table.grow is one instruction that
// allocates in the host, so an uncapped one could run for seconds). A
// module declaring more locals per function, functions or data segments
// than Options allow (by default V8's limits) is refused with ErrTooLarge
// before anything compiles it: 10^8 locals took wazero seconds and
// gigabytes to compile.
//
// Security: the fuel global must be unreachable from guest code, so any
// global index at or beyond the module's own global count (in code, in
// constant expressions, in exports) is rejected. Function indices are
// range-checked too, which also rules out a wrap-around onto the yield
// import. Malformed input yields an error, never a panic: lengths and counts
// are checked against the bytes that remain before anything is allocated.
// Features the runtime does not run (exception handling, GC, typed function
// references, memory64, relaxed SIMD, imported memories) are rejected.
//
// # Where safepoints go
//
// The code is walked twice. The first walk records, per defined function,
// its size in instructions, the functions it calls directly (call,
// return_call) and whether it makes an opaque call: call_indirect,
// return_call_indirect, or a call of an import (host code, which could
// re-enter the guest through an export). From that, a function gets an
// entry safepoint (is checked) if it makes an opaque call, if it is on a
// cycle of direct calls among the other functions (a self-call or a
// strongly connected component of more than one), or if its cost, its
// size plus the costs of the unchecked functions it calls, one per call
// site, exceeds maxUncheckedCost (1000) instructions. The second walk
// writes the module: entry safepoints where planned, and a safepoint after
// a loop header unless its body, read straight on through blocks, reaches
// a call of a checked function or a nested loop before any if, else,
// branch, return, tail call, unreachable or the loop's end: every
// iteration then passes a safepoint anyway (a nested loop passes its own,
// or elided one the same way). Options.everySafepoint (tests only) keeps a
// safepoint at every entry and loop header.
//
// The bound. Take a stretch of guest execution between two safepoints.
// In it, no activation branches back to a loop header without passing a
// safepoint, so each activation runs its body forward, each instruction
// at most once. A call of a checked function ends the stretch; an
// unchecked callee, reached directly or through call_indirect, is acyclic
// among the unchecked functions and runs at most 1000 instructions with
// everything it calls. So one activation of f runs at most size(f) + 1000
// instructions per call site of f in the stretch, and the stretch spans at
// most the activations on the stack (returns resume their callers, which
// run forward in the same way), whose depth the engine bounds (a stack
// overflow traps). Host calls (imports) are bounded by the host. Before
// elision the bound was the same with 0 for the 1000. A yield comes at
// the latest after fuel such stretches, and the host calibrates the fuel
// by time.
//
// # Why decode rather than scan
//
// Finding loop headers or call sites by looking for their opcode bytes does
// not work: 0x03 (loop) or 0x10 (call) can appear inside any immediate, such
// as an i32.const, a memarg offset, a v128.const or a shuffle mask. The
// rewrite therefore decodes every instruction with all its immediates, for
// every supported proposal (MVP, sign extension, saturating conversion, bulk
// memory, reference types, SIMD, threads, tail calls, multi-value,
// multi-memory and extended-const encodings), and refuses opcodes it does not
// know rather than guessing their length.
package instrument
