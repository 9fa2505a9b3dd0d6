;; counter: proves that no state survives from one request to the next.
;; Each run prints three digits — a mutable global, a word in the first
;; page and a word in page 31 (after growing memory to 32 pages, 2 MiB,
;; past the pool's clear limit) — then increments all three. A fresh
;; instance on a zeroed memory always prints "000".
;; Build: wat2wasm counter.wat -o counter.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (func $digit (param $addr i32) (param $v i32)
    (i32.store8 (local.get $addr) (i32.add (i32.const 48) (local.get $v))))
  (func (export "_start")
    (local $high i32)
    (drop (memory.grow (i32.const 31)))
    (local.set $high (i32.const 2097144)) ;; 32 pages - 8
    (call $digit (i32.const 16) (global.get $calls))
    (call $digit (i32.const 17) (i32.load (i32.const 1024)))
    (call $digit (i32.const 18) (i32.load (local.get $high)))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 1024) (i32.add (i32.load (i32.const 1024)) (i32.const 1)))
    (i32.store (local.get $high) (i32.add (i32.load (local.get $high)) (i32.const 1)))
    ;; iovec {buf = 16, len = 3} at 0; bytes written at 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
