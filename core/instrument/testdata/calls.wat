;; Build: wat2wasm --debug-names calls.wat -o calls.wasm
;;   and:  wat2wasm --no-canonicalize-leb128s --debug-names calls.wat -o calls_leb5.wasm
;;
;; Direct and indirect calls around an imported function (so defined
;; function indices shift past the yield import), an active element
;; segment (encoding 0), loops, br_table, and immediates full of 0x03 bytes.
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "base" (global $base i32))
  (type $binop (func (param i32 i32) (result i32)))
  (memory (export "mem") 1)
  (table $t 4 funcref)
  (elem (i32.const 0) $sub $mul $addw)
  (global $counter (mut i32) (i32.const 0))
  (global $k i32 (global.get $base))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $addw (type $binop) (call $add (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (call_indirect (type $binop) (local.get $a) (local.get $b) (local.get $op)))
  (func (export "sum") (param $n i32) (result i64)
    (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  (func (export "classify") (param i32) (result i32)
    (block $d
      (block $c
        (block $b
          (block $a
            (br_table $a $b $c $d (local.get 0)))
          (return (i32.const 100)))
        (return (i32.const 200)))
      (return (i32.const 300)))
    (i32.const 400))
  ;; Immediates that contain the loop opcode byte 0x03.
  (func (export "threes") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (i32.store offset=3 (i32.const 3) (i32.const 0x03030303))
    (local.set 3 (i32.const 3))
    (local.set $d (i64.eq (i64.const 0x0303030303030303) (i64.const 3)))
    (loop $l
      (local.set $a (i32.add (local.get $a) (i32.load offset=3 align=1 (i32.const 3))))
      (local.set $c (i32.add (local.get $c) (f32.eq (f32.const 0x1.060606p-249) (f32.const 3))))
      (global.set $counter (i32.add (global.get $counter) (i32.const 3)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (i32.add (local.get $a) (local.get $c))
             (i32.add (global.get $counter) (i32.add (local.get 3) (local.get $d)))))
  (func $even (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (call $odd (i32.sub (local.get $n) (i32.const 1))))))
  (func $odd (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (call $even (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "even") (param i32) (result i32) (call $even (local.get 0)))
  (func (export "k") (result i32) (i32.add (global.get $k) (call $add (i32.const 1) (i32.const 2))))
  (func (export "trap") (param i32) (result i32)
    (if (local.get 0) (then unreachable))
    (i32.div_s (i32.const 7) (local.get 0)))
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
)
