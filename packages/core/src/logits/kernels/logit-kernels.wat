;; SIMD scans over a row of float32 logits, for the sampler (see logit-kernels.ts).
;; The caller copies the row to address 0; every function takes its length n.
;; Compiled by scripts/build-kernels.ts into logit-kernels-wasm.ts (committed; a test checks they match).
(module
  ;; The memory comes from the caller, sized to the row (its initial size is also its maximum), so an
  ;; engine that reserves a memory's maximum up front reserves what the vocabulary needs, not 4 GiB.
  (import "env" "memory" (memory 1))

  ;; Of two (value, index) lane sets, the larger value per lane; on equal values the smaller index.
  (func $better (param $va v128) (param $ia v128) (param $vb v128) (param $ib v128) (result v128)
    (v128.or
      (f32x4.gt (local.get $vb) (local.get $va))
      (v128.and (f32x4.eq (local.get $vb) (local.get $va)) (i32x4.lt_u (local.get $ib) (local.get $ia)))))

  ;; Index of the largest value: the first one on ties; NaN never wins; 0 when nothing beats -inf.
  ;; Four independent (value, index) accumulators, so the compare-select chains overlap.
  (func (export "argmax") (param $n i32) (result i32)
    (local $i i32) (local $end i32) (local $x v128) (local $m v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $i0 v128) (local $i1 v128) (local $i2 v128) (local $i3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $best f32) (local $bestIndex i32) (local $value f32) (local $k i32)
    (local.set $v0 (f32x4.splat (f32.const -inf)))
    (local.set $v1 (local.get $v0)) (local.set $v2 (local.get $v0)) (local.set $v3 (local.get $v0))
    (local.set $c0 (v128.const i32x4 0 1 2 3))
    (local.set $c1 (v128.const i32x4 4 5 6 7))
    (local.set $c2 (v128.const i32x4 8 9 10 11))
    (local.set $c3 (v128.const i32x4 12 13 14 15))
    (local.set $i0 (local.get $c0)) (local.set $i1 (local.get $c1))
    (local.set $i2 (local.get $c2)) (local.set $i3 (local.get $c3))
    ;; Whole blocks of 16 values (64 bytes).
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -16)) (i32.const 2)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $x (v128.load offset=0 (local.get $i)))
        (local.set $m (f32x4.gt (local.get $x) (local.get $v0)))
        (local.set $v0 (v128.bitselect (local.get $x) (local.get $v0) (local.get $m)))
        (local.set $i0 (v128.bitselect (local.get $c0) (local.get $i0) (local.get $m)))
        (local.set $x (v128.load offset=16 (local.get $i)))
        (local.set $m (f32x4.gt (local.get $x) (local.get $v1)))
        (local.set $v1 (v128.bitselect (local.get $x) (local.get $v1) (local.get $m)))
        (local.set $i1 (v128.bitselect (local.get $c1) (local.get $i1) (local.get $m)))
        (local.set $x (v128.load offset=32 (local.get $i)))
        (local.set $m (f32x4.gt (local.get $x) (local.get $v2)))
        (local.set $v2 (v128.bitselect (local.get $x) (local.get $v2) (local.get $m)))
        (local.set $i2 (v128.bitselect (local.get $c2) (local.get $i2) (local.get $m)))
        (local.set $x (v128.load offset=48 (local.get $i)))
        (local.set $m (f32x4.gt (local.get $x) (local.get $v3)))
        (local.set $v3 (v128.bitselect (local.get $x) (local.get $v3) (local.get $m)))
        (local.set $i3 (v128.bitselect (local.get $c3) (local.get $i3) (local.get $m)))
        (local.set $c0 (i32x4.add (local.get $c0) (v128.const i32x4 16 16 16 16)))
        (local.set $c1 (i32x4.add (local.get $c1) (v128.const i32x4 16 16 16 16)))
        (local.set $c2 (i32x4.add (local.get $c2) (v128.const i32x4 16 16 16 16)))
        (local.set $c3 (i32x4.add (local.get $c3) (v128.const i32x4 16 16 16 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $scan)))
    ;; Merge the accumulators: 0 with 1, 2 with 3, then the two results.
    (local.set $m (call $better (local.get $v0) (local.get $i0) (local.get $v1) (local.get $i1)))
    (local.set $v0 (v128.bitselect (local.get $v1) (local.get $v0) (local.get $m)))
    (local.set $i0 (v128.bitselect (local.get $i1) (local.get $i0) (local.get $m)))
    (local.set $m (call $better (local.get $v2) (local.get $i2) (local.get $v3) (local.get $i3)))
    (local.set $v2 (v128.bitselect (local.get $v3) (local.get $v2) (local.get $m)))
    (local.set $i2 (v128.bitselect (local.get $i3) (local.get $i2) (local.get $m)))
    (local.set $m (call $better (local.get $v0) (local.get $i0) (local.get $v2) (local.get $i2)))
    (local.set $v0 (v128.bitselect (local.get $v2) (local.get $v0) (local.get $m)))
    (local.set $i0 (v128.bitselect (local.get $i2) (local.get $i0) (local.get $m)))
    ;; Then the four lanes, in index order (lanes still at -inf hold indices that never win).
    (local.set $best (f32.const -inf))
    (local.set $bestIndex (i32.const 0))
    (local.set $value (f32x4.extract_lane 0 (local.get $v0)))
    (if (f32.gt (local.get $value) (local.get $best))
      (then (local.set $best (local.get $value)) (local.set $bestIndex (i32x4.extract_lane 0 (local.get $i0)))))
    (local.set $value (f32x4.extract_lane 1 (local.get $v0)))
    (local.set $k (i32x4.extract_lane 1 (local.get $i0)))
    (if (i32.or (f32.gt (local.get $value) (local.get $best))
          (i32.and (f32.eq (local.get $value) (local.get $best)) (i32.lt_u (local.get $k) (local.get $bestIndex))))
      (then (local.set $best (local.get $value)) (local.set $bestIndex (local.get $k))))
    (local.set $value (f32x4.extract_lane 2 (local.get $v0)))
    (local.set $k (i32x4.extract_lane 2 (local.get $i0)))
    (if (i32.or (f32.gt (local.get $value) (local.get $best))
          (i32.and (f32.eq (local.get $value) (local.get $best)) (i32.lt_u (local.get $k) (local.get $bestIndex))))
      (then (local.set $best (local.get $value)) (local.set $bestIndex (local.get $k))))
    (local.set $value (f32x4.extract_lane 3 (local.get $v0)))
    (local.set $k (i32x4.extract_lane 3 (local.get $i0)))
    (if (i32.or (f32.gt (local.get $value) (local.get $best))
          (i32.and (f32.eq (local.get $value) (local.get $best)) (i32.lt_u (local.get $k) (local.get $bestIndex))))
      (then (local.set $best (local.get $value)) (local.set $bestIndex (local.get $k))))
    ;; The last n mod 16 values, one by one (their indices are larger, so only a larger value wins).
    (local.set $k (i32.shr_u (local.get $end) (i32.const 2)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $value (f32.load (i32.shl (local.get $k) (i32.const 2))))
        (if (f32.gt (local.get $value) (local.get $best))
          (then (local.set $best (local.get $value)) (local.set $bestIndex (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail)))
    (local.get $bestIndex))

  ;; Writes the largest value of each block of 64 (the last block may be shorter; NaN never counts,
  ;; an all-NaN block gives -inf) as float32s at address $out. Returns the number of blocks.
  (func (export "blockMaxima") (param $n i32) (param $out i32) (result i32)
    (local $i i32) (local $end i32) (local $blockEnd i32) (local $blocks i32)
    (local $m v128) (local $best f32) (local $value f32) (local $k i32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -64)) (i32.const 2)))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $m (f32x4.splat (f32.const -inf)))
        (local.set $blockEnd (i32.add (local.get $i) (i32.const 256)))
        (loop $scan
          ;; pmax(a, b) = a < b ? b : a: a NaN in b never replaces a.
          (local.set $m (f32x4.pmax (local.get $m) (v128.load offset=0 (local.get $i))))
          (local.set $m (f32x4.pmax (local.get $m) (v128.load offset=16 (local.get $i))))
          (local.set $m (f32x4.pmax (local.get $m) (v128.load offset=32 (local.get $i))))
          (local.set $m (f32x4.pmax (local.get $m) (v128.load offset=48 (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
          (br_if $scan (i32.lt_u (local.get $i) (local.get $blockEnd))))
        (local.set $m (f32x4.pmax (local.get $m) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
        (local.set $m (f32x4.pmax (local.get $m) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $m) (local.get $m))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $blocks) (i32.const 2))) (f32x4.extract_lane 0 (local.get $m)))
        (local.set $blocks (i32.add (local.get $blocks) (i32.const 1)))
        (br $block)))
    ;; A last, shorter block.
    (local.set $k (i32.shr_u (local.get $end) (i32.const 2)))
    (if (i32.lt_u (local.get $k) (local.get $n))
      (then
        (local.set $best (f32.const -inf))
        (loop $tail
          (local.set $value (f32.load (i32.shl (local.get $k) (i32.const 2))))
          (if (f32.gt (local.get $value) (local.get $best)) (then (local.set $best (local.get $value))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $tail (i32.lt_u (local.get $k) (local.get $n))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $blocks) (i32.const 2))) (local.get $best))
        (local.set $blocks (i32.add (local.get $blocks) (i32.const 1)))))
    (local.get $blocks))

  ;; Writes the indices of the values >= $threshold, in order, as int32s at address $out; returns
  ;; how many. Four values are compared at once and only a block with a hit is looked at lane by lane.
  (func (export "indicesAtLeast") (param $n i32) (param $threshold f32) (param $out i32) (result i32)
    (local $i i32) (local $end i32) (local $t v128) (local $count i32) (local $k i32) (local $stop i32)
    (local.set $t (f32x4.splat (local.get $threshold)))
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (if (v128.any_true (f32x4.ge (v128.load (local.get $i)) (local.get $t)))
          (then
            (local.set $k (i32.shr_u (local.get $i) (i32.const 2)))
            (local.set $stop (i32.add (local.get $k) (i32.const 4)))
            (loop $lanes
              (if (f32.ge (f32.load (i32.shl (local.get $k) (i32.const 2))) (local.get $threshold))
                (then
                  (i32.store (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))) (local.get $k))
                  (local.set $count (i32.add (local.get $count) (i32.const 1)))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $lanes (i32.lt_u (local.get $k) (local.get $stop))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $scan)))
    (local.set $k (i32.shr_u (local.get $end) (i32.const 2)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $k) (local.get $n)))
        (if (f32.ge (f32.load (i32.shl (local.get $k) (i32.const 2))) (local.get $threshold))
          (then
            (i32.store (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))) (local.get $k))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail)))
    (local.get $count))
)
