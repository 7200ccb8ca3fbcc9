// The Worker host in Chromium: a model loaded in a dedicated worker through createWorkerModel gives
// the node backend's tokens, streams chunk by chunk across the boundary, forwards progress, abort
// and early exit, rebuilds SlmkitErrors with their codes, and keeps the page's main thread free.
// Chats, sequences, snapshots and prefix caching in the worker: worker-chat.test.ts.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  hasChromium,
  MAX_NEW_TOKENS,
  nodeReference,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  useBrowserSuite,
} from './harness.js';

type PageGlobals = {
  slmkit: SlmkitGlobal;
  worker: Worker;
  model: import('@slmkit/web').WorkerLanguageModel;
};

const CHAT = [{ role: 'user', content: 'Hi!' }];

/** encode, decode and countTokens of the in-process node model, for the same inputs as the worker's. */
async function nodeTokenizer(modelDir: string) {
  const { createModel } = await import('@slmkit/node');
  const model = await createModel(modelDir);
  try {
    const ids = await model.encode('Hello world');
    return {
      ids,
      decoded: await model.decode(ids),
      countText: await model.countTokens('Hello world'),
      countChat: await model.countTokens(CHAT),
    };
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!hasChromium)('createWorkerModel in Chromium', () => {
  const suite = useBrowserSuite({
    servers: ['isolated'],
    reference: async (modelDir) => ({
      prompts: await nodeReference(modelDir),
      // A long run without EOS, for streaming, abort and break.
      long: (await nodeReference(modelDir, [PROMPTS[0]], { maxNewTokens: 96, eosTokenIds: [] }))[0],
      tokenizer: await nodeTokenizer(modelDir),
    }),
  });
  let page: Page;

  // One page (and one worker model) for all tests, in order; runs after the suite's beforeAll.
  beforeAll(async () => {
    page = await openTestPage(suite.browser, suite.isolated);
  });

  it('loads in a worker with forwarded progress and streams the node tokens, chunk by chunk', async () => {
    const run = await page.evaluate(
      async ({ modelUrl, prompts, maxNewTokens }) => {
        const g = globalThis as unknown as PageGlobals;
        g.worker = new Worker('/slmkit/worker.js', { type: 'module' });
        const phases: string[] = [];
        g.model = await g.slmkit.createWorkerModel(g.worker, modelUrl, {
          device: 'wasm',
          numThreads: 2,
          onProgress: (p) => phases.push(p.phase),
        });
        const streamed: number[][] = [];
        const results: number[][] = [];
        const chunkCounts: number[] = [];
        for (const inputIds of prompts) {
          const stream = g.model.stream({ inputIds }, { maxNewTokens, temperature: 0 });
          const ids: number[] = [];
          for await (const chunk of stream) ids.push(chunk.tokenId);
          streamed.push(ids);
          chunkCounts.push(ids.length);
          results.push((await stream.result).tokenIds);
        }
        const generated = await g.model.generate({ inputIds: prompts[0] }, { maxNewTokens, temperature: 0 });
        return {
          streamed,
          results,
          generated: generated.tokenIds,
          phases: [...new Set(phases)],
          runtime: g.model.runtime,
          vocabSize: g.model.config.vocabSize,
        };
      },
      // Page-relative: createWorkerModel resolves it against the page (/), not the worker script (/slmkit/).
      { modelUrl: './models/tiny/', prompts: PROMPTS, maxNewTokens: MAX_NEW_TOKENS },
    );
    expect(run.streamed).toEqual(suite.reference.prompts);
    expect(run.results).toEqual(suite.reference.prompts);
    expect(run.generated).toEqual(suite.reference.prompts[0]);
    expect(run.phases).toEqual(['download', 'load', 'ready']);
    // Threads inside the worker: the page is cross-origin isolated, so two wasm threads run.
    expect(run.runtime).toEqual({ executionProvider: 'wasm', numThreads: 2, crossOriginIsolated: true });
    expect(run.vocabSize).toBe(32000);
    // The relative path reached the model under the page's URL, never under the worker script's.
    expect(suite.isolated.requests('/models/tiny/config.json').map((r) => r.status)).toContain(200);
    expect(suite.isolated.requests('/slmkit/models/')).toEqual([]);
    expect(suite.browser.foreignRequests).toEqual([]);
  });

  it('generate gets one message from the worker (its result), stream one per token and the result', async () => {
    const run = await page.evaluate(
      async ({ prompt, maxNewTokens }) => {
        const g = globalThis as unknown as PageGlobals;
        let messages = 0;
        const count = () => messages++;
        // This listener runs after the model's own: the last reply is counted a turn later.
        const counted = () => new Promise((resolve) => setTimeout(() => resolve(messages), 50));
        g.worker.addEventListener('message', count);
        const options = { maxNewTokens, temperature: 0, eosTokenIds: [] };
        const generated = await g.model.generate({ inputIds: prompt }, options);
        const perGenerate = await counted();
        messages = 0;
        const stream = g.model.stream({ inputIds: prompt }, options);
        let chunks = 0;
        for await (const _ of stream) chunks++;
        const streamed = await stream.result;
        const perStream = await counted();
        g.worker.removeEventListener('message', count);
        return { perGenerate, perStream, chunks, generated: generated.tokenIds, streamed: streamed.tokenIds };
      },
      { prompt: PROMPTS[0], maxNewTokens: MAX_NEW_TOKENS },
    );
    expect(run.generated).toEqual(suite.reference.long.slice(0, MAX_NEW_TOKENS));
    expect(run.streamed).toEqual(run.generated);
    expect(run.chunks).toBe(MAX_NEW_TOKENS);
    // generate() needs only the result: no chunk crosses the boundary.
    expect(run.perGenerate).toBe(1);
    expect(run.perStream).toBe(MAX_NEW_TOKENS + 1);
  });

  it('streams while generating, and the main thread stays responsive', async () => {
    const run = await page.evaluate(async (prompt) => {
      const g = globalThis as unknown as PageGlobals;
      const ticks: number[] = [];
      const timer = setInterval(() => ticks.push(performance.now()), 5);
      const start = performance.now();
      const arrivals: number[] = [];
      const ids: number[] = [];
      const stream = g.model.stream(
        { inputIds: prompt },
        { maxNewTokens: 96, temperature: 0, eosTokenIds: [] },
      );
      for await (const chunk of stream) {
        arrivals.push(performance.now() - start);
        ids.push(chunk.tokenId);
      }
      const end = performance.now() - start;
      clearInterval(timer);
      let maxGap = 0;
      for (let i = 1; i < ticks.length; i++) maxGap = Math.max(maxGap, ticks[i] - ticks[i - 1]);
      return { ids, arrivals, end, maxGap, ticks: ticks.length };
    }, PROMPTS[0]);
    expect(run.ids).toEqual(suite.reference.long);
    // Chunks arrive while the worker generates, not all at the end.
    expect(run.arrivals[0]).toBeLessThan(run.end / 2);
    expect(new Set(run.arrivals.map((t) => Math.round(t / 10))).size).toBeGreaterThan(10);
    // A 5 ms timer on the page kept firing during generation.
    expect(run.ticks).toBeGreaterThan(run.end / 50);
    // Never stalled for a long part of the generation (a blocked main thread shows one gap of ≈ all of it);
    // relative, because a loaded 2-core machine can delay a timer by a few hundred milliseconds.
    expect(run.maxGap).toBeLessThan(Math.max(250, run.end / 4));
  });

  it('forwards abort (ABORTED SlmkitError on the page), stops on break, and stays usable', async () => {
    const run = await page.evaluate(
      async ({ prompt, maxNewTokens }) => {
        const g = globalThis as unknown as PageGlobals;
        const { SlmkitError } = g.slmkit;
        const controller = new AbortController();
        const seen: number[] = [];
        let abortError: { isSlmkitError: boolean; code?: string; message: string } | undefined;
        try {
          const options = { maxNewTokens: 96, temperature: 0, eosTokenIds: [], signal: controller.signal };
          for await (const chunk of g.model.stream({ inputIds: prompt }, options)) {
            seen.push(chunk.tokenId);
            if (seen.length === 3) controller.abort();
          }
        } catch (e) {
          const error = e as InstanceType<typeof SlmkitError>;
          abortError = {
            isSlmkitError: error instanceof SlmkitError,
            code: error.code,
            message: error.message,
          };
        }
        const broken = g.model.stream(
          { inputIds: prompt },
          { maxNewTokens: 96, temperature: 0, eosTokenIds: [] },
        );
        const beforeBreak: number[] = [];
        for await (const chunk of broken) {
          beforeBreak.push(chunk.tokenId);
          if (beforeBreak.length === 4) break;
        }
        const cancelled = await broken.result;
        const after = await g.model.generate({ inputIds: prompt }, { maxNewTokens, temperature: 0 });
        let invalid: { code?: string } | undefined;
        await g.model.generate('hi', { temperature: -1 }).catch((e) => {
          invalid = { code: e instanceof SlmkitError ? e.code : undefined };
        });
        // stream() throws invalid options at once, before anything is posted, like LanguageModel.stream.
        let thrownAtOnce: string | undefined;
        try {
          g.model.stream('hi', { topP: 0 });
        } catch (e) {
          thrownAtOnce = e instanceof SlmkitError ? e.code : 'not a SlmkitError';
        }
        return {
          seen,
          abortError,
          beforeBreak,
          cancelled: { finishReason: cancelled.finishReason, tokenIds: cancelled.tokenIds },
          after: after.tokenIds,
          invalid,
          thrownAtOnce,
        };
      },
      { prompt: PROMPTS[0], maxNewTokens: MAX_NEW_TOKENS },
    );
    expect(run.seen).toEqual(suite.reference.long.slice(0, 3));
    expect(run.abortError).toMatchObject({ isSlmkitError: true, code: 'ABORTED' });
    expect(run.beforeBreak).toEqual(suite.reference.long.slice(0, 4));
    expect(run.cancelled.finishReason).toBe('cancelled');
    // The worker may have chosen a token or two more before the cancel message reached it.
    expect(run.thrownAtOnce).toBe('INVALID_OPTION');
    expect(run.cancelled.tokenIds.length).toBeLessThan(suite.reference.long.length);
    expect(run.cancelled.tokenIds).toEqual(suite.reference.long.slice(0, run.cancelled.tokenIds.length));
    expect(run.after).toEqual(suite.reference.prompts[0]);
    expect(run.invalid).toEqual({ code: 'INVALID_OPTION' });
  });

  it('applyChatTemplate, encode, decode and countTokens cross the boundary; dispose makes later calls fail with DISPOSED', async () => {
    const run = await page.evaluate(async (chat) => {
      const g = globalThis as unknown as PageGlobals;
      const text = await g.model.applyChatTemplate(chat);
      const ids = await g.model.encode('Hello world');
      const decoded = await g.model.decode(ids);
      const countText = await g.model.countTokens('Hello world');
      const countChat = await g.model.countTokens(chat);
      let logitsProcessors: string | undefined;
      try {
        g.model.stream('Hi', { logitsProcessors: [() => {}] });
      } catch (e) {
        logitsProcessors = (e as { code?: string }).code;
      }
      await g.model.dispose();
      let code: string | undefined;
      try {
        g.model.stream('Hi');
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      const later = await g.model.countTokens('Hi').catch((e) => (e as { code?: string }).code);
      return { text, ids, decoded, countText, countChat, logitsProcessors, code, later };
    }, CHAT);
    expect(run.text).toContain('Hi!');
    expect(run.ids[0]).toBe(1);
    // As the in-process model: decode leaves the special tokens (BOS here) out.
    expect({
      ids: run.ids,
      decoded: run.decoded,
      countText: run.countText,
      countChat: run.countChat,
    }).toEqual(suite.reference.tokenizer);
    expect(run.decoded).toBe('Hello world');
    expect(run.logitsProcessors).toBe('INVALID_OPTION');
    expect(run.code).toBe('DISPOSED');
    expect(run.later).toBe('DISPOSED');
  });
});
