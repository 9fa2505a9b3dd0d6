;; Build: wat2wasm env.wat -o env.wasm
;;
;; Not instrumented: the "env" module the tests instantiate to satisfy the
;; imports of calls.wasm, start.wasm and extconst.wasm.
(module
  (global (export "base") i32 (i32.const 16))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
