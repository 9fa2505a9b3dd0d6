;; Build: wat2wasm reject_import.wat -o reject_import.wasm
;;
;; Imports from the reserved module: rejected (ErrConflict).
(module
  (import "gosledge" "yield" (func (result i32))))
