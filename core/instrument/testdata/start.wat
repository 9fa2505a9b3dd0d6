;; Build: wat2wasm --debug-names start.wat -o start.wasm
;;
;; A start function (its index is remapped) that loops, plus an active data
;; segment whose offset reads an imported global.
(module
  (import "env" "base" (global $off i32)) ;; 16 in the tests
  (memory 1)
  (global $sum (mut i32) (i32.const 0))
  (data (global.get $off) "\01\02\03\04\05\06\07\08")
  (func $helper (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $init
    (local $i i32)
    (loop $l
      (global.set $sum (i32.add (global.get $sum)
        (call $helper (i32.load8_u offset=16 (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 8)))))
  (start $init)
  (func (export "sum") (result i32) (global.get $sum))
)
