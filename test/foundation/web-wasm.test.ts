import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from 'onnxruntime-common';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { ensureModel, ONNX_DATA_FILE, ONNX_FILE } from '../fixtures/models.js';
import { type Dims, maxAbsDiff, prompt, type Runner, readDims, referenceRunner, step } from './harness.js';

/** onnxruntime-web's wasm build, given bytes as in a browser (external data passed alongside). */
async function wasmRunner(dir: string): Promise<Runner> {
  ortWeb.env.wasm.numThreads = 1;
  const external = join(dir, ONNX_DATA_FILE);
  const session = await ortWeb.InferenceSession.create(readFileSync(join(dir, ONNX_FILE)), {
    executionProviders: ['wasm'],
    ...(existsSync(external)
      ? { externalData: [{ path: 'model.onnx_data', data: readFileSync(external) }] }
      : {}),
  });
  return {
    name: 'onnxruntime-web (wasm)',
    inputNames: session.inputNames,
    run: (feeds) => session.run(feeds) as Promise<Record<string, Tensor>>,
    tensor: (type, data, dims) => new ortWeb.Tensor(type, data as Float32Array, dims) as Tensor,
    release: () => session.release(),
  };
}

describe('onnxruntime-web (wasm) runs the generated graphs (standard ops only)', () => {
  it.each([
    ['tiny', {}],
    [
      'external data, float16 KV, num_logits_to_keep',
      { externalData: true, kvDtype: 'float16', logitsToKeep: true },
    ],
  ] as const)('%s: matches the reference', async (_label, overrides) => {
    const dir = await ensureModel('tiny', overrides);
    const dims: Dims = readDims(dir);
    const [web, ref] = await Promise.all([wasmRunner(dir), referenceRunner(dir)]);
    const extra = (r: Runner) =>
      web.inputNames.includes('num_logits_to_keep')
        ? { num_logits_to_keep: r.tensor('int64', BigInt64Array.of(0n), []) }
        : undefined;
    let a = await step(web, dims, { ids: [prompt(6, 31)], extra: extra(web) });
    let b = await step(ref, dims, { ids: [prompt(6, 31)], extra: extra(ref) });
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-4);
    a = await step(web, dims, { ids: [[4321]], past: a, extra: extra(web) });
    b = await step(ref, dims, { ids: [[4321]], past: b, extra: extra(ref) });
    expect(maxAbsDiff(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-4);
    await Promise.all([web.release(), ref.release()]);
  });
});
