import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import {
  type Dims,
  logitsAt,
  maxAbsDiff,
  ortRunner,
  prompt,
  type Runner,
  readDims,
  referenceRunner,
  step,
} from './harness.js';

describe.each([
  ['onnxruntime-node', ortRunner, 1e-4],
  // The reference rounds present.* to float32, hence not exact.
  ['reference', referenceRunner, 1e-5],
])('%s: one prefill equals token-by-token decoding', (_name, makeRunner, tol) => {
  let dims: Dims;
  let r: Runner;
  beforeAll(async () => {
    const dir = await ensureModel('tiny');
    dims = readDims(dir);
    r = await makeRunner(dir);
  });
  afterAll(async () => {
    await r?.release();
  });

  it('all positions, from an empty cache and from a 3-token prefix', async () => {
    const ids = prompt(9, 4);
    const full = await step(r, dims, { ids: [ids] });
    for (const prefix of [1, 3]) {
      let out = await step(r, dims, { ids: [ids.slice(0, prefix)] });
      for (let s = 0; s < prefix; s++) {
        expect(maxAbsDiff(logitsAt(out.logits, 0, s), logitsAt(full.logits, 0, s))).toBeLessThan(tol);
      }
      for (let s = prefix; s < ids.length; s++) {
        out = await step(r, dims, { ids: [[ids[s]]], past: out });
        expect(maxAbsDiff(logitsAt(out.logits, 0, 0), logitsAt(full.logits, 0, s))).toBeLessThan(tol);
      }
      // The cache built step by step equals the one-shot cache.
      expect(
        maxAbsDiff(out['present.1.value'].data as Float32Array, full['present.1.value'].data as Float32Array),
      ).toBeLessThan(tol);
    }
  });

  it('a multi-token chunk on top of a cache', async () => {
    const ids = prompt(8, 5);
    const full = await step(r, dims, { ids: [ids] });
    const first = await step(r, dims, { ids: [ids.slice(0, 5)] });
    const rest = await step(r, dims, { ids: [ids.slice(5)], past: first });
    for (let s = 0; s < 3; s++) {
      expect(maxAbsDiff(logitsAt(rest.logits, 0, s), logitsAt(full.logits, 0, 5 + s))).toBeLessThan(tol);
    }
  });
});
