// The WebGPU execution provider in Chromium, on its software adapter (SwiftShader, enabled by
// --enable-unsafe-webgpu): a correctness check against the node backend, not a speed test — the
// software adapter takes about a second per token, so the check is short.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import {
  type BrowserSession,
  buildBundle,
  hasChromium,
  launchBrowser,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  type StaticServer,
  startStaticServer,
  TEST_PAGE,
} from './harness.js';

const NEW_TOKENS = 2;

describe.skipIf(!hasChromium)('@slmkit/web on WebGPU (software adapter)', () => {
  let bundle: string;
  let reference: number[];
  let server: StaticServer;
  let browser: BrowserSession;

  beforeAll(async () => {
    const modelDir = await ensureModel('tiny');
    const { createModel } = await import('@slmkit/node');
    const nodeModel = await createModel(modelDir);
    reference = (
      await nodeModel.generate({ inputIds: PROMPTS[1] }, { maxNewTokens: NEW_TOKENS, temperature: 0 })
    ).tokenIds;
    await nodeModel.dispose();
    [bundle, browser] = await Promise.all([buildBundle(), launchBrowser({ webgpu: true })]);
    server = await startStaticServer({
      mounts: { '/slmkit/': bundle, '/models/tiny/': modelDir },
      pages: { '/': TEST_PAGE },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (bundle) await rm(bundle, { recursive: true, force: true });
  });

  it("device 'auto' picks WebGPU when an adapter exists, and its greedy tokens equal node's; a failing EP falls back", async () => {
    const page = await openTestPage(browser, server);
    const run = await page.evaluate(
      async ({ modelUrl, prompt, maxNewTokens }) => {
        const { slmkit } = globalThis as unknown as { slmkit: SlmkitGlobal };
        const warnings: string[] = [];
        const backend = slmkit.createWebBackend({ device: 'auto', onWarning: (m) => warnings.push(m) });
        const model = await slmkit.createModel(modelUrl, { backend });
        const { tokenIds } = await model.generate({ inputIds: prompt }, { maxNewTokens, temperature: 0 });
        await model.dispose();
        return { tokenIds, executionProvider: backend.runtimeInfo().executionProvider, warnings };
      },
      { modelUrl: `${server.url}/models/tiny/`, prompt: PROMPTS[1], maxNewTokens: NEW_TOKENS },
    );
    expect(run.executionProvider).toBe('webgpu');
    expect(run.warnings).toEqual([]);
    expect(run.tokenIds).toEqual(reference);
    // An execution provider that fails to initialise (no WebNN in this browser) falls back to wasm with a warning.
    const webnn = await page.evaluate(
      async ({ modelUrl, prompt, maxNewTokens }) => {
        const { slmkit } = globalThis as unknown as { slmkit: SlmkitGlobal };
        const warnings: string[] = [];
        const backend = slmkit.createWebBackend({ device: 'webnn', onWarning: (m) => warnings.push(m) });
        const model = await slmkit.createModel(modelUrl, { backend });
        const { tokenIds } = await model.generate({ inputIds: prompt }, { maxNewTokens, temperature: 0 });
        await model.dispose();
        return { tokenIds, executionProvider: backend.runtimeInfo().executionProvider, warnings };
      },
      { modelUrl: `${server.url}/models/tiny/`, prompt: PROMPTS[1], maxNewTokens: NEW_TOKENS },
    );
    expect(webnn.executionProvider).toBe('wasm');
    expect(webnn.warnings).toHaveLength(1);
    expect(webnn.warnings[0]).toMatch(
      /the webnn execution provider could not run onnx\/model\.onnx .*falling back to wasm/,
    );
    expect(webnn.tokenIds).toEqual(reference);
    expect(browser.foreignRequests).toEqual([]);
    await page.close();
  });
});
