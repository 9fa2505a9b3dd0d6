;; Build: wat2wasm reject_memimport.wat -o reject_memimport.wasm
;;
;; Imported memory: rejected (ErrUnsupported).
(module
  (import "env" "memory" (memory 1)))
