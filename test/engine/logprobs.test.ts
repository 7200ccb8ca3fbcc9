// logprobs / topLogprobs on the tiny model (real ONNX Runtime): each chosen token's log-probability
// and the step's alternatives equal an independent float64 computation over the very row the
// sampler drew from (captured by a logits processor, the pipeline's last stage), for greedy,
// top-k, top-p and min-p sampling, and under a responseFormat mask.

import { isSlmkitError, type LocalLanguageModel, type TokenLogprob } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const PROMPT = 'Once upon a time there was a';

let model: LocalLanguageModel;
beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
});
afterAll(() => model?.dispose());

/** The rows the sampler saw, one per step. */
function capture(rows: Float64Array[]) {
  return (logits: Float32Array) => void rows.push(Float64Array.from(logits));
}

/**
 * The distribution a row was drawn from, by the definitions: softmax at `temperature` over the
 * tokens top-k, then top-p, then min-p keep (Hugging Face's order), as log-probabilities (-Infinity
 * for the rest).
 */
function reference(row: Float64Array, temperature: number, topK = 0, topP = 1, minP = 0): Float64Array {
  const ids = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b);
  let kept = topK > 0 ? ids.slice(0, topK) : ids;
  const weight = (id: number) => Math.exp((row[id] - row[ids[0]]) / temperature);
  if (topP < 1) {
    const total = kept.reduce((sum, id) => sum + weight(id), 0);
    let cumulative = 0;
    const nucleus: number[] = [];
    for (const id of kept) {
      nucleus.push(id);
      cumulative += weight(id);
      if (cumulative >= topP * total) break;
    }
    kept = nucleus;
  }
  if (minP > 0) kept = kept.filter((id) => weight(id) >= minP);
  const mass = kept.reduce((sum, id) => sum + weight(id), 0);
  const out = new Float64Array(row.length).fill(Number.NEGATIVE_INFINITY);
  for (const id of kept) out[id] = Math.log(weight(id) / mass);
  return out;
}

/** Checks every step's entry against the reference distribution of its row. */
function expectMatches(
  entries: readonly TokenLogprob[],
  rows: Float64Array[],
  dist: (row: Float64Array) => Float64Array,
  top: number,
) {
  expect(entries).toHaveLength(rows.length);
  entries.forEach((entry, step) => {
    const expected = dist(rows[step]);
    expect(entry.logprob).toBeCloseTo(expected[entry.tokenId], 4);
    const best = [...expected.keys()]
      .filter((id) => expected[id] > Number.NEGATIVE_INFINITY)
      .sort((a, b) => expected[b] - expected[a] || a - b)
      .slice(0, top);
    expect(entry.topLogprobs.map((t) => t.tokenId)).toEqual(best);
    for (const t of entry.topLogprobs) expect(t.logprob).toBeCloseTo(expected[t.tokenId], 4);
  });
}

describe('logprobs', () => {
  it('greedy: the softmax of the logits, and the top alternatives in order', async () => {
    const rows: Float64Array[] = [];
    const result = await model.generate(PROMPT, {
      maxNewTokens: 6,
      temperature: 0,
      logprobs: true,
      topLogprobs: 5,
      logitsProcessors: [capture(rows)],
    });
    expectMatches(result.logprobs!, rows, (row) => reference(row, 1), 5);
    result.logprobs!.forEach((entry, i) => {
      expect(entry.tokenId).toBe(result.tokenIds[i]);
      // Greedy chooses the most likely token.
      expect(entry.topLogprobs[0].tokenId).toBe(entry.tokenId);
      expect(entry.token).toBe(model.tokenizer.decode([entry.tokenId], { skipSpecialTokens: false }));
    });
  });

  it.each([
    ['top-k', { topK: 3, temperature: 0.7 }],
    ['top-p', { topK: 0, topP: 0.3, temperature: 1.3 }],
    ['min-p', { topK: 0, minP: 0.5, temperature: 1 }],
    ['top-k + top-p', { topK: 40, topP: 0.5, temperature: 0.9 }],
  ] as const)('sampled with %s: the renormalised distribution it was drawn from', async (_, sampling) => {
    const rows: Float64Array[] = [];
    const result = await model.generate(PROMPT, {
      maxNewTokens: 6,
      seed: 11,
      ...sampling,
      logprobs: true,
      topLogprobs: 4,
      logitsProcessors: [capture(rows)],
    });
    const {
      temperature,
      topK,
      topP = 1,
      minP = 0,
    } = sampling as { temperature: number; topK: number; topP?: number; minP?: number };
    expectMatches(result.logprobs!, rows, (row) => reference(row, temperature, topK, topP, minP), 4);
    // The chosen token is always in the distribution; top-k 3 has at most 3 alternatives.
    for (const entry of result.logprobs!) expect(entry.logprob).toBeGreaterThan(Number.NEGATIVE_INFINITY);
    if (topK === 3)
      for (const entry of result.logprobs!) expect(entry.topLogprobs.length).toBeLessThanOrEqual(3);
  });

  it('under a responseFormat, masked tokens are no alternatives', async () => {
    const result = await model.generate(PROMPT, {
      responseFormat: { type: 'regex', pattern: '[0-9]{3}' },
      temperature: 0,
      logprobs: true,
      topLogprobs: 20,
    });
    expect(result.text).toMatch(/^[0-9]{3}$/);
    for (const entry of result.logprobs!) {
      expect(entry.topLogprobs.length).toBeGreaterThan(0);
      for (const t of entry.topLogprobs) expect(t.token).toMatch(/^▁?[0-9]+$/);
    }
  });

  it('streams each token with its logprob; off, nothing is reported', async () => {
    const stream = model.stream(PROMPT, { maxNewTokens: 5, temperature: 0, logprobs: true });
    const streamed: TokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(chunk.logprob!);
    const result = await stream.result;
    expect(streamed).toEqual(result.logprobs);
    for (const entry of streamed) expect(entry.topLogprobs).toEqual([]);
    const off = await model.generate(PROMPT, { maxNewTokens: 5, temperature: 0 });
    expect('logprobs' in off).toBe(false);
    expect(off.tokenIds).toEqual(result.tokenIds);
  });

  it.each([
    [{ logprobs: 'yes' as never }, 'logprobs must be true or false; got "yes".'],
    [{ topLogprobs: 3 }, 'topLogprobs needs logprobs: true.'],
    [{ logprobs: true, topLogprobs: 21 }, 'topLogprobs must be an integer in [0, 20]; got 21.'],
    [{ logprobs: true, topLogprobs: 1.5 }, 'topLogprobs must be an integer in [0, 20]; got 1.5.'],
  ])('refuses %o with INVALID_OPTION', async (options, message) => {
    let error: unknown;
    try {
      await model.generate(PROMPT, options);
    } catch (e) {
      error = e;
    }
    expect(isSlmkitError(error, 'INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toBe(message);
  });
});
