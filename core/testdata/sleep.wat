;; Build: wat2wasm sleep.wat -o sleep.wasm
;;
;; Sleeps argv[1] milliseconds (default 10) in WASI poll_oneoff (one
;; relative clock subscription), then writes "woke\n" and returns.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "woke\n")
  ;; $ms parses argv[1] as decimal milliseconds. argc is at 0, the
  ;; argument buffer's size at 4, argv's pointers at 16, its strings at 1024.
  (func $ms (result i64)
    (local $p i32) (local $c i32) (local $n i64)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2)) (then (return (i64.const 10))))
    (drop (call $args_get (i32.const 16) (i32.const 1024)))
    (local.set $p (i32.load (i32.const 20)))
    (block $done
      (loop $digits
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10))
          (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digits)))
    (local.get $n))
  (func (export "_start")
    ;; The subscription at 128: userdata 0, tag 0 (clock), clock id 1
    ;; (monotonic) at 144, timeout in ns at 152, flags 0 (relative).
    (i32.store (i32.const 144) (i32.const 1))
    (i64.store (i32.const 152) (i64.mul (call $ms) (i64.const 1000000)))
    (drop (call $poll_oneoff (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 8)))
    ;; The iovec at 64: "woke\n".
    (i32.store (i32.const 64) (i32.const 512))
    (i32.store (i32.const 68) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 8)))))
