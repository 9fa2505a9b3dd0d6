;; Build: wat2wasm --debug-names refs.wat -o refs.wasm
;; (wabt picks encodings 2/3 over 6/7 when every item is a ref.func, hence
;; the ref.null items in segments 6 and 7.)
;;
;; Reference types: every element segment encoding (0-7), ref.func in
;; global initializers and element expressions, table.get/set/size/grow/
;; fill/init/copy, elem.drop, ref.null, ref.is_null, typed select, and
;; call_indirect through a second table.
(module
  (type $v2i (func (result i32)))
  (table $t0 8 funcref)
  (table $t1 8 funcref)
  (table $ext 2 externref)
  (global $gf funcref (ref.func $five))
  (global $gnull (mut funcref) (ref.null func))
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func $three (result i32) (i32.const 3))
  (func $four (result i32) (i32.const 4))
  (func $five (result i32) (i32.const 5))
  (func $six (result i32) (i32.const 6))
  (elem (i32.const 0) $one $two)                                        ;; 0
  (elem $p1 func $three $four)                                          ;; 1
  (elem (table $t1) (i32.const 0) func $five $six)                      ;; 2
  (elem declare func $six)                                              ;; 3
  (elem (i32.const 2) funcref (ref.func $three) (ref.null func))        ;; 4
  (elem $p5 funcref (ref.func $five) (ref.null func) (ref.func $one))   ;; 5
  (elem (table $t1) (i32.const 4) funcref (ref.func $one) (ref.null func)) ;; 6
  (elem declare funcref (ref.func $four) (ref.null func))               ;; 7
  (func (export "call0") (param i32) (result i32)
    (call_indirect $t0 (type $v2i) (local.get 0)))
  (func (export "call1") (param i32) (result i32)
    (call_indirect $t1 (type $v2i) (local.get 0)))
  (func (export "init_p1") (param $dst i32)
    (table.init $t0 $p1 (local.get $dst) (i32.const 0) (i32.const 2)))
  (func (export "init_p5") (param $dst i32)
    (table.init $t1 $p5 (local.get $dst) (i32.const 0) (i32.const 3)))
  (func (export "drop_p5") (elem.drop $p5))
  (func (export "copy") (param $dst i32) (param $src i32) (param $n i32)
    (table.copy $t0 $t1 (local.get $dst) (local.get $src) (local.get $n)))
  (func (export "is_null0") (param i32) (result i32)
    (ref.is_null (table.get $t0 (local.get 0))))
  (func (export "set_gf") (param i32)
    (table.set $t0 (local.get 0) (global.get $gf)))
  (func (export "set_ref") (param i32)
    (table.set $t0 (local.get 0) (ref.func $six))
    (global.set $gnull (ref.func $four)))
  (func (export "gnull") (result i32)
    (if (result i32) (ref.is_null (global.get $gnull))
      (then (i32.const -1))
      (else (table.set $t1 (i32.const 7) (global.get $gnull))
            (call_indirect $t1 (type $v2i) (i32.const 7)))))
  (func (export "grow") (param i32) (result i32)
    (drop (table.grow $t0 (ref.null func) (local.get 0)))
    (table.size $t0))
  (func (export "fill") (param $at i32) (param $n i32)
    (table.fill $t0 (local.get $at) (ref.func $two) (local.get $n)))
  (func (export "ext") (param i32) (result i32)
    (table.set $ext (i32.const 0) (ref.null extern))
    (ref.is_null (select (result externref) (table.get $ext (i32.const 0))
                                             (ref.null extern) (local.get 0))))
  (func (export "sumtable") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (if (i32.eqz (ref.is_null (table.get $t0 (local.get $i))))
        (then (local.set $acc (i32.add (local.get $acc)
                (call_indirect $t0 (type $v2i) (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
)
