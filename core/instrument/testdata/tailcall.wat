;; Build: wat2wasm --enable-tail-call --debug-names tailcall.wat -o tailcall.wasm
;;
;; Tail calls: return_call and return_call_indirect recursing far deeper
;; than the stack allows without tail calls, also through a table.
(module
  (type $t (func (param i64 i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $count $count_ind)
  (func $count (export "count") (type $t)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $count (i64.sub (local.get 0) (i64.const 1))
                        (i64.add (local.get 1) (local.get 0))))
  (func $count_ind (export "count_ind") (type $t)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1))
                                    (i64.add (local.get 1) (i64.const 3))
                                    (i32.wrap_i64 (i64.and (local.get 0) (i64.const 1)))))
  (func $even (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (return_call $odd (i32.sub (local.get 0) (i32.const 1))))))
  (func $odd (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (return_call $even (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "even") (param i32) (result i32) (return_call $even (local.get 0)))
)
