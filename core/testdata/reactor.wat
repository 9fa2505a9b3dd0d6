;; reactor: a reactor module (no _start; _initialize and handle) for
;; core/reactor_test.go. _initialize sets a global and a memory word to 1
;; (state the snapshot must keep). handle reads the body's first byte:
;;   't' traps (unreachable), 'l' loops forever, 'x' returns 3 (an exit
;;   status), 'e' exits 0 (proc_exit), 'g' grows memory by a page, 'c'
;;   closes stdout (fd_close),
;;   's' spins 3*10^6 iterations, 'S' 10^8, anything else nothing more;
;; then (unless it trapped) prints four digits — the initialised global,
;; a call-counting global, a word in the first page and a word in the last
;; page of the snapshot's memory — and increments the last three. An
;; instance in the snapshot's state prints "1000".
;; Build: wat2wasm reactor.wat -o reactor.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (global $inited (mut i32) (i32.const 0))
  (global $calls (mut i32) (i32.const 0))
  (func $digit (param $addr i32) (param $v i32)
    (i32.store8 (local.get $addr) (i32.add (i32.const 48) (local.get $v))))
  (func $spin (param $n i32) (local $i i32)
    (loop $s
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $s (i32.lt_u (local.get $i) (local.get $n)))))
  (func (export "_initialize")
    (global.set $inited (i32.const 1))
    (i32.store (i32.const 1024) (i32.const 0))
    (i32.store (i32.const 2048) (i32.const 1)))
  (func (export "handle") (result i32)
    (local $op i32)
    ;; iovec {buf = 64, len = 1} at 32; bytes read at 40
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 32) (i32.const 64))
    (i32.store (i32.const 36) (i32.const 1))
    (drop (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
    (local.set $op (i32.load8_u (i32.const 64)))
    (if (i32.eq (local.get $op) (i32.const 116)) (then unreachable))          ;; t
    (if (i32.eq (local.get $op) (i32.const 108)) (then (loop $l (br $l))))    ;; l
    (if (i32.eq (local.get $op) (i32.const 120)) (then (return (i32.const 3)))) ;; x
    (if (i32.eq (local.get $op) (i32.const 101)) (then (call $proc_exit (i32.const 0)))) ;; e
    (if (i32.eq (local.get $op) (i32.const 103)) (then (drop (memory.grow (i32.const 1))))) ;; g
    (if (i32.eq (local.get $op) (i32.const 99)) (then (drop (call $fd_close (i32.const 1))))) ;; c
    (if (i32.eq (local.get $op) (i32.const 115)) (then (call $spin (i32.const 3000000))))   ;; s
    (if (i32.eq (local.get $op) (i32.const 83)) (then (call $spin (i32.const 100000000)))) ;; S
    (call $digit (i32.const 16) (global.get $inited))
    (call $digit (i32.const 17) (global.get $calls))
    (call $digit (i32.const 18) (i32.load (i32.const 1024)))
    (call $digit (i32.const 19) (i32.load (i32.const 131064))) ;; 2 pages - 8
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 1024) (i32.add (i32.load (i32.const 1024)) (i32.const 1)))
    (i32.store (i32.const 131064) (i32.add (i32.load (i32.const 131064)) (i32.const 1)))
    ;; iovec {buf = 16, len = 4} at 0; bytes written at 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const 0)))
