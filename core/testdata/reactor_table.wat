;; reactor_table: a reactor that writes its table (table.set), which a
;; snapshot cannot restore: gosledge refuses it (core/reactor_test.go).
;; Build: wat2wasm reactor_table.wat -o reactor_table.wasm
(module
  (table 2 funcref)
  (memory (export "memory") 1)
  (func $f)
  (elem declare func $f)
  (func (export "_initialize"))
  (func (export "handle")
    (table.set 0 (i32.const 0) (ref.func $f))))
