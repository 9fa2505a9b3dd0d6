;; Build: wat2wasm --no-check reject_global.wat -o reject_global.wasm
;;
;; global.get 1 in code with only one global: index 1 is where the fuel
;; global would go. Must be rejected (ErrGlobalOutOfRange).
(module
  (global i32 (i32.const 0))
  (func (export "peek") (result i32) (global.get 1)))
