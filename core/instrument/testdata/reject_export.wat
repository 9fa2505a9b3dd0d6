;; Build: wat2wasm reject_export.wat -o reject_export.wasm
;;
;; Already exports the fuel global's name: rejected (ErrConflict).
(module
  (func (export "__gosledge_fuel")))
