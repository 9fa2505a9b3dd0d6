;; Build: wat2wasm tables.wat -o tables.wasm
;;
;; Two tables: one with no maximum, one whose maximum (5) is above the cap
;; used in the tests (4); each with an export that grows it.
(module
  (table $open 2 funcref)
  (table $capped 1 5 externref)
  (func (export "grow_open") (param i32) (result i32)
    (table.grow $open (ref.null func) (local.get 0)))
  (func (export "grow_capped") (param i32) (result i32)
    (table.grow $capped (ref.null extern) (local.get 0))))
