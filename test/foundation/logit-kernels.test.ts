import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

describe('logit kernels without their memory (out of address space)', () => {
  const outOfMemory = () => new RangeError('WebAssembly.Memory(): could not allocate memory');
  afterEach(() => {
    vi.restoreAllMocks();
    vi.resetModules();
  });

  it('the memory is sized to the row, and cannot grow past it', () => {
    const made: WebAssembly.Memory[] = [];
    const kernels = LogitKernels.create({
      memory: (pages) => {
        made.push(new WebAssembly.Memory({ initial: pages, maximum: pages }));
        return made[made.length - 1];
      },
    })!;
    const row = rows(createRng(4)).find((r) => r.length === 151936)!;
    expect(kernels.load(row)).toBe(true);
    expect(kernels.argmax()).toBe(slowArgmax(row));
    // The row, its block maxima and room for every index: 1.2 MB, 19 pages.
    expect(made.map((m) => m.buffer.byteLength / 65536)).toEqual([19]);
    // A shorter row reuses it; a longer one gets a new one.
    expect(kernels.load(row.subarray(0, 32000))).toBe(true);
    expect(made).toHaveLength(1);
    expect(kernels.load(new Float32Array(262144))).toBe(true);
    expect(made.map((m) => m.buffer.byteLength / 65536)).toEqual([19, 33]);
  });

  it('a memory the engine refuses: load declines, and is not tried again for that length', () => {
    let asked = 0;
    const kernels = LogitKernels.create({
      memory: () => {
        asked++;
        throw outOfMemory();
      },
    })!;
    const row = new Float32Array(32000).fill(1);
    for (let i = 0; i < 50; i++) expect(kernels.load(row)).toBe(false);
    expect(kernels.load(new Float32Array(64000))).toBe(false);
    expect(asked).toBe(1);
  });

  it('a longer row the engine refuses memory for: shorter rows keep the kernels', () => {
    let asked = 0;
    const kernels = LogitKernels.create({
      memory: (pages) => {
        asked++;
        if (pages > 8) throw outOfMemory();
        return new WebAssembly.Memory({ initial: pages, maximum: pages });
      },
    })!;
    const short = rows(createRng(5)).find((r) => r.length === 32000)!;
    expect(kernels.load(short)).toBe(true);
    expect(kernels.load(new Float32Array(151936))).toBe(false);
    expect(kernels.load(new Float32Array(151936))).toBe(false);
    expect(kernels.load(short)).toBe(true);
    expect(kernels.argmax()).toBe(slowArgmax(short));
    expect(asked).toBe(2);
  });

  it('argmax and topIndices fall back to the plain loops, equal to the plain definitions, trying once', async () => {
    // What V8 with its trap handler does under `ulimit -v` 8 GB: every wasm32 memory reserves 10 GiB.
    const instance = vi.spyOn(WebAssembly, 'Instance').mockImplementation(() => {
      throw new RangeError(
        'WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance',
      );
    });
    vi.resetModules();
    const sampler = await import('../../packages/core/src/logits/sampler.js');
    for (const row of rows(createRng(6))) {
      expect(sampler.argmax(row), `length ${row.length}`).toBe(slowArgmax(row));
      for (const count of [1, 5, 50]) {
        if (count > row.length || slowTop(row, count).length < count) continue;
        const out = new Int32Array(count);
        sampler.topIndices(row, count, out);
        const values = Array.from(out, (i) => row[i]);
        expect(values, `length ${row.length}, top ${count}`).toEqual(slowTop(row, count).map((i) => row[i]));
      }
    }
    expect(instance).toHaveBeenCalledTimes(1);
  });
});
