;; Build: wat2wasm --no-check reject_global_set.wat -o reject_global_set.wasm
;;
;; global.set to the would-be fuel global (no globals at all): rejected.
(module
  (func (export "refill") (global.set 0 (i32.const 1000000))))
