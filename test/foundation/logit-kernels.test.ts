import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LogitKernels } from '../../packages/core/src/logits/kernels/logit-kernels.js';
import { createRng } from '../../packages/core/src/logits/rng.js';
import { argmax, topIndices } from '../../packages/core/src/logits/sampler.js';
import { compileKernels } from '../../scripts/build-kernels.js';

const kernelsDir = new URL('../../packages/core/src/logits/kernels/', import.meta.url);

/** The plain definitions the kernels must agree with. */
function slowArgmax(values: Float32Array): number {
  let best = 0;
  for (let i = 0; i < values.length; i++)
    if (values[i] > values[best] || Number.isNaN(values[best])) best = i;
  return values[best] > Number.NEGATIVE_INFINITY ? best : 0;
}
/** The `count` largest values above -Infinity (NaN and -Infinity are never worth keeping). */
function slowTop(values: Float32Array, count: number): number[] {
  return Array.from(values.keys())
    .filter((i) => values[i] > Number.NEGATIVE_INFINITY)
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, count);
}

/** Rows with the awkward cases: ties, NaN, ±Infinity, lengths that are not multiples of 4/16/64. */
function rows(random: () => number): Float32Array[] {
  const result: Float32Array[] = [];
  for (const length of [1, 3, 17, 63, 64, 65, 2047, 2048, 2049, 4099, 32000, 151936]) {
    for (const kind of ['gaussian', 'ties', 'special']) {
      const row = new Float32Array(length);
      for (let i = 0; i < length; i++) {
        const r = random();
        if (kind === 'ties') row[i] = Math.floor(r * 4);
        else if (kind === 'special' && r < 0.2) row[i] = r < 0.1 ? Number.NaN : Number.NEGATIVE_INFINITY;
        else row[i] = (r - 0.5) * 20;
      }
      if (kind === 'special' && length > 100) row[length - 1] = Number.POSITIVE_INFINITY;
      result.push(row);
    }
  }
  // Nothing to pick: all NaN / all -Infinity.
  result.push(new Float32Array(4099).fill(Number.NaN), new Float32Array(4099).fill(Number.NEGATIVE_INFINITY));
  return result;
}

describe('logit kernels (WebAssembly SIMD)', () => {
  it('the committed module is the compiled logit-kernels.wat', async () => {
    const wat = readFileSync(new URL('logit-kernels.wat', kernelsDir), 'utf8');
    const committed = readFileSync(new URL('logit-kernels-wasm.ts', kernelsDir), 'utf8');
    expect(committed).toBe(await compileKernels(wat));
  });

  it('are available in this runtime', () => {
    expect(LogitKernels.create()).toBeDefined();
  });

  it('argmax agrees with the plain definition: first on ties, NaN never, 0 when none', () => {
    const kernels = LogitKernels.create()!;
    for (const row of rows(createRng(1))) {
      kernels.load(row);
      expect(kernels.argmax(), `length ${row.length}`).toBe(slowArgmax(row));
      expect(argmax(row)).toBe(slowArgmax(row));
    }
  });

  it('block maxima and the threshold scan agree with plain loops', () => {
    const kernels = LogitKernels.create()!;
    for (const row of rows(createRng(2))) {
      kernels.load(row);
      const expected: number[] = [];
      for (let start = 0; start < row.length; start += 64) {
        const block = Array.from(row.subarray(start, start + 64)).filter((v) => !Number.isNaN(v));
        expected.push(block.length ? Math.max(...block) : Number.NEGATIVE_INFINITY);
      }
      expect(Array.from(kernels.blockMaxima())).toEqual(expected);
      const threshold = row[Math.floor(row.length / 2)];
      const atLeast = Array.from(row.keys()).filter((i) => row[i] >= threshold);
      expect(Array.from(kernels.indicesAtLeast(threshold))).toEqual(atLeast);
    }
  });

  it('topIndices returns the same set, largest first, on long rows and short ones', () => {
    const random = createRng(3);
    for (const row of rows(random)) {
      for (const count of [1, 5, 50]) {
        if (count > row.length || slowTop(row, count).length < count) continue;
        const out = new Int32Array(count);
        topIndices(row, count, out);
        const values = Array.from(out, (i) => row[i]);
        expect(values, `length ${row.length}, top ${count}`).toEqual(slowTop(row, count).map((i) => row[i]));
      }
    }
  });
});
