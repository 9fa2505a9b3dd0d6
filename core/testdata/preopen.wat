;; preopen: tries every way out of its first preopened directory (fd 3)
;; and reports what each got, one line per attempt:
;;
;;   NAME=0:CONTENT   opened; CONTENT is what a read of it returned
;;   NAME=0           done (unlink, create or write that succeeded)
;;   NAME=ERRNO       refused, with the WASI errno (e.g. 44 noent, 76 notcapable)
;;
;; argv[1] is the absolute host path of a file outside the directory
;; (core/preopen_test.go makes the tree). Symlinks are followed
;; (lookupflags symlink_follow), as a guest that wants out would ask.
;;
;; Build: wat2wasm preopen.wat -o preopen.wasm
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $path_unlink_file (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; 0..63: scratch (iovecs, results); 1024..: the line being built;
  ;; 2048..: read buffer; 4096..: argv; 8192..: strings below.
  (data (i32.const 8192) "hello.txt")          ;; 8192, 9
  (data (i32.const 8208) "../secret.txt")      ;; 8208, 13
  (data (i32.const 8224) "sub/../../secret.txt") ;; 8224, 20
  (data (i32.const 8256) "sub/../hello.txt")   ;; 8256, 16
  (data (i32.const 8288) "out/secret.txt")     ;; 8288, 14
  (data (i32.const 8320) "abs_link")           ;; 8320, 8
  (data (i32.const 8336) "rel_link")           ;; 8336, 8
  (data (i32.const 8352) "new.txt")            ;; 8352, 7
  (data (i32.const 8368) "/etc/passwd")        ;; 8368, 11

  (global $line (mut i32) (i32.const 1024))

  (func $byte (param $b i32)
    (i32.store8 (global.get $line) (local.get $b))
    (global.set $line (i32.add (global.get $line) (i32.const 1))))

  (func $str (param $p i32) (param $n i32)
    (memory.copy (global.get $line) (local.get $p) (local.get $n))
    (global.set $line (i32.add (global.get $line) (local.get $n))))

  (func $num (param $n i32)
    (if (i32.ge_u (local.get $n) (i32.const 10))
      (then (call $num (i32.div_u (local.get $n) (i32.const 10)))))
    (call $byte (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))

  ;; flush writes the line and a newline to stdout and starts a new one.
  (func $flush
    (call $byte (i32.const 10))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.sub (global.get $line) (i32.const 1024)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.set $line (i32.const 1024)))

  ;; name= starts a line.
  (func $name (param $p i32) (param $n i32)
    (call $str (local.get $p) (local.get $n))
    (call $byte (i32.const 61)))

  ;; try opens path in dirfd with oflags and rights, reports the errno and,
  ;; if it opened and read is set, ":" and up to 64 bytes read from it.
  (func $try (param $np i32) (param $nn i32) (param $dirfd i32)
             (param $p i32) (param $n i32) (param $oflags i32) (param $rights i64) (param $read i32)
    (local $errno i32) (local $fd i32)
    (call $name (local.get $np) (local.get $nn))
    (local.set $errno
      (call $path_open (local.get $dirfd) (i32.const 1) (local.get $p) (local.get $n)
        (local.get $oflags) (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 16)))
    (call $num (local.get $errno))
    (if (i32.eqz (local.get $errno))
      (then
        (local.set $fd (i32.load (i32.const 16)))
        (if (local.get $read)
          (then
            (i32.store (i32.const 24) (i32.const 2048))
            (i32.store (i32.const 28) (i32.const 64))
            (i32.store (i32.const 32) (i32.const 0))
            (drop (call $fd_read (local.get $fd) (i32.const 24) (i32.const 1) (i32.const 32)))
            (call $byte (i32.const 58))
            (call $str (i32.const 2048) (i32.load (i32.const 32)))))
        (drop (call $fd_close (local.get $fd)))))
    (call $flush))

  (func (export "_start")
    (local $argv1 i32) (local $len i32)
    ;; argv[1] and its length (up to its NUL).
    (drop (call $args_sizes_get (i32.const 40) (i32.const 44)))
    (drop (call $args_get (i32.const 4096) (i32.const 4352)))
    (local.set $argv1 (i32.load (i32.const 4100)))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $argv1) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $scan)))

    ;; read: rights fd_read (2); write: fd_write (64); create: oflags creat (1).
    (call $try (i32.const 8192) (i32.const 9) (i32.const 3) (i32.const 8192) (i32.const 9) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8256) (i32.const 16) (i32.const 3) (i32.const 8256) (i32.const 16) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8208) (i32.const 13) (i32.const 3) (i32.const 8208) (i32.const 13) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8224) (i32.const 20) (i32.const 3) (i32.const 8224) (i32.const 20) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8480) (i32.const 8) (i32.const 3) (i32.const 8368) (i32.const 11) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8464) (i32.const 8) (i32.const 3) (local.get $argv1) (local.get $len) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8288) (i32.const 14) (i32.const 3) (i32.const 8288) (i32.const 14) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8320) (i32.const 8) (i32.const 3) (i32.const 8320) (i32.const 8) (i32.const 0) (i64.const 2) (i32.const 1))
    (call $try (i32.const 8336) (i32.const 8) (i32.const 3) (i32.const 8336) (i32.const 8) (i32.const 0) (i64.const 2) (i32.const 1))
    ;; write and create, reported under their own names.
    (call $try (i32.const 8400) (i32.const 5) (i32.const 3) (i32.const 8192) (i32.const 9) (i32.const 0) (i64.const 64) (i32.const 0))
    (call $try (i32.const 8416) (i32.const 6) (i32.const 3) (i32.const 8352) (i32.const 7) (i32.const 1) (i64.const 64) (i32.const 0))
    ;; a second preopen: there is none.
    (call $try (i32.const 8432) (i32.const 4) (i32.const 4) (i32.const 8192) (i32.const 9) (i32.const 0) (i64.const 2) (i32.const 1))
    ;; unlink.
    (call $name (i32.const 8448) (i32.const 6))
    (call $num (call $path_unlink_file (i32.const 3) (i32.const 8192) (i32.const 9)))
    (call $flush))

  (data (i32.const 8400) "write")   ;; 8400, 5
  (data (i32.const 8416) "create")  ;; 8416, 6
  (data (i32.const 8432) "fd_4")    ;; 8432, 4
  (data (i32.const 8448) "unlink")  ;; 8448, 6
  (data (i32.const 8464) "abs_host") ;; 8464, 8: argv[1]
  (data (i32.const 8480) "absolute") ;; 8480, 8: /etc/passwd
)
