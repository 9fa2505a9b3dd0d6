;; Build: wat2wasm --enable-threads wait_unaligned.wat -o wait_unaligned.wasm
;;
;; A wait on a misaligned address traps ("unaligned atomic") instead of
;; waiting, as it does uninstrumented.
(module
  (memory (export "memory") 1 1 shared)
  (func (export "_start")
    (drop (memory.atomic.wait32 (i32.const 1026) (i32.const 0) (i64.const -1)))))
