// @slmkit/ai-sdk in Chromium over a Worker model: the real `ai` package (bundled for the page with
// esbuild, @slmkit/core taken from the page's slmkit bundle) drives createWorkerModel through
// slmkit(model), and generateText, streamText and Output.object give what the same calls give on
// the node backend in this process; an abort reaches the worker.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, type SlmkitGlobal, useBrowserSuite } from './harness.js';

const SOURCE = fileURLToPath(new URL('../../packages/ai-sdk/src/index.ts', import.meta.url));
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 10 }, rank: { type: 'integer', minimum: 1, maximum: 9 } },
  required: ['city', 'rank'],
  additionalProperties: false,
};
const CALLS = {
  prompt: 'Hi!',
  instructions: 'You are terse.',
  maxOutputTokens: 12,
  temperature: 0,
};

/** The page's `ai` + @slmkit/ai-sdk bundle, and a page importing it with the slmkit bundle. */
async function aiBundle(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slmkit-ai-bundle-'));
  const entry = join(dir, 'entry.ts');
  await writeFile(
    entry,
    `export { generateText, streamText, Output, jsonSchema } from 'ai';\nexport { slmkit } from ${JSON.stringify(SOURCE)};\n`,
  );
  await build({
    entryPoints: [entry],
    outfile: join(dir, 'ai.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    nodePaths: [fileURLToPath(new URL('../../node_modules', import.meta.url))],
    logLevel: 'error',
    plugins: [
      {
        // The provider's SlmkitError is the page bundle's own (one class, so codes survive instanceof).
        name: 'slmkit-core-from-page',
        setup(b) {
          b.onResolve({ filter: /^@slmkit\/core$/ }, () => ({
            path: '/slmkit/slmkit-web.js',
            external: true,
          }));
        },
      },
    ],
  });
  await writeFile(
    join(dir, 'page.html'),
    `<!doctype html><meta charset="utf-8"><title>slmkit ai-sdk</title>
<script type="module">
  import * as slmkit from '/slmkit/slmkit-web.js';
  import * as ai from '/ai/ai.js';
  globalThis.slmkit = slmkit;
  globalThis.ai = ai;
</script><body></body>`,
  );
  return dir;
}

type AiGlobal = typeof import('ai') & { slmkit: typeof import('../../packages/ai-sdk/src/index.js').slmkit };
type PageGlobals = { slmkit: SlmkitGlobal; ai: AiGlobal; model: import('@slmkit/web').WorkerLanguageModel };

/** The same calls through @slmkit/ai-sdk on the node backend: the reference. */
async function nodeReference(modelDir: string) {
  const { createModel } = await import('@slmkit/node');
  const { generateText, Output, jsonSchema } = await import('ai');
  const { slmkit } = await import('../../packages/ai-sdk/src/index.js');
  const model = await createModel(modelDir);
  try {
    const text = await generateText({ model: slmkit(model), ...CALLS });
    const object = await generateText({
      model: slmkit(model),
      prompt: 'A city:',
      maxOutputTokens: 40,
      output: Output.object({ schema: jsonSchema(SCHEMA) }),
    });
    return { text: text.text, usage: text.usage, object: object.output, objectText: object.text };
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!hasChromium)('@slmkit/ai-sdk with a Worker model in Chromium', () => {
  const suite = useBrowserSuite({ mounts: { '/ai/': aiBundle }, reference: nodeReference });
  let page: Page;

  beforeAll(async () => {
    page = await suite.browser.newPage();
    await page.goto(`${suite.plain.url}/ai/page.html`);
    await page.waitForFunction(() => 'ai' in globalThis && 'slmkit' in globalThis);
  });

  it('generateText, streamText and Output.object give the node results; abort stops the worker', async () => {
    const run = await page.evaluate(
      async ({ calls, schema }) => {
        const g = globalThis as unknown as PageGlobals;
        const worker = new Worker('/slmkit/worker.js', { type: 'module' });
        g.model = await g.slmkit.createWorkerModel(worker, new URL('/models/tiny/', location.href).href, {
          device: 'wasm',
        });
        const model = g.ai.slmkit(g.model);
        const generated = await g.ai.generateText({ model, ...calls });
        const streamed = g.ai.streamText({ model, ...calls });
        const deltas: string[] = [];
        for await (const delta of streamed.textStream) deltas.push(delta);
        const object = await g.ai.generateText({
          model,
          prompt: 'A city:',
          maxOutputTokens: 40,
          output: g.ai.Output.object({ schema: g.ai.jsonSchema(schema) }),
        });
        // Aborted after the first delta: the stream ends with an abort part.
        const controller = new AbortController();
        const aborted = g.ai.streamText({
          model: g.ai.slmkit(g.model, { defaults: { eosTokenIds: [] } }),
          prompt: 'Hi!',
          maxOutputTokens: 200,
          temperature: 0,
          abortSignal: controller.signal,
        });
        const abortTypes: string[] = [];
        for await (const part of aborted.fullStream) {
          abortTypes.push(part.type);
          if (part.type === 'text-delta') controller.abort();
        }
        const after = await g.model.generate('Hi', { maxNewTokens: 2 });
        return {
          text: generated.text,
          finishReason: generated.finishReason,
          usage: generated.usage,
          deltas,
          streamedUsage: await streamed.usage,
          object: object.output,
          objectText: object.text,
          abortTypes,
          after: after.tokenIds.length,
        };
      },
      { calls: CALLS, schema: SCHEMA },
    );
    const reference = suite.reference;
    expect(run.text).toBe(reference.text);
    expect(run.finishReason).toBe('length');
    expect(run.usage.inputTokens).toBe(reference.usage.inputTokens);
    expect(run.usage.outputTokens).toBe(12);
    expect(run.deltas.length).toBeGreaterThan(1);
    expect(run.deltas.join('')).toBe(reference.text);
    // The streamed call repeats the prompt: the worker's prefix cache has all but its last token.
    expect(run.streamedUsage.inputTokenDetails.cacheReadTokens).toBe(reference.usage.inputTokens! - 1);
    expect(run.objectText).toBe(reference.objectText);
    expect(run.object).toEqual(reference.object);
    expect(run.abortTypes.at(-1)).toBe('abort');
    expect(run.abortTypes).not.toContain('finish');
    expect(run.after).toBe(2);
    expect(suite.browser.foreignRequests).toEqual([]);
  });
});
