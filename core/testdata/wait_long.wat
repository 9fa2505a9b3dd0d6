;; Build: wat2wasm --enable-threads wait_long.wat -o wait_long.wasm
;;
;; Waits an hour (a finite timeout far past any route's) with wait64.
(module
  (memory (export "memory") 1 1 shared)
  (func (export "_start")
    (drop (memory.atomic.wait64 (i32.const 1024) (i64.const 0) (i64.const 3600000000000)))))
