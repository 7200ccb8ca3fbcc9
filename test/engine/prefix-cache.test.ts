import { type LanguageModel, loadModel } from '@slmkit/core';
import { createNodeBackend, openLocalFolder } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { type RunLog, recordingBackend } from './helpers.js';

describe('prefix cache', () => {
  const log: RunLog = { inputIds: [], outputs: [] };
  let cached: LanguageModel;
  let uncached: LanguageModel;
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
    expect(reused).toBeGreaterThanOrEqual(
      cached.tokenizer.encode(cached.applyChatTemplate(turn1), { addSpecialTokens: false }).length - 1,
    );
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

  it('is dropped after an aborted call and left alone by batches', async () => {
    const prompt = 'Once upon a time there was';
    await cached.generate(prompt, { maxNewTokens: 4 });
    await cached.generate([prompt, 'Hello'], { maxNewTokens: 2 });
    expect((await cached.generate(prompt, { maxNewTokens: 1 })).usage.cachedPromptTokens).toBeGreaterThan(0);
    const controller = new AbortController();
    const stream = cached.stream(prompt, { maxNewTokens: 20, signal: controller.signal });
    await expect(
      (async () => {
        for await (const _ of stream) controller.abort();
      })(),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await cached.generate(prompt, { maxNewTokens: 1 })).usage.cachedPromptTokens).toBe(0);
  });

  it('dispose frees the kept cache', async () => {
    const local: RunLog = { inputIds: [], outputs: [] };
    const model = await loadModel(openLocalFolder(await ensureModel('tiny')), {
      backend: recordingBackend(local),
    });
    await model.generate('Hello there', { maxNewTokens: 5 });
    expect(local.outputs.filter((t) => t.location !== 'none').length).toBe(4); // the kept key/value tensors
    await model.dispose();
    expect(local.outputs.filter((t) => t.location !== 'none')).toEqual([]);
  });
});
