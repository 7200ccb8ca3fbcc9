// The Web Worker model as a full LanguageModel in Chromium, with the real worker bundle: chats run
// by core's ChatSession on the page over sequences that live in the worker, saved and restored in a
// new worker after a page reload, prefixes persisted in the origin's Cache API across a reload,
// snapshot errors with their codes, and sequence proxies whose token ids follow every call. The node
// backend (in-process LocalLanguageModel) running the same calls is the reference.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, PROMPTS, type SlmkitGlobal, useBrowserSuite } from './harness.js';

type WorkerModel = import('@slmkit/web').WorkerLanguageModel;
type Chat = import('@slmkit/web').Chat;

/** What the page offers the tests (set up by {@link PAGE_HELPERS} on every load of the page). */
interface PageGlobals {
  slmkit: SlmkitGlobal;
  /** A tiny model in a new worker of the bundle (wasm, automatic prefix cache off unless asked). */
  openWorkerModel(options?: { prefixCache?: boolean }): Promise<{ worker: Worker; model: WorkerModel }>;
  /** A rejection or throw as plain data: `{ slmkit, code, message }`. */
  caught(work: () => unknown): Promise<Caught>;
  worker: Worker;
  model: WorkerModel;
  chat: Chat;
}

interface Caught {
  slmkit: boolean;
  code?: string;
  message?: string;
}

// Runs before the page's own scripts on every load (also after a reload). The automatic prefix
// cache is off by default, so reused prompt tokens come only from a sequence or a pinned prefix.
const PAGE_HELPERS = `
globalThis.openWorkerModel = async (options = {}) => {
  const worker = new Worker('/slmkit/worker.js', { type: 'module' });
  const model = await globalThis.slmkit.createWorkerModel(worker, './models/tiny/', {
    device: 'wasm',
    prefixCache: false,
    ...options,
  });
  return { worker, model };
};
globalThis.caught = async (work) => {
  try {
    await work();
    return { slmkit: false, message: 'did not throw' };
  } catch (e) {
    return { slmkit: e instanceof globalThis.slmkit.SlmkitError, code: e.code, message: e.message };
  }
};
`;

const GREEDY = { maxNewTokens: 12, temperature: 0 };
/** Tests that reload the page or load more than one worker model (a worker model takes seconds to load). */
const RELOADS_TIMEOUT = 120_000;
const SYSTEM = 'You are a tiny test model.';
/** Three turns compared one by one; the fourth is the turn after save and restore. */
const TURNS = ['Hello there!', 'What is your name?', 'Tell me a story about a cat.', 'And then?'];
/** A prefix to cache, and a prompt that starts with it (token ids, so the boundary is exact). */
const PREFIX = [...PROMPTS[1], ...PROMPTS[2].slice(1), ...PROMPTS[0].slice(1)];
const FULL = [...PREFIX, 29892, 306, 737];

interface Turn {
  text: string;
  tokenIds: number[];
  promptTokens: number;
  cachedPromptTokens: number;
}

const turnOf = (r: import('@slmkit/web').GenerationResult): Turn => ({
  text: r.text,
  tokenIds: r.tokenIds,
  promptTokens: r.usage.promptTokens,
  cachedPromptTokens: r.usage.cachedPromptTokens,
});

