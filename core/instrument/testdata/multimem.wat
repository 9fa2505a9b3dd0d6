;; Build: wat2wasm --enable-multi-memory multimem.wat -o multimem.wasm
;;
;; Multi-memory: memargs with bit 6 of the alignment set carry a memory
;; index. wazero cannot run this, but the walker must decode it.
(module
  (memory $a 1)
  (memory $b 1 2)
  (func (export "f") (param i32) (result i32)
    (i32.store $b offset=3 (i32.const 0) (local.get 0))
    (loop $l (br_if $l (i32.const 0)))
    (memory.copy $a $b (i32.const 0) (i32.const 0) (i32.const 4))
    (i32.add (i32.load $a (i32.const 0)) (i32.add (memory.size $b) (memory.grow $b (i32.const 0))))))
