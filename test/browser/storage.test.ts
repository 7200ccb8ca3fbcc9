// Browser model storage in Chromium: the Cache API (default) and OPFS keep nothing half-written
// visible, resume partial writes, fail with a clear STORAGE_ERROR on a real quota error (set through
// the DevTools protocol) and keep the app running, and a corrupted cache entry is re-downloaded,
// never served.
import { describe, expect, it } from 'vitest';
import {
  hasChromium,
  MAX_NEW_TOKENS,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  useBrowserSuite,
} from './harness.js';

type G = { slmkit: SlmkitGlobal };

/** In the page: load with `storage`, generate greedily for the first prompt, report errors by code. */
async function loadAndGenerate(args: {
  modelUrl: string;
  storage: 'cache' | 'opfs';
  prompt: number[];
  maxNewTokens: number;
}) {
  const { slmkit } = globalThis as unknown as G;
  try {
    const model = await slmkit.createModel(args.modelUrl, { device: 'wasm', storage: args.storage });
    const { tokenIds } = await model.generate(
      { inputIds: args.prompt },
      { maxNewTokens: args.maxNewTokens, temperature: 0 },
    );
    await model.dispose();
    return { tokenIds };
  } catch (e) {
    const error = e as { code?: string; message: string };
    return {
      error: { isSlmkitError: e instanceof slmkit.SlmkitError, code: error.code, message: error.message },
    };
  }
}

/** In the page: the write/resume/commit contract of one storage. */
async function storageContract(kind: 'cache' | 'opfs') {
  const { slmkit } = globalThis as unknown as G;
  const storage =
    kind === 'cache'
      ? slmkit.createCacheStorage({ cacheName: 'contract' })
      : slmkit.createOpfsStorage({ directory: 'contract' });
  const key = 'repo/main/onnx/model.onnx';
  const bytes = new Uint8Array(3000).map((_, i) => (i * 7) % 251);
  const steps: Record<string, unknown> = {};
  let writer = await storage.openWriter(key);
  await writer.write(bytes.subarray(0, 1000));
  await writer.write(bytes.subarray(1000, 2000));
  steps.visibleWhileWriting = await storage.stat(key);
  await writer.abort();
  steps.visibleAfterAbort = await storage.stat(key);
  writer = await storage.openWriter(key, { resume: true });
  steps.resumedOffset = writer.offset;
  const partial: number[] = [];
  for await (const chunk of (writer as import('@slmkit/core/backend').ReadableStorageWriter).readPartial())
    partial.push(...chunk);
  steps.partialMatches = partial.length === 2000 && partial.every((b, i) => b === bytes[i]);
  await writer.write(bytes.subarray(2000));
  steps.visibleBeforeCommit = await storage.stat(key);
  await writer.commit();
  steps.stat = await storage.stat(key);
  const read = await storage.read(key);
  steps.readMatches = read.length === bytes.length && read.every((b, i) => b === bytes[i]);
  writer = await storage.openWriter(`${key}_data`, { resume: true });
  await writer.write(bytes);
  await writer.abort();
  writer = await storage.openWriter(`${key}_data`);
  steps.freshOffset = writer.offset;
  await writer.abort({ discard: true });
  await storage.delete(key);
  steps.afterDelete = await storage.stat(key);
  await storage.clear();
  return steps;
}

describe.skipIf(!hasChromium)('browser model storage in Chromium', () => {
  const suite = useBrowserSuite();

  const loadArgs = (storage: 'cache' | 'opfs') => ({
    modelUrl: `${suite.plain.url}/models/tiny/`,
    storage,
    prompt: PROMPTS[0],
    maxNewTokens: MAX_NEW_TOKENS,
  });

  it.each(['cache', 'opfs'] as const)(
    '%s storage: nothing is visible before commit; partial writes resume',
    async (kind) => {
      const page = await openTestPage(suite.browser, suite.plain);
      expect(await page.evaluate(storageContract, kind)).toEqual({
        visibleWhileWriting: undefined,
        visibleAfterAbort: undefined,
        resumedOffset: 2000,
        partialMatches: true,
        visibleBeforeCommit: undefined,
        stat: { size: 3000 },
        readMatches: true,
        freshOffset: 0,
        afterDelete: undefined,
      });
      await page.close();
    },
  );

  it('a full quota (QuotaExceededError) fails the load with STORAGE_ERROR; the page loads once space is back', async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const cdp = await suite.browser.context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: suite.plain.url, quotaSize: 2_000_000 });
    const failed = await page.evaluate(loadAndGenerate, loadArgs('cache'));
    expect(failed.error).toMatchObject({ isSlmkitError: true, code: 'STORAGE_ERROR' });
    expect(failed.error?.message).toMatch(/QuotaExceededError/);
    const keys = await page.evaluate(async () =>
      (await (await caches.open('slmkit-models')).keys()).map((r) => new URL(r.url).pathname),
    );
    expect(keys.filter((k) => k.endsWith('/onnx/model.onnx'))).toEqual([]);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: suite.plain.url });
    const loaded = await page.evaluate(loadAndGenerate, loadArgs('cache'));
    expect(loaded).toEqual({ tokenIds: suite.reference[0] });
    await page.close();
  });

  it('a corrupted or foreign cache entry is downloaded again, never served', async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    await page.evaluate(async () => {
      const cache = await caches.open('slmkit-models');
      for (const request of await cache.keys()) {
        const path = new URL(request.url).pathname;
        const response = (await cache.match(request))!;
        if (path.endsWith('/onnx/model.onnx')) {
          // Same size and metadata, one byte flipped in the middle of the weights.
          const bytes = new Uint8Array(await response.arrayBuffer());
          bytes[bytes.length >> 1] ^= 0xff;
          await cache.put(request, new Response(bytes, { headers: response.headers }));
        } else if (path.endsWith('/tokenizer.json')) {
          // Written by something else: no slmkit metadata.
          await cache.put(request, new Response('{"not": "a tokenizer"}'));
        }
      }
    });
    const before = suite.plain.requests('/models/').length;
    const run = await page.evaluate(loadAndGenerate, loadArgs('cache'));
    expect(run).toEqual({ tokenIds: suite.reference[0] });
    const again = suite.plain
      .requests('/models/')
      .slice(before)
      .filter((r) => r.method === 'GET')
      .map((r) => r.path);
    expect(again.sort()).toEqual(['/models/tiny/onnx/model.onnx', '/models/tiny/tokenizer.json']);
    await page.close();
  });

  it('OPFS storage loads the model, and a second page load makes no model-file requests', async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const first = await page.evaluate(loadAndGenerate, loadArgs('opfs'));
    expect(first).toEqual({ tokenIds: suite.reference[0] });
    await page.reload();
    await page.waitForFunction(() => 'slmkit' in globalThis);
    const before = suite.plain.requests('/models/').length;
    const second = await page.evaluate(loadAndGenerate, loadArgs('opfs'));
    expect(second).toEqual({ tokenIds: suite.reference[0] });
    expect(suite.plain.requests('/models/').slice(before)).toEqual([]);
    expect(suite.browser.foreignRequests).toEqual([]);
    await page.close();
  });
});
