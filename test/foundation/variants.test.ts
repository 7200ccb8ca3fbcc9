import type { Tensor } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { halfToFloat } from '../reference/index.js';
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

describe('num_logits_to_keep input', () => {
  let dims: Dims;
  let ort: Runner;
  let ref: Runner;
  beforeAll(async () => {
    const dir = await ensureModel('tiny', { logitsToKeep: true });
    dims = readDims(dir);
    [ort, ref] = await Promise.all([ortRunner(dir), referenceRunner(dir)]);
  });
  afterAll(async () => {
    await ort?.release();
    await ref?.release();
  });

  it('is declared last, as a scalar int64', () => {
    expect(ort.inputNames.at(-1)).toBe('num_logits_to_keep');
    expect(ref.inputNames).toEqual(ort.inputNames);
  });

  it('keeps the last k positions (0 keeps all), in ORT and the reference', async () => {
    const ids = [prompt(6, 21), prompt(6, 22)];
    const keep = (r: Runner, k: number) => ({
      num_logits_to_keep: r.tensor('int64', BigInt64Array.of(BigInt(k)), []),
    });
    const results: Record<string, Tensor>[] = [];
    for (const r of [ort, ref]) {
      const all = await step(r, dims, { ids, extra: keep(r, 0) });
      expect(all.logits.dims).toEqual([2, 6, dims.vocab]);
      for (const k of [1, 2]) {
        const some = await step(r, dims, { ids, extra: keep(r, k) });
        expect(some.logits.dims).toEqual([2, k, dims.vocab]);
        for (let b = 0; b < 2; b++) {
          for (let s = 0; s < k; s++) {
            expect(maxAbsDiff(logitsAt(some.logits, b, s), logitsAt(all.logits, b, 6 - k + s))).toBeLessThan(
              1e-5,
            );
          }
        }
        // present.* still covers every position.
        expect(some['present.0.key'].dims[2]).toBe(6);
      }
      results.push(await step(r, dims, { ids, extra: keep(r, 1) }));
    }
    expect(
      maxAbsDiff(results[0].logits.data as Float32Array, results[1].logits.data as Float32Array),
    ).toBeLessThan(1e-4);
  });
});

describe('float16 KV cache', () => {
  let dims: Dims;
  let ort: Runner;
  let ref: Runner;
  beforeAll(async () => {
    const dir = await ensureModel('tiny', { kvDtype: 'float16' });
    dims = readDims(dir);
    [ort, ref] = await Promise.all([ortRunner(dir), referenceRunner(dir)]);
  });
  afterAll(async () => {
    await ort?.release();
    await ref?.release();
  });

  it('takes and returns float16 past/present, matching the reference', async () => {
    expect(dims.kvType).toBe('float16');
    const ids = prompt(5, 23);
    let a = await step(ort, dims, { ids: [ids] });
    let b = await step(ref, dims, { ids: [ids] });
    expect(a['present.0.key'].type).toBe('float16');
    expect(b['present.0.key'].type).toBe('float16');
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-4);
    const halves = (t: Tensor) => Array.from(t.data as Uint16Array, halfToFloat);
    // Both round the same float32 values to half; an off-by-one-ulp rounding is the most allowed.
    expect(maxAbsDiff(halves(a['present.1.value']), halves(b['present.1.value']))).toBeLessThan(4e-3);
    for (let i = 0; i < 3; i++) {
      a = await step(ort, dims, { ids: [[900 + i]], past: a });
      b = await step(ref, dims, { ids: [[900 + i]], past: b });
      expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-4);
    }
  });

  it('differs from the float32 cache only by half-precision rounding', async () => {
    const d32 = readDims(await ensureModel('tiny'));
    const ort32 = await ortRunner(await ensureModel('tiny'));
    const ids = prompt(5, 24);
    const a = await step(ort32, d32, { ids: [ids] });
    const b = await step(ort, dims, { ids: [ids] });
    // Prefill uses the float32 values inside the graph, so logits match exactly enough.
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-5);
    const a2 = await step(ort32, d32, { ids: [[901]], past: a });
    const b2 = await step(ort, dims, { ids: [[901]], past: b });
    const diff = maxAbsDiff(a2.logits.data as Float32Array, b2.logits.data as Float32Array);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.02);
    await ort32.release();
  });
});
