// The WebGPU execution provider in Chromium, on its software adapter (SwiftShader, enabled by
// --enable-unsafe-webgpu): a correctness check against the node backend, not a speed test — the
// software adapter takes about a second per token, so the check is short.
import { describe, expect, it } from 'vitest';
import {
  hasChromium,
  nodeReference,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  useBrowserSuite,
} from './harness.js';

const NEW_TOKENS = 2;

/** In the page: greedy tokens on `device`, the execution provider that ran them, and any warnings. */
async function runOnDevice(args: {
  device: 'auto' | 'webnn';
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

describe.skipIf(!hasChromium)('@slmkit/web on WebGPU (software adapter)', () => {
  const suite = useBrowserSuite({
    webgpu: true,
    reference: async (modelDir) =>
      (await nodeReference(modelDir, [PROMPTS[1]], { maxNewTokens: NEW_TOKENS }))[0],
  });
  const args = () => ({
    modelUrl: `${suite.plain.url}/models/tiny/`,
    prompt: PROMPTS[1],
    maxNewTokens: NEW_TOKENS,
  });

  it("device 'auto' picks WebGPU when an adapter exists, and its greedy tokens equal node's; a failing EP falls back", async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const run = await page.evaluate(runOnDevice, { ...args(), device: 'auto' as const });
    expect(run.executionProvider).toBe('webgpu');
    expect(run.warnings).toEqual([]);
    expect(run.tokenIds).toEqual(suite.reference);
    // An execution provider that fails to initialise (no WebNN in this browser) falls back to wasm with a warning.
    const webnn = await page.evaluate(runOnDevice, { ...args(), device: 'webnn' as const });
    expect(webnn.executionProvider).toBe('wasm');
    expect(webnn.warnings).toHaveLength(1);
    expect(webnn.warnings[0]).toMatch(
      /the webnn execution provider could not run onnx\/model\.onnx .*falling back to wasm/,
    );
    expect(webnn.tokenIds).toEqual(suite.reference);
    expect(suite.browser.foreignRequests).toEqual([]);
    await page.close();
  });
});