/** The same calls on the node backend, in this process: what the worker must give. */
async function reference(modelDir: string) {
  const { createModel } = await import('@slmkit/node');
  const model = await createModel(modelDir, { prefixCache: false });
  try {
    const chat = model.createChat({ system: SYSTEM });
    const turns: Turn[] = [];
    for (const content of TURNS) turns.push(turnOf(await chat.send(content, GREEDY)));
    const full = (await model.generate({ inputIds: FULL }, GREEDY)).tokenIds;
    const nullPrefixOptions = await model.cachePrefix({ inputIds: PREFIX }, null as never).then(
      () => ({ code: 'none', message: 'did not throw' }),
      (e) => ({ code: e.code, message: e.message }),
    );
    const prompt = (await model.generate({ inputIds: PROMPTS[0] }, GREEDY)).tokenIds;

    const sequence = model.createSequence();
    const first = turnOf(await model.generate({ inputIds: PROMPTS[0] }, { ...GREEDY, sequence }));
    const afterFirst = [...sequence.tokenIds];
    const second = turnOf(
      await model.generate({ inputIds: [...afterFirst, ...PROMPTS[2].slice(1)] }, { ...GREEDY, sequence }),
    );
    const afterSecond = [...sequence.tokenIds];
    await sequence.truncate(5);
    const afterTruncate = [...sequence.tokenIds];
    const fork = await sequence.fork();
    const onFork = turnOf(
      await model.generate({ inputIds: [...PROMPTS[0], 29892] }, { ...GREEDY, sequence: fork }),
    );
    const forkTokens = [...fork.tokenIds];
    const restored = await model.restoreSequence(await fork.save());
    const onRestored = turnOf(
      await model.generate({ inputIds: [...forkTokens, 306] }, { ...GREEDY, sequence: restored }),
    );
    return {
      turns,
      messages: chat.messages,
      full,
      nullPrefixOptions,
      prompt,
      sequence: { first, afterFirst, second, afterSecond, afterTruncate, onFork, forkTokens, onRestored },
    };
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!hasChromium)('WorkerLanguageModel: chats, sequences and prefixes in Chromium', () => {
  const suite = useBrowserSuite({ reference });
  let page: Page;

  beforeAll(async () => {
    page = await suite.browser.newPage();
    await page.addInitScript(PAGE_HELPERS);
    await page.goto(`${suite.plain.url}/`);
    await page.waitForFunction(() => 'slmkit' in globalThis && 'openWorkerModel' in globalThis);
  });

  /** Reloads the page (its workers end with it) and waits for the bundle. */
  const reload = async () => {
    await page.reload();
    await page.waitForFunction(() => 'slmkit' in globalThis && 'openWorkerModel' in globalThis);
  };

  it('a chat of three greedy turns gives the node tokens and reuses its sequence from turn 2 on', async () => {
    const run = await page.evaluate(
      async ({ system, turns, options }) => {
        const g = globalThis as unknown as PageGlobals;
        ({ worker: g.worker, model: g.model } = await g.openWorkerModel());
        g.chat = g.model.createChat({ system });
        const out = [];
        for (const content of turns) {
          // Streamed, as an app shows it; the result is the turn's.
          const stream = g.chat.stream(content, options);
          const streamed: number[] = [];
          for await (const chunk of stream) streamed.push(chunk.tokenId);
          const r = await stream.result;
          out.push({
            streamed,
            turn: {
              text: r.text,
              tokenIds: r.tokenIds,
              promptTokens: r.usage.promptTokens,
              cachedPromptTokens: r.usage.cachedPromptTokens,
            },
          });
        }
        return { out, messages: g.chat.messages };
      },
      { system: SYSTEM, turns: TURNS.slice(0, 3), options: GREEDY },
    );
    const expected = suite.reference.turns.slice(0, 3);
    expect(run.out.map((t) => t.turn)).toEqual(expected);
    expect(run.out.map((t) => t.streamed)).toEqual(expected.map((t) => t.tokenIds));
    // The worker's prefix cache is off: what turns 2 and 3 reuse is the chat's own sequence.
    expect(run.out[0].turn.cachedPromptTokens).toBe(0);
    for (const t of run.out.slice(1)) expect(t.turn.cachedPromptTokens).toBeGreaterThan(0);
    expect(run.messages).toEqual(suite.reference.messages.slice(0, 7));
  });

  it(
    'chat.save() in one worker, restoreChat in a new worker after a page reload: the next turn is the uninterrupted one',
    async () => {
      const saved = await page.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        const bytes = await g.chat.save();
        return { bytes: Array.from(bytes), isBytes: bytes instanceof Uint8Array };
      });
      expect(saved.isBytes).toBe(true);
      await reload();
      const run = await page.evaluate(
        async ({ bytes, next, options }) => {
          const g = globalThis as unknown as PageGlobals;
          const { model } = await g.openWorkerModel();
          const chat = await model.restoreChat(Uint8Array.from(bytes));
          const messages = chat.messages;
          const r = await chat.send(next, options);
          return {
            messages,
            turn: {
              text: r.text,
              tokenIds: r.tokenIds,
              promptTokens: r.usage.promptTokens,
              cachedPromptTokens: r.usage.cachedPromptTokens,
            },
            after: chat.messages.length,
          };
        },
        { bytes: saved.bytes, next: TURNS[3], options: GREEDY },
      );
      expect(run.messages).toEqual(suite.reference.messages.slice(0, 7));
      // Token for token the fourth turn of the node chat that was never interrupted, and it reused the
      // restored KV cache as much as that chat reused its own.
      expect(run.turn).toEqual(suite.reference.turns[3]);
      expect(run.turn.cachedPromptTokens).toBeGreaterThan(0);
      expect(run.after).toBe(9);
    },
    RELOADS_TIMEOUT,
  );

  it(
    'cachePrefix with persist survives a page reload: the new worker loads it from storage and generates the same tokens',
    async () => {
      await reload();
      const before = await page.evaluate(
        async ({ prefix, full, options }) => {
          const g = globalThis as unknown as PageGlobals;
          const { worker, model } = await g.openWorkerModel();
          const nullOptions = await g.caught(() => model.cachePrefix({ inputIds: prefix }, null as never));
          const uncached = await model.generate({ inputIds: full }, options);
          const first = await model.cachePrefix({ inputIds: prefix }, { persist: true });
          const again = await model.cachePrefix({ inputIds: prefix }, { persist: true });
          const cached = await model.generate({ inputIds: full }, options);
          await model.dispose();
          worker.terminate();
          return {
            nullOptions,
            uncached: { tokenIds: uncached.tokenIds, cachedPromptTokens: uncached.usage.cachedPromptTokens },
            first: { tokenCount: first.tokenCount, source: first.source },
            again: again.source,
            cached: { tokenIds: cached.tokenIds, cachedPromptTokens: cached.usage.cachedPromptTokens },
          };
        },
        { prefix: PREFIX, full: FULL, options: GREEDY },
      );
      // null options are refused as the in-process model refuses them, not with a TypeError.
      expect(before.nullOptions).toEqual({ slmkit: true, ...suite.reference.nullPrefixOptions });
      expect(before.uncached).toEqual({ tokenIds: suite.reference.full, cachedPromptTokens: 0 });
      expect(before.first).toEqual({ tokenCount: PREFIX.length, source: 'computed' });
      expect(before.again).toBe('memory');
      expect(before.cached.tokenIds).toEqual(suite.reference.full);
      expect(before.cached.cachedPromptTokens).toBeGreaterThanOrEqual(PREFIX.length);

      await reload();
      const after = await page.evaluate(
        async ({ prefix, full, options }) => {
          const g = globalThis as unknown as PageGlobals;
          const { model } = await g.openWorkerModel();
          const loaded = await model.cachePrefix({ inputIds: prefix }, { persist: true });
          const r = await model.generate({ inputIds: full }, options);
          await loaded.release();
          await loaded.release(); // twice is fine
          const released = await model.generate({ inputIds: full }, options);
          await model.dispose();
          return {
            loaded: { tokenCount: loaded.tokenCount, source: loaded.source },
            tokenIds: r.tokenIds,
            cachedPromptTokens: r.usage.cachedPromptTokens,
            released: { tokenIds: released.tokenIds, cachedPromptTokens: released.usage.cachedPromptTokens },
          };
        },
        { prefix: PREFIX, full: FULL, options: GREEDY },
      );
      expect(after.loaded).toEqual({ tokenCount: PREFIX.length, source: 'storage' });
      expect(after.cachedPromptTokens).toBeGreaterThanOrEqual(PREFIX.length);
      expect(after.tokenIds).toEqual(suite.reference.full);
      // Released in the worker: nothing is reused any more (its automatic prefix cache is off).
      expect(after.released).toEqual({ tokenIds: suite.reference.full, cachedPromptTokens: 0 });
      expect(suite.browser.foreignRequests).toEqual([]);
    },
    RELOADS_TIMEOUT,
  );

  it('snapshots of the wrong kind, truncated or corrupt give INVALID_SNAPSHOT on the page; the model stays usable', async () => {
    const run = await page.evaluate(
      async ({ prompt, options }) => {
        const g = globalThis as unknown as PageGlobals;
        const { model } = await g.openWorkerModel();
        const sequence = model.createSequence();
        await model.generate({ inputIds: prompt }, { ...options, sequence });
        const good = await sequence.save();
        const chat = model.createChat({ system: 'x' });
        await chat.send('hi', { maxNewTokens: 2, temperature: 0 });
        const chatBytes = await chat.save();
        const corrupt = good.slice();
        corrupt[corrupt.length - 1] ^= 0xff;
        const corruptChat = chatBytes.slice();
        corruptChat[corruptChat.length - 1] ^= 0xff;
        const errors = {
          chatAsSequence: await g.caught(() => model.restoreSequence(chatBytes)),
          corrupt: await g.caught(() => model.restoreSequence(corrupt)),
          truncated: await g.caught(() => model.restoreSequence(good.subarray(0, good.length - 8))),
          noise: await g.caught(() => model.restoreSequence(new Uint8Array(64).fill(7))),
          notBytes: await g.caught(() => model.restoreSequence([1, 2, 3] as never)),
          sequenceAsChat: await g.caught(() => model.restoreChat(good)),
          corruptChat: await g.caught(() => model.restoreChat(corruptChat)),
        };
        // Still usable: a generate, and the good snapshot restores (also from a view into a larger buffer).
        const generated = await model.generate({ inputIds: prompt }, options);
        const framed = new Uint8Array(good.length + 16);
        framed.set(good, 8);
        const restored = await model.restoreSequence(framed.subarray(8, 8 + good.length));
        // A whole buffer is posted as it is: it must be copied to the worker, not moved there.
        const whole = good.slice();
        const restoredWhole = await model.restoreSequence(whole);
        const restoredChat = await model.restoreChat(chatBytes);
        return {
          errors,
          generated: generated.tokenIds,
          saved: [...sequence.tokenIds],
          restored: [...restored.tokenIds],
          restoredWhole: [...restoredWhole.tokenIds],
          restoredChat: restoredChat.messages.length,
          savedLength: good.length,
          callerBytes: {
            whole: whole.byteLength,
            framed: framed.byteLength,
            unchanged: whole.every((byte, i) => byte === good[i]),
          },
        };
      },
      { prompt: PROMPTS[0], options: GREEDY },
    );
    for (const [name, error] of Object.entries(run.errors)) {
      expect({ name, slmkit: error.slmkit, code: error.code }).toEqual({
        name,
        slmkit: true,
        code: 'INVALID_SNAPSHOT',
      });
    }
    expect(run.errors.chatAsSequence.message).toMatch(/of a chat, not of a sequence/);
    expect(run.errors.corrupt.message).toMatch(/checksum/);
    expect(run.generated).toEqual(suite.reference.prompt);
    expect(run.restored).toEqual(run.saved);
    expect(run.restored.length).toBe(PROMPTS[0].length + suite.reference.prompt.length - 1);
    expect(run.restoredWhole).toEqual(run.saved);
    expect(run.restoredChat).toBe(3);
    // The caller's bytes were copied to the worker, not moved (a moved buffer is detached: length 0).
    expect(run.callerBytes).toEqual({
      whole: run.savedLength,
      framed: run.savedLength + 16,
      unchanged: true,
    });
  });

  it(
    'sequence proxies: tokenIds follow generate, break, abort, truncate, fork and restore; foreign and disposed ones are refused',
    async () => {
      const run = await page.evaluate(
        async ({ prompts, options }) => {
          const g = globalThis as unknown as PageGlobals;
          const summary = (r: import('@slmkit/web').GenerationResult) => ({
            text: r.text,
            tokenIds: r.tokenIds,
            promptTokens: r.usage.promptTokens,
            cachedPromptTokens: r.usage.cachedPromptTokens,
          });
          const { model } = await g.openWorkerModel();
          const sequence = model.createSequence();
          const empty = [...sequence.tokenIds];
          const first = summary(await model.generate({ inputIds: prompts[0] }, { ...options, sequence }));
          const afterFirst = [...sequence.tokenIds];
          const second = summary(
            await model.generate(
              { inputIds: [...afterFirst, ...prompts[2].slice(1)] },
              { ...options, sequence },
            ),
          );
          const afterSecond = [...sequence.tokenIds];
          await sequence.truncate(5);
          const afterTruncate = [...sequence.tokenIds];
          const fork = await sequence.fork();
          const onFork = summary(
            await model.generate({ inputIds: [...prompts[0], 29892] }, { ...options, sequence: fork }),
          );
          const forkTokens = [...fork.tokenIds];
          const unchanged = [...sequence.tokenIds];
          const restored = await model.restoreSequence(await fork.save());
          const restoredTokens = [...restored.tokenIds];
          const onRestored = summary(
            await model.generate({ inputIds: [...forkTokens, 306] }, { ...options, sequence: restored }),
          );

          // Break: the loop ends once the worker reported what the sequence now holds.
          const long = { maxNewTokens: 64, temperature: 0, eosTokenIds: [] };
          await sequence.truncate(2);
          const broken = model.stream({ inputIds: prompts[1] }, { ...long, sequence });
          let seen = 0;
          for await (const _ of broken) if (++seen === 3) break;
          const afterBreak = [...sequence.tokenIds];
          const cancelled = await broken.result;
          // The worker holds exactly what the proxy says: a prompt extending it reuses all of it.
          const probeBreak = await model.generate(
            { inputIds: [...afterBreak, 306] },
            { maxNewTokens: 1, temperature: 0, sequence },
          );

          // Abort: the rejection comes after the worker reported the sequence's tokens.
          await sequence.truncate(2);
          const controller = new AbortController();
          const aborted = await g.caught(async () => {
            for await (const _ of model.stream(
              { inputIds: prompts[1] },
              { ...long, sequence, signal: controller.signal },
            )) {
              controller.abort();
            }
          });
          const afterAbort = [...sequence.tokenIds];
          const probeAbort = await model.generate(
            { inputIds: [...afterAbort, 306] },
            { maxNewTokens: 1, temperature: 0, sequence },
          );

          // Refused like the in-process model: another model's sequence, a batch, a disposed sequence.
          const other = await g.openWorkerModel();
          const foreign = other.model.createSequence();
          const refusals = {
            foreign: await g.caught(() => model.stream('hi', { sequence: foreign })),
            fake: await g.caught(() => model.stream('hi', { sequence: { tokenIds: [] } as never })),
            batch: await g.caught(() => model.stream(['a', 'b'], { sequence })),
            badTruncate: await g.caught(() => sequence.truncate(10_000)),
          };
          await fork.dispose();
          await fork.dispose(); // twice is fine
          const disposedSequence = {
            disposed: fork.disposed,
            stream: await g.caught(() => model.stream('hi', { sequence: fork })),
            truncate: await g.caught(() => fork.truncate(0)),
            save: await g.caught(() => fork.save()),
          };
          await other.model.dispose();
          other.worker.terminate();
          await model.dispose();
          const afterModel = {
            disposed: sequence.disposed,
            save: await g.caught(() => sequence.save()),
            create: await g.caught(() => model.createSequence()),
            restore: await g.caught(() => model.restoreSequence(new Uint8Array(8))),
            chat: await g.caught(() => model.createChat()),
          };
          return {
            empty,
            first,
            afterFirst,
            second,
            afterSecond,
            afterTruncate,
            onFork,
            forkTokens,
            unchanged,
            restoredTokens,
            onRestored,
            afterBreak,
            cancelled: { finishReason: cancelled.finishReason, tokenIds: cancelled.tokenIds },
            probeBreak: probeBreak.usage.cachedPromptTokens,
            aborted,
            afterAbort,
            probeAbort: probeAbort.usage.cachedPromptTokens,
            refusals,
            disposedSequence,
            afterModel,
          };
        },
        { prompts: PROMPTS, options: GREEDY },
      );
      const ref = suite.reference.sequence;
      expect(run.empty).toEqual([]);
      expect(run.first).toEqual(ref.first);
      expect(run.afterFirst).toEqual(ref.afterFirst);
      expect(run.second).toEqual(ref.second);
      expect(run.second.cachedPromptTokens).toBe(ref.afterFirst.length);
      expect(run.afterSecond).toEqual(ref.afterSecond);
      expect(run.afterTruncate).toEqual(ref.afterTruncate);
      expect(run.onFork).toEqual(ref.onFork);
      expect(run.forkTokens).toEqual(ref.forkTokens);
      expect(run.unchanged).toEqual(ref.afterTruncate);
      expect(run.restoredTokens).toEqual(ref.forkTokens);
      expect(run.onRestored).toEqual(ref.onRestored);

      // After the break: the prompt, then every token the worker chose but the last.
      expect(run.cancelled.finishReason).toBe('cancelled');
      expect(run.afterBreak).toEqual([...PROMPTS[1], ...run.cancelled.tokenIds].slice(0, -1));
      expect(run.probeBreak).toBe(run.afterBreak.length);
      expect(run.aborted).toMatchObject({ slmkit: true, code: 'ABORTED' });
      // The aborted run replaced the two kept tokens with its prompt (and what it generated).
      expect(run.afterAbort.slice(0, PROMPTS[1].length)).toEqual(PROMPTS[1]);
      expect(run.probeAbort).toBe(run.afterAbort.length);

      expect(run.refusals.foreign).toMatchObject({ slmkit: true, code: 'INVALID_OPTION' });
      expect(run.refusals.foreign.message).toMatch(/sequence of this model/);
      expect(run.refusals.fake).toMatchObject({ slmkit: true, code: 'INVALID_OPTION' });
      expect(run.refusals.batch).toMatchObject({ slmkit: true, code: 'INVALID_OPTION' });
      expect(run.refusals.badTruncate).toMatchObject({ slmkit: true, code: 'INVALID_INPUT' });
      expect(run.disposedSequence.disposed).toBe(true);
      for (const key of ['stream', 'truncate', 'save'] as const) {
        expect(run.disposedSequence[key]).toMatchObject({ slmkit: true, code: 'DISPOSED' });
      }
      expect(run.afterModel.disposed).toBe(true);
      for (const key of ['save', 'create', 'restore', 'chat'] as const) {
        expect(run.afterModel[key]).toMatchObject({ slmkit: true, code: 'DISPOSED' });
      }
    },
    RELOADS_TIMEOUT,
  );
});
