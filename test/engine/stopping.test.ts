import { type LocalLanguageModel, SlmkitError } from '@slmkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forceTokens, loadTiny } from './helpers.js';

describe('stopping', () => {
  let model: LocalLanguageModel;
  let forcedIds: number[];
  const forcedText = 'Hello world. END of story, said the cat.';
  beforeAll(async () => {
    model = await loadTiny();
    forcedIds = model.tokenizer.encode(forcedText, { addSpecialTokens: false });
  });
  afterAll(() => model.dispose());

  it('stops at a stop string that spans tokens and never lets it out, streamed or not', async () => {
    // "d. E" spans the tokens of "world", ".", and "END".
    const options = { logitsProcessors: [forceTokens(forcedIds)], stop: ['d. E', 'never'], maxNewTokens: 40 };
    const result = await model.generate('x', options);
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe('Hello worl');
    const chunks: string[] = [];
    const stream = model.stream('x', options);
    for await (const chunk of stream) chunks.push(chunk.text);
    expect(chunks.join('')).toBe('Hello worl');
    expect(chunks.some((c) => c.includes('d'))).toBe(false);
    expect((await stream.result).text).toBe('Hello worl');
  });

  it('holds back a possible stop-string prefix and releases it when it is not one', async () => {
    const result = await model.generate('x', {
      logitsProcessors: [forceTokens(forcedIds)],
      stop: ['END of the world'],
      maxNewTokens: forcedIds.length,
    });
    expect(result.finishReason).toBe('length');
    expect(result.text).toBe(forcedText);
  });

  it('stops on an EOS id and keeps it in tokenIds only', async () => {
    const eos = 2;
    const ids = [...forcedIds.slice(0, 3), eos, ...forcedIds.slice(3)];
    const result = await model.generate('x', { logitsProcessors: [forceTokens(ids)], maxNewTokens: 40 });
    expect(result.finishReason).toBe('eos');
    expect(result.tokenIds).toEqual(ids.slice(0, 4));
    expect(result.text).toBe(model.tokenizer.decode(ids.slice(0, 3)));
  });

  it('takes eosTokenIds from the options', async () => {
    const greedy = await model.generate('Once upon a time', { maxNewTokens: 8 });
    const custom = await model.generate('Once upon a time', {
      maxNewTokens: 8,
      eosTokenIds: [greedy.tokenIds[2]],
    });
    expect(custom.finishReason).toBe('eos');
    expect(custom.tokenIds).toEqual(greedy.tokenIds.slice(0, 3));
  });

  it('stops at maxNewTokens, and maxNewTokens 0 generates nothing', async () => {
    const result = await model.generate('Once upon a time', { maxNewTokens: 5 });
    expect(result.tokenIds).toHaveLength(5);
    expect(result.finishReason).toBe('length');
    const none = await model.generate('Once upon a time', { maxNewTokens: 0 });
    expect(none).toMatchObject({ text: '', tokenIds: [], finishReason: 'length' });
  });

  it('stops at the end of the context window', async () => {
    const small = await loadTiny({ preset: 'tiny', maxPositionEmbeddings: 16 });
    try {
      const prompt = small.tokenizer.encode('Once upon a time');
      const result = await small.generate({ inputIds: prompt }, { maxNewTokens: 100 });
      expect(result.finishReason).toBe('length');
      expect(prompt.length + result.tokenIds.length).toBe(16);
    } finally {
      await small.dispose();
    }
  });

  it('aborts mid-stream with ABORTED, and the next call works', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const stream = model.stream('Once upon a time', { maxNewTokens: 50, signal: controller.signal });
    const error = await (async () => {
      for await (const chunk of stream) {
        seen.push(chunk.tokenId);
        if (seen.length === 3) controller.abort();
      }
    })().catch((e) => e);
    expect(error).toBeInstanceOf(SlmkitError);
    expect(error.code).toBe('ABORTED');
    expect(seen).toHaveLength(3);
    await expect(stream.result).rejects.toMatchObject({ code: 'ABORTED' });
    const again = await model.generate('Once upon a time', { maxNewTokens: 5 });
    const fresh = await model.generate('Once upon a time', { maxNewTokens: 5 });
    expect(again.tokenIds).toEqual(fresh.tokenIds);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(model.generate('Hi', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });

  it('breaking out of a stream stops generation and reports it as cancelled', async () => {
    const stream = model.stream('Once upon a time', { maxNewTokens: 50 });
    let count = 0;
    for await (const _ of stream) if (++count === 4) break;
    const result = await stream.result;
    expect(result.finishReason).toBe('cancelled');
    expect(result.tokenIds).toHaveLength(4);
    const next = await model.generate('Once upon a time', { maxNewTokens: 4 });
    expect(next.tokenIds).toEqual(result.tokenIds);
  });
});
