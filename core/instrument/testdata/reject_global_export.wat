;; Build: wat2wasm --no-check reject_global_export.wat -o reject_global_export.wasm
;;
;; Exporting a global index past the module's globals: rejected.
(module
  (global i32 (i32.const 1))
  (export "g" (global 1)))
