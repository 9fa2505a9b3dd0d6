;; tablegrow: asks for a table of 2^28 + 1 elements (2 GiB of references)
;; in one table.grow. The engine caps tables, so the grow fails at once and
;; the function prints "capped"; uncapped, wazero would allocate for
;; seconds inside one instruction where no kill reaches.
;; Build: wat2wasm tablegrow.wat -o tablegrow.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (data (i32.const 16) "capped")
  (func (export "_start")
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 0x10000000)) (i32.const -1))
      (then unreachable))
    ;; iovec {buf = 16, len = 6} at 0; bytes written at 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
