import type { LocalLanguageModel } from '@slmkit/core';
import { loadModel } from '@slmkit/core/backend';
import { createNodeBackend, openLocalFolder } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { type RunLog, recordingBackend } from './helpers.js';

const emptyLog = (): RunLog => ({ inputIds: [], resident: [], hostOutputs: 0 });

describe('prefix cache', () => {
  const log = emptyLog();
  let cached: LocalLanguageModel;
  let uncached: LocalLanguageModel;
  beforeAll(async () => {
    const reader = openLocalFolder(await ensureModel('tiny'));
    cached = await loadModel(reader, { backend: recordingBackend(log) });
    uncached = await loadModel(reader, { backend: createNodeBackend(), prefixCache: false });
  });
  afterAll(async () => {
    await cached.dispose();
    await uncached.dispose();
  });

  it('a second chat turn only runs its new tokens and generates what a fresh run generates', async () => {
    const turn1 = [
      { role: 'system', content: 'You are a helpful assistant who answers briefly.' },
      { role: 'user', content: 'What is the capital of France?' },
    ];
    const first = await cached.generate(turn1, { maxNewTokens: 12 });
    expect(first.usage.cachedPromptTokens).toBe(0);
    const turn2 = [
      ...turn1,
      { role: 'assistant', content: first.text },
      { role: 'user', content: 'And of Spain?' },
    ];
    log.inputIds.length = 0;
    const second = await cached.generate(turn2, { maxNewTokens: 12 });
    const fresh = await uncached.generate(turn2, { maxNewTokens: 12 });
    expect(second.tokenIds).toEqual(fresh.tokenIds);
    expect(fresh.usage.cachedPromptTokens).toBe(0);
    const reused = second.usage.cachedPromptTokens;
    // At least the system prompt and the first question were reused.
    expect(reused).toBeGreaterThanOrEqual((await cached.countTokens(turn1)) - 1);
    expect(log.inputIds[0]).toEqual([1, second.usage.promptTokens - reused]);
  });

  it('reuses a shared prefix across unrelated continuations, with the same tokens as without', async () => {
    const shared = 'The following is a list of facts about the solar system. ';
    for (const tail of ['Mars is', 'Jupiter has', 'The Sun']) {
      const a = await cached.generate(shared + tail, { maxNewTokens: 8 });
      const b = await uncached.generate(shared + tail, { maxNewTokens: 8 });
      expect(a.tokenIds).toEqual(b.tokenIds);
    }
    const again = await cached.generate(`${shared}Saturn`, { maxNewTokens: 2 });
    expect(again.usage.cachedPromptTokens).toBeGreaterThanOrEqual(cached.tokenizer.encode(shared).length - 2);
  });

  it('runs at least the last prompt token when the whole prompt is cached', async () => {
    const prompt = 'Once upon a time there was';
    const first = await cached.generate(prompt, { maxNewTokens: 4 });
    log.inputIds.length = 0;
    const repeat = await cached.generate(prompt, { maxNewTokens: 4 });
    expect(repeat.tokenIds).toEqual(first.tokenIds);
    expect(log.inputIds[0]).toEqual([1, 1]);
    expect(repeat.usage.cachedPromptTokens).toBe(repeat.usage.promptTokens - 1);
  });

  it('interleaved conversations each keep their own cache', async () => {
    const a1 = [{ role: 'user', content: 'Tell me about cats and their habits.' }];
    const b1 = [{ role: 'user', content: 'Explain how rivers form in mountains.' }];
    const ra = await cached.generate(a1, { maxNewTokens: 6 });
    const rb = await cached.generate(b1, { maxNewTokens: 6 });
    const a2 = [...a1, { role: 'assistant', content: ra.text }, { role: 'user', content: 'And dogs?' }];
    const b2 = [...b1, { role: 'assistant', content: rb.text }, { role: 'user', content: 'And lakes?' }];
    for (const [conversation, before] of [
      [a2, a1],
      [b2, b1],
    ] as const) {
      const reply = await cached.generate(conversation, { maxNewTokens: 6 });
      expect(reply.usage.cachedPromptTokens).toBeGreaterThanOrEqual((await cached.countTokens(before)) - 1);
      expect(reply.tokenIds).toEqual((await uncached.generate(conversation, { maxNewTokens: 6 })).tokenIds);
    }
  });

  it('an aborted call frees only its own cache, and batches leave the cache alone', async () => {
    const prompt = 'Once upon a time there was';
    await cached.generate(prompt, { maxNewTokens: 4 });
    await cached.generate([prompt, 'Hello'], { maxNewTokens: 2 });
    expect((await cached.generate(prompt, { maxNewTokens: 1 })).usage.cachedPromptTokens).toBeGreaterThan(0);
    const controller = new AbortController();
    const stream = cached.stream(`${prompt} a king`, { maxNewTokens: 20, signal: controller.signal });
    await expect(
      (async () => {
        for await (const _ of stream) controller.abort();
      })(),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await cached.generate(prompt, { maxNewTokens: 1 })).usage.cachedPromptTokens).toBeGreaterThan(0);
  });

  it('holds at most maxBytes, dropping the least recently used caches first', async () => {
    const local = emptyLog();
    const reader = openLocalFolder(await ensureModel('tiny'));
    // Two layers × key/value × 2 heads × 16 dims × 4 bytes = 512 bytes per position (tiny model).
    const perPosition = 2 * 2 * cached.config.numKeyValueHeads * cached.config.headDim * 4;
    const maxBytes = 40 * perPosition;
    const model = await loadModel(reader, { backend: recordingBackend(local), prefixCache: { maxBytes } });
    // Token prompts (nothing added), no two sharing a first token. With one new token, a call's cache
    // holds exactly its prompt (the token it generated never ran).
    const ids = (from: number, length: number) => ({ inputIds: Array.from({ length }, (_, i) => from + i) });
    const [a, b, c] = [ids(100, 12), ids(200, 12), ids(300, 20)];
    const once = { maxNewTokens: 1 } as const;
    const checkBound = () => {
      expect(model.prefixCache.bytes).toBeLessThanOrEqual(maxBytes);
      // What is alive on the session thread is what the cache accounts for.
      const alive = local.resident.filter((r) => !r.disposed).length;
      expect(alive).toBe(model.prefixCache.size * 4);
    };
    try {
      await model.generate(a, once);
      await model.generate(b, once);
      checkBound();
      expect([model.prefixCache.size, model.prefixCache.bytes]).toEqual([2, 24 * perPosition]);
      // a, the older entry, is used again (its conversation goes on: the entry is taken over and
      // comes back holding 13 tokens), so b is now the least recently used, though a came first.
      const aLonger = { inputIds: [...a.inputIds, 400] };
      expect((await model.generate(aLonger, once)).usage.cachedPromptTokens).toBe(12);
      checkBound();
      expect(model.prefixCache.bytes).toBe(25 * perPosition);
      // 20 more positions do not fit in 40 beside both: one entry goes, and LRU picks b (FIFO would
      // pick a). Dropping b leaves 33 positions; dropping a would leave 32.
      await model.generate(c, once);
      checkBound();
      expect([model.prefixCache.size, model.prefixCache.bytes]).toEqual([2, 33 * perPosition]);
      // a's cache is still there (all 13 tokens of it are reused), and so is the newest one, c's;
      // b's is gone.
      expect(
        (await model.generate({ inputIds: [...aLonger.inputIds, 401] }, once)).usage.cachedPromptTokens,
      ).toBe(13);
      expect((await model.generate({ inputIds: [...c.inputIds, 402] }, once)).usage.cachedPromptTokens).toBe(
        20,
      );
      expect((await model.generate(b, once)).usage.cachedPromptTokens).toBe(0);
      checkBound();
      await expect(
        loadModel(reader, { backend: createNodeBackend(), prefixCache: { maxBytes: -1 } }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      });
    } finally {
      await model.dispose();
    }
    expect(local.resident.filter((r) => !r.disposed)).toEqual([]);
  });
});
