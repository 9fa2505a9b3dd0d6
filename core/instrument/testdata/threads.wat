;; Build: wat2wasm --enable-threads --debug-names threads.wat -o threads.wasm
;;
;; Threads: a shared memory (limits flag 0x03 must survive), atomic loads,
;; stores, read-modify-write and cmpxchg in loops, atomic.fence (0xfe 0x03
;; plus a reserved byte), notify and wait.
(module
  (memory (export "mem") 1 4 shared)
  (func (export "count") (param $n i32) (result i32)
    (loop $l
      (drop (i32.atomic.rmw.add offset=8 (i32.const 0) (i32.const 3)))
      (atomic.fence)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.atomic.load offset=8 (i32.const 0)))
  (func (export "cas") (param $old i32) (param $new i32) (result i32)
    (i32.atomic.rmw.cmpxchg offset=16 (i32.const 0) (local.get $old) (local.get $new)))
  (func (export "wide") (param $x i64) (result i64)
    (i64.atomic.store offset=24 (i32.const 0) (local.get $x))
    (drop (i64.atomic.rmw8.xor_u offset=24 (i32.const 0) (i64.const 0x03)))
    (drop (i64.atomic.rmw.sub offset=24 (i32.const 0) (i64.const 1)))
    (i64.add (i64.atomic.load offset=24 (i32.const 0))
             (i64.atomic.load16_u offset=24 (i32.const 0))))
  (func (export "notify") (result i32)
    (memory.atomic.notify offset=32 (i32.const 0) (i32.const 1)))
  ;; Expected value differs, so wait returns 1 ("not-equal") at once.
  (func (export "wait") (result i32)
    (i32.atomic.store offset=40 (i32.const 0) (i32.const 5))
    (i32.add (memory.atomic.wait32 offset=40 (i32.const 0) (i32.const 3) (i64.const 0))
             (memory.atomic.wait64 offset=48 (i32.const 0) (i64.const 3) (i64.const 0))))
)
