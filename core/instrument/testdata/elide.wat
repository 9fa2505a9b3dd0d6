;; Build: wat2wasm elide.wat -o elide.wasm
;;
;; One function per elision rule (TestElision names them by index).
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (type $t (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $leaf $viaTable)
  ;; 1: a leaf: no entry safepoint.
  (func $leaf (export "leaf") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)))
  ;; 2: self-recursive: checked.
  (func $self (export "self") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $self (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 0))))
  ;; 3, 4: mutual recursion: both checked.
  (func $even (export "even") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $odd (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 1))))
  (func $odd (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $even (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 0))))
  ;; 5, 6: recursion through call_indirect: the caller of call_indirect is
  ;; checked; $viaTable, in the table, calls it directly and is not.
  (func $indirect (export "indirect") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.const 1)))
  (func $viaTable (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $indirect (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 7))))
  ;; 7: calls an import: checked.
  (func $host (export "host") (param i32) (result i32)
    (call $add (local.get 0) (i32.const 1)))
  ;; 8: a loop that calls a checked function before any branch: no
  ;; safepoint in the loop, none at the entry (it calls only $self, which
  ;; is checked).
  (func $loopCall (export "loop_call") (param i32) (result i32)
    (local $acc i32)
    (loop $l
      (block
        (local.set $acc (i32.add (local.get $acc) (call $self (i32.const 1)))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  ;; 9: the loop's call is conditional: the loop keeps its safepoint.
  (func $loopCond (export "loop_cond") (param i32) (result i32)
    (local $acc i32)
    (loop $l
      (if (i32.and (local.get 0) (i32.const 1))
        (then (local.set $acc (i32.add (local.get $acc) (call $self (i32.const 1))))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  ;; 10: the call comes after a branch: the loop keeps its safepoint.
  (func $loopLate (export "loop_late") (param i32) (result i32)
    (local $acc i32)
    (block $out
      (loop $l
        (br_if $out (i32.eqz (local.get 0)))
        (local.set $acc (i32.add (local.get $acc) (call $self (i32.const 1))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  ;; 11: a loop that calls only an unchecked leaf keeps its safepoint.
  (func $loopLeaf (export "loop_leaf") (param i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (call $leaf (local.get $acc)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  ;; 12: an outer loop whose body enters an inner loop first: only the
  ;; inner one has a safepoint.
  (func $nested (export "nested") (param i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $outer
      (local.set $i (i32.const 3))
      (loop $inner
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (br_if $inner (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
      (br_if $outer (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  ;; 13: recursion through a loop whose body begins with a checked call:
  ;; the loop keeps its safepoint all the same (the recursion relies on
  ;; it), and the entry has none.
  (func $loopRec (export "loop_rec") (param i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $self (i32.const 1))))
      (if (i32.gt_u (local.get 0) (i32.const 1))
        (then (local.set $acc (i32.add (local.get $acc)
          (call $loopRec (i32.shr_u (local.get 0) (i32.const 1)))))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $acc))
  ;; 14, 15: mutual recursion with one of the calls inside a loop: no
  ;; entry safepoints; the loop keeps its own.
  (func $recA (export "rec_a") (param i32) (result i32)
    (local $acc i32)
    (if (i32.eqz (local.get 0)) (then (return (i32.const 1))))
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $recB (i32.sub (local.get 0) (i32.const 1)))))
      (br_if $l (i32.and (local.get 0) (i32.const 0))))
    (local.get $acc))
  (func $recB (param i32) (result i32)
    (i32.add (call $recA (local.get 0)) (call $recA (local.get 0))))
)
