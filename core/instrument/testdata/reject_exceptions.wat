;; Build: wat2wasm --enable-exceptions reject_exceptions.wat -o reject_exceptions.wasm
;;
;; Legacy exception handling (try = 0x06) inside a function: rejected, but
;; the tag section comes first and is rejected before the walker sees it.
(module
  (tag $e (param i32))
  (func (export "f") (result i32)
    (try (result i32)
      (do (throw $e (i32.const 1)))
      (catch $e))))
