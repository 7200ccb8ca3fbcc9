// The WebGPU execution provider in Chromium, on its software adapter (SwiftShader, enabled by
// --enable-unsafe-webgpu): a correctness check against the node backend, and a count of GPU reads
// (the KV cache stays on the GPU), not a speed test — the software adapter takes about a second per
// token, so the checks are short.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  nodeReference,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  useBrowserSuite,
} from './harness.js';

const NEW_TOKENS = 2;
/** Tokens of the GPU-read count: enough decode steps that the per-step count is clear. */
const COUNTED_TOKENS = 5;

/** In the page: greedy tokens on `device`, the execution provider that ran them, and any warnings. */
async function runOnDevice(args: {
  device: 'webnn';
  modelUrl: string;
  prompt: number[];
  maxNewTokens: number;
}) {
  const { slmkit } = globalThis as unknown as { slmkit: SlmkitGlobal };
  const warnings: string[] = [];
  const backend = slmkit.createWebBackend({ device: args.device, onWarning: (m) => warnings.push(m) });
  const model = await slmkit.createModel(args.modelUrl, { backend });
  const { tokenIds } = await model.generate(
    { inputIds: args.prompt },
    { maxNewTokens: args.maxNewTokens, temperature: 0 },
  );
  await model.dispose();
  return { tokenIds, executionProvider: backend.runtimeInfo().executionProvider, warnings };
}

/**
 * In the page: greedy tokens with device 'auto' (WebGPU, when the adapter is there) while counting
 * GPU→CPU reads (`GPUBuffer.prototype.mapAsync` calls) and session runs during the generation, plus
 * the decoder's `present.*` outputs per run, the execution provider and any warnings.
 */
async function countGpuReads(args: { modelUrl: string; prompt: number[]; maxNewTokens: number }) {
  const { slmkit } = globalThis as unknown as { slmkit: SlmkitGlobal };
  const gpuBuffer = (
    globalThis as unknown as { GPUBuffer: { prototype: { mapAsync(...a: unknown[]): unknown } } }
  ).GPUBuffer.prototype;
  const mapAsync = gpuBuffer.mapAsync;
  const gpu = (navigator as unknown as { gpu: { requestAdapter(...a: unknown[]): unknown } }).gpu;
  const requestAdapter = gpu.requestAdapter;
  let reads = 0;
  let runs = 0;
  let presentOutputs = 0;
  let adapterRequests = 0;
  gpuBuffer.mapAsync = function (this: unknown, ...rest: unknown[]) {
    reads++;
    return mapAsync.apply(this, rest);
  };
  gpu.requestAdapter = function (this: unknown, ...rest: unknown[]) {
    adapterRequests++;
    return requestAdapter.apply(this, rest);
  };
  try {
    const warnings: string[] = [];
    const backend = slmkit.createWebBackend({ device: 'auto', onWarning: (m) => warnings.push(m) });
    // Every run of the decoder counted (the backend is used as it is, only observed).
    const counting: typeof backend = {
      ...backend,
      async createSession(file, options) {
        const session = await backend.createSession(file, options);
        presentOutputs = session.outputNames.filter((name) => name.startsWith('present.')).length;
        return {
          ...session,
          run: (feeds, runOptions) => {
            runs++;
            return session.run(feeds, runOptions);
          },
        };
      },
    };
    const model = await slmkit.createModel(args.modelUrl, { backend: counting });
    reads = 0;
    runs = 0;
    const { tokenIds } = await model.generate(
      { inputIds: args.prompt },
      { maxNewTokens: args.maxNewTokens, temperature: 0 },
    );
    const counted = { reads, runs };
    await model.dispose();
    return {
      tokenIds,
      ...counted,
      presentOutputs,
      executionProvider: backend.runtimeInfo().executionProvider,
      warnings,
      adapterRequests,
    };
  } finally {
    gpuBuffer.mapAsync = mapAsync;
    gpu.requestAdapter = requestAdapter;
  }
}

describe.skipIf(!hasChromium)('@slmkit/web on WebGPU (software adapter)', () => {
  const suite = useBrowserSuite({
    webgpu: true,
    reference: async (modelDir) =>
      (await nodeReference(modelDir, [PROMPTS[1]], { maxNewTokens: COUNTED_TOKENS }))[0],
  });
  let page: Page;
  const args = () => ({ modelUrl: `${suite.plain.url}/models/tiny/`, prompt: PROMPTS[1] });

  // One page for both tests: the WebGPU runtime starts once.
  beforeAll(async () => {
    page = await openTestPage(suite.browser, suite.plain);
  });

  it("device 'auto' picks WebGPU, gives node's greedy tokens, and keeps the KV cache on the GPU: one GPU read per step (the logits)", async () => {
    const run = await page.evaluate(countGpuReads, { ...args(), maxNewTokens: COUNTED_TOKENS });
    expect(run.executionProvider).toBe('webgpu');
    expect(run.warnings).toEqual([]);
    // The backend's one probe (device 'auto'), and onnxruntime-web's own as its WebGPU runtime starts.
    expect(run.adapterRequests).toBe(2);
    expect(run.tokenIds).toEqual(suite.reference);
    // The prefill and the decode steps: one run per token (the last one's may be skipped).
    expect(run.runs).toBeGreaterThanOrEqual(COUNTED_TOKENS - 1);
    expect(run.runs).toBeLessThanOrEqual(COUNTED_TOKENS);
    // Each run downloads its logits and nothing else. With the cache downloaded too (outputs on the
    // CPU, as before) it was 1 + 2 × layers per run: 25 reads for these 5 runs instead of 5.
    expect(run.presentOutputs).toBe(4);
    expect(run.reads).toBe(run.runs);
    expect(suite.browser.foreignRequests).toEqual([]);
  });

  it('an execution provider that fails to initialise (no WebNN in this browser) falls back to wasm with a warning', async () => {
    const run = await page.evaluate(runOnDevice, {
      ...args(),
      device: 'webnn' as const,
      maxNewTokens: NEW_TOKENS,
    });
    expect(run.executionProvider).toBe('wasm');
    expect(run.warnings).toHaveLength(1);
    expect(run.warnings[0]).toMatch(
      /the webnn execution provider could not run onnx\/model\.onnx .*falling back to wasm/,
    );
    expect(run.tokenIds).toEqual(suite.reference.slice(0, NEW_TOKENS));
    expect(suite.browser.foreignRequests).toEqual([]);
  });
});
