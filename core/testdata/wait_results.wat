;; Build: wat2wasm --enable-threads wait_results.wat -o wait_results.wasm
;;
;; Writes the results of three waits as digits, then a newline: "122\n".
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1 shared)
  (func (export "_start")
    ;; The word at 64 is 0. Expected 1: not-equal (1) at once, despite
    ;; the infinite timeout.
    (i32.store8 (i32.const 0) (i32.add (i32.const 48)
      (memory.atomic.wait32 (i32.const 64) (i32.const 1) (i64.const -1))))
    ;; Equal, timeout 0: timed out (2) at once.
    (i32.store8 (i32.const 1) (i32.add (i32.const 48)
      (memory.atomic.wait64 (i32.const 64) (i64.const 0) (i64.const 0))))
    ;; Equal, timeout 5 ms: timed out (2) after it.
    (i32.store8 (i32.const 2) (i32.add (i32.const 48)
      (memory.atomic.wait32 (i32.const 64) (i32.const 0) (i64.const 5000000))))
    (i32.store8 (i32.const 3) (i32.const 10))
    ;; One iovec at 16: bytes 0..3.
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
