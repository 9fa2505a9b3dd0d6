;; Build: wat2wasm unroll.wat -o unroll.wasm
;;
;; Loops the instrumenter unrolls (unroll.go), each with a different way
;; out or back, and loops it must leave alone. The differential test runs
;; each before and after; TestUnroll counts the safepoints each passes.
(module
  (memory (export "mem") 1)
  ;; n iterations of a two-instruction body: unrolled 4 times.
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  ;; Leaves early from the middle (br_if to the enclosing block, past the
  ;; exit block) when it finds the value 7 in memory.
  (func (export "find") (param $n i32) (result i32)
    (local $i i32)
    (block $found
      (loop $l
        (br_if $found (i32.eq (i32.load8_u (local.get $i)) (i32.const 7)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (return (i32.const -1)))
    (local.get $i))
  ;; A continue in the middle (br to the loop from a nested block), a
  ;; return from inside, and a br_table with targets in, at and out of the
  ;; loop.
  (func (export "mixed") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $out
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (block $skip
          (block $odd
            (br_table $odd $skip $l $out (i32.rem_u (local.get $i) (i32.const 5))))
          (local.set $acc (i32.add (local.get $acc) (local.get $i))))
        (if (i32.gt_u (local.get $acc) (i32.const 100000))
          (then (return (i32.const -2))))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
    (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 1000))))
  ;; Stores as it goes: the final memory shows every iteration ran once.
  (func (export "fill") (param $n i32)
    (local $i i32)
    (loop $l
      (i32.store8 offset=100 (local.get $i) (local.get $i))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; Not unrolled: a result type.
  (func (export "typed") (param $n i32) (result i32)
    (loop $l (result i32)
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.get $n)
      (br_if $l (local.get $n))))
  ;; Leaves from the middle, comes back with br at the end (the loop's
  ;; end is never reached): the br goes to the next copy.
  (func (export "exits") (param $n i32) (result i32)
    (block $b
      (loop $l
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br_if $b (i32.eqz (local.get $n)))
        (br $l)))
    (local.get $n))
  ;; Not unrolled: too large (a 155-instruction body, more than half of
  ;; unrollBudget).
  (func (export "large") (param $n i32) (result i32)
    (local $x i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $x))
  ;; Not unrolled: the outer loop holds a loop, the inner one is.
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (local.get $j)))
        (br_if $inner (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $i))))
      (br_if $outer (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  ;; A call in the body (of a leaf with no safepoint): unrolled.
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "calls") (param $n i32) (result i32)
    (loop $l
      (br_if $l (local.tee $n (call $id (i32.sub (local.get $n) (i32.const 1))))))
    (local.get $n))
  ;; Recursion through a loop: a binary tree of depth n, 2^n leaves. The
  ;; loop keeps its safepoint because the recursion relies on it, so tree
  ;; has none at its entry; unrolled, it passes one per inner node.
  (func $tree (export "tree") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $tree (i32.sub (local.get $n) (i32.const 1)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 2))))
    (local.get $acc))
  (data (i32.const 40) "\07")
)
