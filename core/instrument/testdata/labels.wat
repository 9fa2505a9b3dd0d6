;; Build: wat2wasm labels.wat -o labels.wasm
;;
;; Nested blocks, loops and ifs whose function label indices (0-4, in order
;; of appearance; 1 and 3 are loops) the label-names test renumbers.
(module
  (import "env" "add" (func (param i32 i32) (result i32)))
  (func (export "f") (param i32) (result i32)
    (block $b0
      (loop $l1
        (if (local.get 0) (then (br $b0)))
        (loop $l3 (br_if $l3 (i32.const 0)))
        (block $b4)))
    (local.get 0)))
