import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel, ONNX_DATA_FILE, ONNX_FILE } from '../fixtures/models.js';
import { createReferenceBackend } from '../reference/index.js';
import { type Dims, maxAbsDiff, ortRunner, prompt, readDims, referenceRunner, step } from './harness.js';

describe('external data variant', () => {
  let single: string;
  let external: string;
  let dims: Dims;
  beforeAll(async () => {
    [single, external] = await Promise.all([
      ensureModel('tiny'),
      ensureModel('tiny', { externalData: true }),
    ]);
    dims = readDims(single);
  });

  it('keeps the weights in onnx/model.onnx_data', () => {
    expect(existsSync(join(single, ONNX_DATA_FILE))).toBe(false);
    const graphSize = statSync(join(external, ONNX_FILE)).size;
    const dataSize = statSync(join(external, ONNX_DATA_FILE)).size;
    expect(graphSize).toBeLessThan(200_000);
    expect(dataSize).toBeGreaterThan(dims.vocab * 64 * 4);
    expect(statSync(join(single, ONNX_FILE)).size).toBeGreaterThan(dataSize);
    const config = JSON.parse(readFileSync(join(external, 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ use_external_data_format: true });
  });

  it('gives identical logits in onnxruntime-node', async () => {
    const ids = [prompt(6, 9)];
    const [a, b] = await Promise.all([ortRunner(single), ortRunner(external)]);
    const outA = await step(a, dims, { ids });
    const outB = await step(b, dims, { ids });
    expect(maxAbsDiff(outA.logits.data as Float32Array, outB.logits.data as Float32Array)).toBe(0);
    const nextA = await step(a, dims, { ids: [[777]], past: outA });
    const nextB = await step(b, dims, { ids: [[777]], past: outB });
    expect(maxAbsDiff(nextA.logits.data as Float32Array, nextB.logits.data as Float32Array)).toBe(0);
    await Promise.all([a.release(), b.release()]);
  });

  it('loads in the reference backend from a path and from bytes', async () => {
    const ids = [prompt(5, 10)];
    const fromPath = await referenceRunner(external);
    const ort = await ortRunner(external);
    const expected = (await step(ort, dims, { ids })).logits.data as Float32Array;
    expect(
      maxAbsDiff((await step(fromPath, dims, { ids })).logits.data as Float32Array, expected),
    ).toBeLessThan(1e-4);

    const backend = createReferenceBackend();
    const session = await backend.createSession(
      {
        name: ONNX_FILE,
        data: readFileSync(join(external, ONNX_FILE)),
        externalData: [{ path: 'model.onnx_data', data: readFileSync(join(external, ONNX_DATA_FILE)) }],
      },
      {},
    );
    const fromBytes = {
      ...fromPath,
      run: async (feeds: Record<string, unknown>) =>
        (await session.run(feeds as never)) as unknown as Awaited<ReturnType<typeof fromPath.run>>,
      tensor: (type: string, data: unknown, dims: number[]) => ({ type, data, dims }) as never,
    };
    expect(
      maxAbsDiff((await step(fromBytes, dims, { ids })).logits.data as Float32Array, expected),
    ).toBeLessThan(1e-4);
    await Promise.all([fromPath.release(), ort.release(), session.release()]);
  });
});
