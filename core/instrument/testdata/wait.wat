;; Build: wat2wasm --enable-threads --debug-names wait.wat -o wait.wasm
;;
;; memory.atomic.wait32/64 on a shared memory, which the rewrite turns into
;; calls of the host's wait imports: not-equal, timed out (at once and after
;; a millisecond), out of bounds (by address, by offset, past 32 bits and
;; straddling the end), unaligned, after memory.grow, and waits beside calls
;; and loops so that the shift of defined functions by three imports shows.
(module
  (memory (export "mem") 1 2 shared)
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "w32") (param $addr i32) (param $exp i32) (param $timeout i64) (result i32)
    (memory.atomic.wait32 (call $id (local.get $addr)) (local.get $exp) (local.get $timeout)))
  (func (export "w64") (param $addr i32) (param $exp i64) (param $timeout i64) (result i32)
    (memory.atomic.wait64 (local.get $addr) (local.get $exp) (local.get $timeout)))
  ;; The highest offset an i32.const can only carry as a negative number.
  (func (export "w32_high") (param $addr i32) (result i32)
    (memory.atomic.wait32 offset=4294967292 (local.get $addr) (i32.const 0) (i64.const 0)))
  (func (export "w64_off") (param $addr i32) (param $exp i64) (result i32)
    (memory.atomic.wait64 offset=65528 (local.get $addr) (local.get $exp) (i64.const 0)))
  (func (export "store32") (param $addr i32) (param $v i32)
    (i32.atomic.store (local.get $addr) (local.get $v)))
  (func (export "store64") (param $addr i32) (param $v i64)
    (i64.atomic.store (local.get $addr) (local.get $v)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  ;; Sums n not-equal results in a loop.
  (func (export "loop") (param $n i32) (result i32) (local $sum i32)
    (i32.atomic.store offset=64 (i32.const 0) (i32.const 9))
    (loop $l
      (local.set $sum (i32.add (local.get $sum)
        (memory.atomic.wait32 offset=64 (i32.const 0) (i32.const 8) (i64.const -1))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (local.get $sum) (call $id (i32.const 0))))
)
