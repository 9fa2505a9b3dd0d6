;; escape: what a guest gets when it reaches for what a sandbox does not
;; give it. It prints five two-digit numbers, space-separated: the number
;; of environment variables, then the WASI errno of fd_prestat_get(3) (is
;; there a preopened directory?), path_open on fd 3 and on stdin (fd 0) of
;; "/etc/passwd", and sock_accept(3). With no preopens, no environment and
;; no sockets: "00 08 63 63 08" (8 = EBADF, 63 = EPERM: a sandbox without
;; a file system refuses every path).
;; Build: wat2wasm escape.wat -o escape.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $sock_accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "/etc/passwd")
  ;; two digits of v at out+3i, then a space
  (func $num (param $i i32) (param $v i32)
    (local $at i32)
    (local.set $at (i32.add (i32.const 100) (i32.mul (local.get $i) (i32.const 3))))
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.div_u (local.get $v) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 2)) (i32.const 32)))
  (func $open (param $fd i32) (result i32)
    (call $path_open (local.get $fd) (i32.const 0) (i32.const 200) (i32.const 11)
      (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 300)))
  (func (export "_start")
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (call $num (i32.const 0) (i32.load (i32.const 16)))
    (call $num (i32.const 1) (call $fd_prestat_get (i32.const 3) (i32.const 24)))
    (call $num (i32.const 2) (call $open (i32.const 3)))
    (call $num (i32.const 3) (call $open (i32.const 0)))
    (call $num (i32.const 4) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 32)))
    ;; iovec {buf = 100, len = 14} at 0; bytes written at 8
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 14))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
