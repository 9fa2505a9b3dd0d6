;; Build: wat2wasm empty.wat -o empty.wasm
;;
;; No sections at all: instrumentation must create the type, import, global
;; and export sections in order.
(module)
