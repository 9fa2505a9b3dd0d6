;; flood: grows its memory to the route's memory_limit, writes every byte
;; of it, then computes for a while (10 million loop iterations, tens of
;; milliseconds), so that sandboxes preempted mid-run each hold all the
;; memory they may have.
;; Build: wat2wasm flood.wat -o flood.wasm
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32)
    (block $full
      (loop $grow
        (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    (memory.fill (i32.const 0) (i32.const 0xAB)
      (i32.mul (memory.size) (i32.const 65536)))
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 10000000))))))
