// @slmkit/core/testing: createTestModel computes what ONNX Runtime computes on an ONNX export of the
// same weights (built by test/fixtures), its tokenizer is lossless, chats and snapshots work, and
// the seed decides the weights.
import type { LocalLanguageModel, LogitsProcessor } from '@slmkit/core';
import { createTestModel } from '@slmkit/core/testing';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testModelSpec } from '../../packages/core/src/testing/test-model.js';
import { ensureModel } from '../fixtures/models.js';

/** Greedy, always `maxNewTokens` tokens (no end-of-sequence rule), with every step's logits recorded. */
async function greedy(
  model: LocalLanguageModel,
  inputIds: number[],
  maxNewTokens = 12,
): Promise<{ tokenIds: number[]; logits: Float32Array[] }> {
  const logits: Float32Array[] = [];
  const record: LogitsProcessor = (row) => {
    logits.push(row.slice());
  };
  const result = await model.generate(
    { inputIds },
    { maxNewTokens, temperature: 0, eosTokenIds: [], logitsProcessors: [record] },
  );
  return { tokenIds: result.tokenIds, logits };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

// "<s>Hello world", BOS alone, 40 ids spread over the vocabulary.
const PROMPTS = [[1, 446, 264, 272, 313], [1], Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 512)];

describe.each([
  ['default options', {}],
  ['seed 12345, context 256', { seed: 12345, contextLength: 256 }],
])('createTestModel computes real numbers: %s', (_label, options) => {
  let testModel: LocalLanguageModel;
  let onnxModel: LocalLanguageModel;
  beforeAll(async () => {
    // The same dimensions, seed and vocabulary as an Optimum-layout ONNX file, on onnxruntime-node.
    const dir = await ensureModel({ name: 'testing-twin', ...testModelSpec(options) });
    [testModel, onnxModel] = await Promise.all([createTestModel(options), createModel(dir)]);
  });
  afterAll(async () => {
    await testModel?.dispose();
    await onnxModel?.dispose();
  });

  it('has the ONNX twin’s config', () => {
    const { raw: _a, ...mine } = testModel.config;
    const { raw: _b, ...twin } = onnxModel.config;
    expect(mine).toEqual(twin);
  });

  it.each(PROMPTS.map((p) => [p.length, p]))(
    'greedy tokens and every step’s logits equal onnxruntime-node’s (prompt of %i tokens)',
    async (_n, inputIds) => {
      const mine = await greedy(testModel, inputIds);
      const twin = await greedy(onnxModel, inputIds);
      expect(mine.tokenIds).toEqual(twin.tokenIds);
      expect(mine.logits).toHaveLength(12);
      for (let step = 0; step < mine.logits.length; step++) {
        expect(maxAbsDiff(mine.logits[step], twin.logits[step])).toBeLessThan(1e-4);
      }
      // Not a degenerate model: the logits spread, and the tokens are not one repeated id.
      const first = mine.logits[0];
      expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(1);
      expect(new Set(mine.tokenIds).size).toBeGreaterThan(1);
    },
  );

  it('a batch of prompts gives the same tokens as each alone', async () => {
    const batch = await testModel.generate(
      PROMPTS.map((inputIds) => ({ inputIds })),
      { maxNewTokens: 6, eosTokenIds: [] },
    );
    for (let i = 0; i < PROMPTS.length; i++) {
      expect(batch[i].tokenIds).toEqual((await greedy(onnxModel, PROMPTS[i], 6)).tokenIds);
    }
  });
});

