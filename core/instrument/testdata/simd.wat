;; Build: wat2wasm --debug-names simd.wat -o simd.wasm
;;
;; SIMD: loads and stores with memargs, v128.const (16 immediate bytes),
;; i8x16.shuffle (16 lane bytes), lane extract/replace, load/store lane,
;; load_zero, splats, arithmetic, all inside loops.
(module
  (memory (export "mem") 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f")
  ;; Sum n i32x4 vectors starting at address 0, horizontally.
  (func (export "vsum") (param $n i32) (result i32)
    (local $acc v128) (local $p i32)
    (loop $l
      (local.set $acc (i32x4.add (local.get $acc) (v128.load offset=0 align=4 (local.get $p))))
      (local.set $p (i32.and (i32.add (local.get $p) (i32.const 16)) (i32.const 0x3ff)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
  (func (export "shuffle") (result i64)
    (local $v v128)
    (local.set $v (i8x16.shuffle 3 3 3 3 15 14 13 12 0 1 2 3 4 5 6 7
      (v128.load (i32.const 0))
      (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3)))
    (local.set $v (i8x16.replace_lane 3 (local.get $v) (i32.const 0x33)))
    (i64.add (i64x2.extract_lane 0 (local.get $v))
             (i64.extend_i32_u (i8x16.extract_lane_u 3 (local.get $v)))))
  (func (export "lanes") (param $x i32) (result i64)
    (local $v v128)
    (local.set $v (v128.load32_zero offset=4 (i32.const 0)))
    (local.set $v (v128.load8_lane offset=3 3 (i32.const 0) (local.get $v)))
    (local.set $v (v128.load16_lane 5 (i32.const 8) (local.get $v)))
    (local.set $v (v128.load64_lane align=8 1 (i32.const 16) (local.get $v)))
    (v128.store32_lane offset=64 2 (i32.const 0) (local.get $v))
    (v128.store (i32.const 128) (i16x8.splat (local.get $x)))
    (i64.add (i64.load (i32.const 64))
      (i64.add (i64x2.extract_lane 1 (local.get $v))
        (i64.add (i64.load (i32.const 128))
          (i64x2.extract_lane 0 (v128.load64_zero (i32.const 24)))))))
  (func (export "fp") (param $n i32) (result f64)
    (local $v v128)
    (local.set $v (f64x2.splat (f64.const 1.5)))
    (loop $l
      (local.set $v (f64x2.add (f64x2.mul (local.get $v) (v128.const f64x2 1.0 0.5))
                               (f64x2.promote_low_f32x4 (f32x4.splat (f32.const 0.25)))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (f64.add (f64x2.extract_lane 0 (local.get $v)) (f64x2.extract_lane 1 (local.get $v))))
  (func (export "bits") (param $x i32) (result i32)
    (local $v v128)
    (local.set $v (i8x16.splat (local.get $x)))
    (local.set $v (v128.bitselect (local.get $v) (v128.not (local.get $v)) (v128.const i32x4 0xff00ff00 0 -1 3)))
    (i32.add (i8x16.bitmask (local.get $v))
      (i32.add (v128.any_true (local.get $v))
        (i32x4.extract_lane 2 (i32x4.dot_i16x8_s (local.get $v) (local.get $v))))))
)
