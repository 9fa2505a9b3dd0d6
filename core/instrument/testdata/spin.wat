;; Build: wat2wasm spin.wat -o spin.wasm
;;
;; Never returns on its own: only the yield hook can stop it.
(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "once") (result i32) (i32.const 42)))
