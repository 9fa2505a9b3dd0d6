;; Build: wat2wasm memmax.wat -o memmax.wasm
;;
;; A memory whose maximum (100) is above the caps used in the tests.
(module
  (memory (export "mem") 1 100)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
