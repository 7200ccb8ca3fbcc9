import type { Tensor } from 'onnxruntime-common';
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

const TOL = 1e-4;

function std(a: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
  }
  return Math.sqrt(s2 / a.length - (s / a.length) ** 2);
}

describe.each([
  ['tiny', {}],
  ['tiny with tied embeddings', { name: 'tiny-tied', tieWordEmbeddings: true, seed: 7 }],
])('onnxruntime-node vs reference: %s', (_label, overrides) => {
  let dims: Dims;
  let ort: Runner;
  let ref: Runner;
  beforeAll(async () => {
    const dir = await ensureModel('tiny', overrides);
    dims = readDims(dir);
    [ort, ref] = await Promise.all([ortRunner(dir), referenceRunner(dir)]);
  });
  afterAll(async () => {
    await ort?.release();
    await ref?.release();
  });

  it('same inputs and outputs', () => {
    expect(ref.inputNames).toEqual(ort.inputNames);
  });

  it('prefill of 7 tokens, then 5 single-token steps through the cache', async () => {
    const ids = prompt(7, 1);
    let a = await step(ort, dims, { ids: [ids] });
    let b = await step(ref, dims, { ids: [ids] });
    expect(a.logits.dims).toEqual([1, 7, dims.vocab]);
    expect(b.logits.dims).toEqual([1, 7, dims.vocab]);
    expect(std(a.logits.data as Float32Array)).toBeGreaterThan(0.5); // not a degenerate all-zero model
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(TOL);
    for (const name of Object.keys(a).filter((n) => n.startsWith('present.'))) {
      expect(b[name].dims).toEqual(a[name].dims);
      expect(maxAbsDiff(a[name].data as Float32Array, b[name].data as Float32Array)).toBeLessThan(TOL);
    }
    for (let i = 0; i < 5; i++) {
      const next = [[500 + 977 * i]];
      a = await step(ort, dims, { ids: next, past: a });
      b = await step(ref, dims, { ids: next, past: b });
      expect(a.logits.dims).toEqual([1, 1, dims.vocab]);
      expect(a['present.0.key'].dims).toEqual([1, dims.kvHeads, 8 + i, dims.headDim]);
      expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(TOL);
    }
  });

  it('batch of 2 with left padding: padding is invisible, no NaN', async () => {
    const short = prompt(4, 2);
    const long = prompt(7, 3);
    const pad = 3;
    const ids = [[0, 0, 0, ...short], long];
    const mask = [
      [0, 0, 0, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1],
    ];
    // HF: position_ids = cumsum(mask) - 1, padding positions filled with 1.
    const positions = [
      [1, 1, 1, 0, 1, 2, 3],
      [0, 1, 2, 3, 4, 5, 6],
    ];
    const results: Record<string, Tensor>[] = [];
    for (const r of [ort, ref]) {
      const out = await step(r, dims, { ids, mask, positions });
      expect(Array.from(out.logits.data as Float32Array).some(Number.isNaN), `${r.name} NaN`).toBe(false);
      results.push(out);
    }
    const [a, b] = results;
    for (let s = pad; s < 7; s++)
      expect(maxAbsDiff(logitsAt(a.logits, 0, s), logitsAt(b.logits, 0, s))).toBeLessThan(TOL);
    for (let s = 0; s < 7; s++)
      expect(maxAbsDiff(logitsAt(a.logits, 1, s), logitsAt(b.logits, 1, s))).toBeLessThan(TOL);

    // The padded row equals the same prompt run alone (ORT and reference).
    for (const [r, out] of [
      [ort, a],
      [ref, b],
    ] as const) {
      const alone = await step(r, dims, { ids: [short] });
      for (let s = 0; s < short.length; s++) {
        expect(maxAbsDiff(logitsAt(out.logits, 0, pad + s), logitsAt(alone.logits, 0, s))).toBeLessThan(TOL);
      }
    }

    // One decode step with the padding in the past.
    const next = [[4242], [4343]];
    const mask2 = mask.map((m) => [...m, 1]);
    const a2 = await step(ort, dims, { ids: next, mask: mask2, positions: [[4], [7]], past: a });
    const b2 = await step(ref, dims, { ids: next, mask: mask2, positions: [[4], [7]], past: b });
    expect(maxAbsDiff(a2.logits.data as Float32Array, b2.logits.data as Float32Array)).toBeLessThan(TOL);
  });
});
