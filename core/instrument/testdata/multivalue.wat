;; Build: wat2wasm --debug-names multivalue.wat -o multivalue.wasm
;;
;; Multi-value: loops and blocks with parameters and results (type-index
;; block types), functions returning several values. A safepoint right
;; after such a loop header must leave the loop's operands untouched.
(module
  (type $pair (func (param i32 i32) (result i32 i32)))
  (func $swap (type $pair) (local.get 1) (local.get 0))
  ;; fib via a loop that carries (a, b) as loop parameters.
  (func (export "fibpair") (param $n i32) (result i32 i32)
    (i32.const 0) (i32.const 1)
    (loop $l (param i32 i32) (result i32 i32)
      (if (param i32 i32) (result i32 i32) (i32.eqz (local.get $n))
        (then)
        (else
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (call $swap)           ;; b a
          (call $step)           ;; b a+b
          (br $l)))))
  (func $step (param $b i32) (param $a i32) (result i32 i32)
    (local.get $b) (i32.add (local.get $a) (local.get $b)))
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32 i64)
    local.get $a
    local.get $b
    block (type $pair)
      call $swap
      call $swap
    end
    i32.div_u
    (i32.rem_u (local.get $a) (local.get $b))
    (i64.extend_i32_u (local.get $a))
    block (param i32 i32 i64) (result i32 i32 i64 i32)
      i32.const 9
    end
    drop)
  (func (export "triangle") (param $n i32) (result i64 i32)
    (i64.const 0) (local.get $n)
    (block $out (param i64 i32) (result i64 i32)
      (loop $l (param i64 i32) (result i64 i32)
        (br_if $out (i32.eqz (local.get $n)))
        (drop)
        (i64.extend_i32_u (local.get $n))
        (i64.add)
        (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (drop)
    (local.get $n))
)