describe('createTestModel tokenizer, chat and snapshots', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await createTestModel();
  });
  afterAll(() => model?.dispose());

  it('encodes any text and decodes it back unchanged', async () => {
    const texts = [
      'Hello, world! The quick brown fox jumps over the lazy dog.',
      'Crème brûlée, façade, naïve, Ångström, Straße, ÉLÈVE',
      'Emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🇳🇴 ❤️',
      '中文字符，日本語のテキスト、한국어 텍스트',
      'Tabs\tand\nnewlines\r\n   and  spaces  ',
      'def f(x):\n    return {"a": [1, 2.5e-3]}  # ok',
      '\u0000\u0001 control \u007f and \u200b zero-width',
      ' ',
    ];
    const tokenizer = model.tokenizer;
    for (const text of texts) {
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      expect(ids.every((id) => id >= 3 && id < model.config.vocabSize)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
      // A plain prompt starts with BOS, as Llama's tokenizer adds it.
      expect(await model.encode(text)).toEqual([1, ...ids]);
      expect(tokenizer.decode([1, ...ids, 2], { skipSpecialTokens: true })).toBe(text);
    }
    // Merges: common words are single tokens.
    expect(tokenizer.encode('Hello', { addSpecialTokens: false })).toHaveLength(1);
    expect(tokenizer.encode(' the', { addSpecialTokens: false })).toHaveLength(1);
    expect(model.config).toMatchObject({
      vocabSize: 512,
      bosTokenId: 1,
      eosTokenIds: [2],
      contextLength: 2048,
    });
    expect(tokenizer.specialTokens).toMatchObject({ bos_token: '<s>', eos_token: '</s>' });
  });

  it('streams text that adds up to the result', async () => {
    const stream = model.stream('Once upon a time', { maxNewTokens: 24, eosTokenIds: [] });
    let text = '';
    for await (const chunk of stream) text += chunk.text;
    const result = await stream.result;
    expect(result.tokenIds).toHaveLength(24);
    expect(text).toBe(result.text);
  });

  it('chats over three turns, reusing the cache from turn 2 on', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    try {
      const turn = { maxNewTokens: 6, eosTokenIds: [] };
      const first = await chat.send('Hi! Who are you?', turn);
      expect(first.usage.cachedPromptTokens).toBe(0);
      expect(first.tokenIds).toHaveLength(6);
      for (const message of ['What can you do?', 'Thanks!']) {
        const next = await chat.send(message, turn);
        expect(next.usage.cachedPromptTokens).toBeGreaterThan(0);
        expect(next.usage.cachedPromptTokens).toBeLessThan(next.usage.promptTokens);
      }
      expect(chat.messages.map((m) => m.role)).toEqual([
        'system',
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
    } finally {
      await chat.dispose();
    }
  });

  it('a saved sequence restores on the same test model, not on another seed or context', async () => {
    const sequence = model.createSequence();
    const same = await createTestModel();
    const otherSeed = await createTestModel({ seed: 2 });
    const otherContext = await createTestModel({ contextLength: 1024 });
    try {
      const turn = { maxNewTokens: 5, eosTokenIds: [] };
      await model.generate('Once upon a time', { ...turn, sequence });
      const saved = await sequence.save();
      const restored = await same.restoreSequence(saved);
      expect(restored.tokenIds).toEqual(sequence.tokenIds);
      const prompt = { inputIds: [...sequence.tokenIds, 446] };
      const a = await model.generate(prompt, { ...turn, sequence });
      const b = await same.generate(prompt, { ...turn, sequence: restored });
      expect(b.usage.cachedPromptTokens).toBe(a.usage.cachedPromptTokens);
      expect(b.tokenIds).toEqual(a.tokenIds);
      for (const other of [otherSeed, otherContext]) {
        await expect(other.restoreSequence(saved)).rejects.toMatchObject({ code: 'INVALID_SNAPSHOT' });
      }
    } finally {
      await sequence.dispose();
      await Promise.all([same.dispose(), otherSeed.dispose(), otherContext.dispose()]);
    }
  });
});

describe('createTestModel options', () => {
  it('the same seed gives the same tokens; another seed other tokens', async () => {
    const [a, b, c] = await Promise.all([
      createTestModel({ seed: 3 }),
      createTestModel({ seed: 3 }),
      createTestModel({ seed: 4 }),
    ]);
    try {
      const run = (m: LocalLanguageModel) => m.generate('The capital of France is', { maxNewTokens: 10 });
      const [ra, rb, rc] = [await run(a), await run(b), await run(c)];
      expect(ra.tokenIds.length).toBeGreaterThan(0);
      expect(rb.tokenIds).toEqual(ra.tokenIds);
      expect(rb.text).toBe(ra.text);
      expect(rc.tokenIds).not.toEqual(ra.tokenIds);
      // Sampling with a seed is reproducible too.
      const sampled = (m: LocalLanguageModel) =>
        m.generate('Hello', { maxNewTokens: 10, temperature: 0.8, seed: 9, eosTokenIds: [] });
      expect((await sampled(a)).tokenIds).toEqual((await sampled(b)).tokenIds);
    } finally {
      await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
    }
  });

  it('contextLength bounds prompts, prefixCache is passed through', async () => {
    const model = await createTestModel({ contextLength: 16, prefixCache: false });
    try {
      expect(model.config.contextLength).toBe(16);
      expect(model.prefixCache.maxBytes).toBe(0);
      const long = 'word '.repeat(40);
      expect(() => model.stream(long)).toThrow(expect.objectContaining({ code: 'CONTEXT_OVERFLOW' }));
      const result = await model.generate('Hi', { maxNewTokens: 100, eosTokenIds: [] });
      expect(result.usage.promptTokens + result.tokenIds.length).toBeLessThanOrEqual(16);
    } finally {
      await model.dispose();
    }
  });

  it('rejects options out of range', async () => {
    for (const options of [{ seed: -1 }, { seed: 1.5 }, { seed: 2 ** 32 }, { contextLength: 0 }]) {
      await expect(createTestModel(options)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    }
  });
});
