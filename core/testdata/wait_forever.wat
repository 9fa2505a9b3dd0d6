;; Build: wat2wasm --enable-threads wait_forever.wat -o wait_forever.wasm
;;
;; Issue 16: waits forever on a shared memory. Only a kill ends it.
(module
  (memory (export "memory") 1 1 shared)
  (func (export "_start")
    (drop (memory.atomic.wait32 (i32.const 1024) (i32.const 0) (i64.const -1)))))
