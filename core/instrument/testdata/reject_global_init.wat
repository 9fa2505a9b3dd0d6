;; Build: wat2wasm --no-check reject_global_init.wat -o reject_global_init.wasm
;;
;; A global initializer reading past the module's globals: rejected.
(module
  (global i32 (global.get 1)))
