;; Build: wat2wasm --enable-extended-const extconst.wat -o extconst.wasm
;;
;; Extended constant expressions: arithmetic in initializers and offsets.
(module
  (import "env" "base" (global $base i32))
  (memory 1)
  (global $g i32 (i32.add (global.get $base) (i32.mul (i32.const 3) (i32.const 4))))
  (data (i32.sub (global.get $base) (i32.const 1)) "x")
  (func (export "g") (result i32) (global.get $g)))
