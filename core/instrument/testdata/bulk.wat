;; Build: wat2wasm --debug-names bulk.wat -o bulk.wasm
;;
;; Bulk memory (memory.init/copy/fill, data.drop, passive data and the data
;; count section), saturating conversions and sign extension.
(module
  (memory (export "mem") 1 4)
  (data $p "hello, gosledge!")
  (data (i32.const 100) "\ff\fe\fd")
  (func (export "init") (param $dst i32) (param $n i32)
    (memory.init $p (local.get $dst) (i32.const 0) (local.get $n)))
  (func (export "drop") (data.drop $p))
  (func (export "copyfill") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (memory.fill (i32.const 200) (i32.const 7) (i32.const 32))
    (memory.copy (i32.const 300) (i32.const 200) (i32.const 32))
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.load8_u offset=300 (local.get $i))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "load") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "sat") (param $f f64) (result i64)
    (i64.add
      (i64.extend_i32_s (i32.trunc_sat_f64_s (local.get $f)))
      (i64.add (i64.trunc_sat_f64_u (local.get $f))
        (i64.extend_i32_u (i32.trunc_sat_f32_u (f32.demote_f64 (local.get $f)))))))
  (func (export "signext") (param $x i32) (result i64)
    (i64.add (i64.extend_i32_s (i32.add (i32.extend8_s (local.get $x)) (i32.extend16_s (local.get $x))))
      (i64.add (i64.extend8_s (i64.extend_i32_u (local.get $x)))
        (i64.add (i64.extend16_s (i64.extend_i32_u (local.get $x)))
          (i64.extend32_s (i64.extend_i32_u (local.get $x)))))))
  (func (export "grow") (param i32) (result i32)
    (drop (memory.grow (local.get 0)))
    (memory.size))
)
