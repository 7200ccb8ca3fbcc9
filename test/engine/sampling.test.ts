import type { LocalLanguageModel, LogitsProcessor, LogitsStage } from '@slmkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  logitBias,
  presenceFrequencyPenalty,
  repetitionPenalty,
} from '../../packages/core/src/logits/penalties.js';
import { LogitsPipeline } from '../../packages/core/src/logits/pipeline.js';
import { createRng } from '../../packages/core/src/logits/rng.js';
import { type SamplingParams, TokenSampler, topIndices } from '../../packages/core/src/logits/sampler.js';
import { forceTokens, loadTiny } from './helpers.js';

/** The distribution a sampler should draw from, computed the slow obvious way (full sort, float64). */
function expectedDistribution(logits: Float32Array, p: SamplingParams): Map<number, number> {
  const max = Math.max(...logits);
  const probs = Array.from(logits, (l, id) => ({ id, p: Math.exp((l - max) / p.temperature) }));
  probs.sort((a, b) => b.p - a.p);
  let kept = p.topK > 0 ? probs.slice(0, p.topK) : probs;
  const total = kept.reduce((s, x) => s + x.p, 0);
  if (p.topP < 1) {
    let cumulative = 0;
    const cut = kept.findIndex((x) => {
      cumulative += x.p / total;
      return cumulative >= p.topP - 1e-9;
    });
    kept = kept.slice(0, cut + 1);
  }
  if (p.minP > 0) kept = kept.filter((x) => x.p >= p.minP * kept[0].p);
  const mass = kept.reduce((s, x) => s + x.p, 0);
  return new Map(kept.map((x) => [x.id, x.p / mass]));
}

function sampleMany(
  logits: Float32Array,
  params: SamplingParams,
  draws: number,
  seed: number,
): Map<number, number> {
  const sampler = new TokenSampler(params, createRng(seed));
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const id = sampler.sample(logits);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function randomLogits(vocab: number, seed: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: vocab }, () => (rng() - 0.5) * scale);
}

describe('sampler', () => {
  it('topIndices returns the largest values in descending order', () => {
    for (const [vocab, count] of [
      [1000, 1],
      [1000, 50],
      [32000, 64],
      [500, 500],
    ]) {
      const values = randomLogits(vocab, vocab + count, 10);
      const out = new Int32Array(vocab);
      topIndices(values, count, out);
      const expected = Array.from(values.keys())
        .sort((a, b) => values[b] - values[a])
        .slice(0, count);
      expect(Array.from(out.subarray(0, count), (i) => values[i])).toEqual(expected.map((i) => values[i]));
    }
  });

  const cases: [string, SamplingParams][] = [
    ['temperature only', { temperature: 0.7, topK: 0, topP: 1, minP: 0 }],
    ['top-k', { temperature: 1, topK: 5, topP: 1, minP: 0 }],
    ['top-p', { temperature: 1, topK: 0, topP: 0.8, minP: 0 }],
    ['top-k then top-p', { temperature: 1.3, topK: 8, topP: 0.9, minP: 0 }],
    ['min-p', { temperature: 1, topK: 0, topP: 1, minP: 0.3 }],
    ['all four', { temperature: 0.9, topK: 10, topP: 0.95, minP: 0.05 }],
  ];
  for (const [name, params] of cases) {
    it(`draws from the right distribution: ${name}`, () => {
      const logits = randomLogits(40, 7, 6);
      const expected = expectedDistribution(logits, params);
      const draws = 200_000;
      const counts = sampleMany(logits, params, draws, 42);
      for (const id of counts.keys())
        expect(expected.has(id), `token ${id} must have been filtered out`).toBe(true);
      for (const [id, p] of expected) {
        // Seeded, so deterministic; 5 standard deviations of a binomial proportion.
        const tolerance = 5 * Math.sqrt((p * (1 - p)) / draws) + 1e-4;
        expect(Math.abs((counts.get(id) ?? 0) / draws - p)).toBeLessThan(tolerance);
      }
    });
  }

  /** 4 standard deviations of the frequency of an event of probability `p` over `draws` independent draws. */
  const fourSigma = (p: number, draws: number) => 4 * Math.sqrt((p * (1 - p)) / draws);

  it('top-p keeps exactly the smallest set of most likely tokens that holds topP of the mass', () => {
    // Probabilities 0.06, 0.25, 0.04, 0.4, 0.1, 0.15 (ids 0-5). By rank: 0.4 (id 3), 0.25 (id 1),
    // 0.15 (id 5): 0.8 >= 0.75 with three, 0.65 < 0.75 with two. Renormalised: 0.5, 0.3125, 0.1875.
    const logits = Float32Array.from([0.06, 0.25, 0.04, 0.4, 0.1, 0.15], Math.log);
    const expected = new Map([
      [3, 0.5],
      [1, 0.3125],
      [5, 0.1875],
    ]);
    const draws = 100_000;
    const counts = sampleMany(logits, { temperature: 1, topK: 0, topP: 0.75, minP: 0 }, draws, 11);
    expect([...counts.keys()].sort(), 'only the nucleus is drawn').toEqual([1, 3, 5]);
    for (const [id, p] of expected) {
      // Seeded, so deterministic.
      expect(Math.abs(counts.get(id)! / draws - p), `token ${id}`).toBeLessThan(fourSigma(p, draws));
    }
  });

  it('top-p alone finds a nucleus beyond its first 64 candidates, cut exactly', () => {
    // 600 tokens whose probabilities fall by a factor e^-0.004 per rank, ranks shuffled over the ids:
    // a nucleus of 0.9 needs 427 of them, more than the 64 most likely the sampler tries first.
    const vocab = 600;
    const rng = createRng(5);
    const byRank = Array.from({ length: vocab }, (_, i) => i);
    for (let i = vocab - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [byRank[i], byRank[j]] = [byRank[j], byRank[i]];
    }
    const logits = new Float32Array(vocab);
    byRank.forEach((id, rank) => {
      logits[id] = -0.004 * rank;
    });
    const params = { temperature: 1, topK: 0, topP: 0.9, minP: 0 };
    const expected = expectedDistribution(logits, params);
    expect(expected.size).toBe(427);
    expect([...expected.keys()]).toEqual(byRank.slice(0, 427));
    const draws = 6000;
    const counts = sampleMany(logits, params, draws, 9);
    const rank = new Map(byRank.map((id, i) => [id, i]));
    for (const id of counts.keys())
      expect(expected.has(id), `rank ${rank.get(id)} is outside the nucleus`).toBe(true);
    // Per band of ranks: a nucleus cut short leaves the later bands empty, one cut wrong moves mass
    // between them.
    const probs = Array.from(expected.values());
    const edges = [0, 64, 256, expected.size];
    for (let band = 0; band + 1 < edges.length; band++) {
      const [from, to] = [edges[band], edges[band + 1]];
      const p = probs.slice(from, to).reduce((a, b) => a + b, 0);
      let drawn = 0;
      for (const [id, n] of counts) if (rank.get(id)! >= from && rank.get(id)! < to) drawn += n;
      expect(
        Math.abs(drawn / draws - p),
        `ranks ${from}-${to}: ${drawn} of ${draws} draws, expected ${p.toFixed(3)}`,
      ).toBeLessThan(fourSigma(p, draws));
    }
  });

  it('top-p over a flat 32k vocabulary draws from a nucleus of thousands of tokens', () => {
    const logits = randomLogits(32000, 3, 0.5);
    const params = { temperature: 1, topK: 0, topP: 0.5, minP: 0 };
    const expected = expectedDistribution(logits, params);
    expect(expected.size).toBeGreaterThan(4096);
    // The ranks from 4096 on are drawn as often as they should be (a nucleus cut short never draws them).
    const draws = 400;
    const counts = sampleMany(logits, params, draws, 9);
    const rank = new Map(Array.from(expected.keys(), (id, i) => [id, i]));
    for (const id of counts.keys()) expect(rank.has(id), `token ${id} is outside the nucleus`).toBe(true);
    const p = Array.from(expected.values())
      .slice(4096)
      .reduce((a, b) => a + b, 0);
    let drawn = 0;
    for (const [id, n] of counts) if (rank.get(id)! >= 4096) drawn += n;
    expect(
      Math.abs(drawn / draws - p),
      `ranks from 4096: ${drawn} of ${draws} draws, expected ${p.toFixed(3)}`,
    ).toBeLessThan(fourSigma(p, draws));
  });

  it('top-p over tied tokens keeps just as many as the mass needs; min-p and NaN apply in a large nucleus', () => {
    // 200 equally likely tokens: a nucleus of 0.5 is exactly 100 of them.
    const tied = new Float32Array(200);
    const tiedCounts = sampleMany(tied, { temperature: 1, topK: 0, topP: 0.5, minP: 0 }, 4000, 3);
    expect(tiedCounts.size).toBe(100);
    // 1,000 tokens, the first 500 at logit 0, the rest 1.0 lower (e^-1 = 0.37 as likely) and one NaN:
    // topP 0.99 keeps nearly all, and minP 0.5 then drops the lower half; NaN is never drawn.
    const logits = Float32Array.from({ length: 1000 }, (_, i) => (i < 500 ? 0 : -1));
    logits[10] = Number.NaN;
    const counts = sampleMany(logits, { temperature: 1, topK: 0, topP: 0.99, minP: 0.5 }, 4000, 4);
    expect(Math.max(...counts.keys())).toBeLessThan(500);
    expect(counts.has(10)).toBe(false);
    expect(counts.size).toBeGreaterThan(450);
  });

  it('never picks NaN, and refuses to sample when no logit is finite', () => {
    const greedy = new TokenSampler({ temperature: 0, topK: 0, topP: 1, minP: 0 }, createRng(1));
    expect(greedy.sample(Float32Array.from([Number.NaN, 1, 3, 2]))).toBe(2);
    const sampler = new TokenSampler({ temperature: 1, topK: 0, topP: 1, minP: 0 }, createRng(1));
    for (const logits of [
      [Number.NaN, Number.NaN],
      [Number.NEGATIVE_INFINITY, Number.NaN],
    ]) {
      expect(() => sampler.sample(Float32Array.from(logits))).toThrow(/nothing can be chosen/);
    }
  });

  it('is greedy at temperature 0', () => {
    const logits = randomLogits(1000, 5, 4);
    const sampler = new TokenSampler({ temperature: 0, topK: 0, topP: 1, minP: 0 }, createRng(1));
    const best = Array.from(logits.keys()).reduce((a, b) => (logits[b] > logits[a] ? b : a));
    expect(sampler.sample(logits)).toBe(best);
  });
});

describe('the logits pipeline', () => {
  const context = (prompt: number[] = []) => ({
    sequenceIndex: 0,
    promptTokenIds: prompt,
    generatedTokenIds: [],
  });
  const none = {
    repetitionPenalty: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    logitBias: undefined,
    logitsProcessors: [],
  };

  it('repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    const logits = Float32Array.from([2, -2, 4, 1]);
    const penalty = repetitionPenalty(2, [0, 1], 4);
    penalty.accept?.(1, context());
    penalty.process(logits, context());
    expect(Array.from(logits)).toEqual([1, -4, 4, 1]);
    penalty.accept?.(3, context());
    penalty.process(logits, context());
    expect(Array.from(logits)).toEqual([0.5, -8, 4, 0.5]);
  });

  it('presence and frequency penalties count generated tokens', () => {
    const penalty = presenceFrequencyPenalty(0.5, 0.25, 4);
    for (const id of [2, 2, 3]) penalty.accept?.(id, context());
    const logits = Float32Array.from([1, 1, 1, 1]);
    penalty.process(logits, context());
    expect(Array.from(logits)).toEqual([1, 1, 1 - 0.5 - 0.5, 1 - 0.5 - 0.25]);
  });

  it('logit bias adds per token', () => {
    const logits = Float32Array.from([1, 1, 1]);
    logitBias({ 0: 2, 2: Number.NEGATIVE_INFINITY }).process(logits, context());
    expect(Array.from(logits)).toEqual([3, 1, Number.NEGATIVE_INFINITY]);
  });

  it('runs mask, penalties, bias, then the caller, and rollback undoes accepted tokens exactly', () => {
    const order: string[] = [];
    const mask = {
      process(l: Float32Array) {
        order.push('mask');
        l[0] = Number.NEGATIVE_INFINITY;
      },
    };
    const mine: LogitsStage = {
      process: () => void order.push('caller'),
      accept: () => void order.push('accept'),
      rollback: (n) => void order.push(`rollback ${n}`),
      reset: () => void order.push('reset'),
    };
    const options = {
      repetitionPenalty: 2,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      logitBias: { 1: 1 },
    };
    const pipeline = new LogitsPipeline(
      { ...options, tokenMask: mask, logitsProcessors: [mine] },
      context([3]),
      5,
    );
    const fresh = () => Float32Array.from([1, 1, 2, 2, -2]);
    const before = fresh();
    pipeline.process(before);
    expect(order).toEqual(['reset', 'mask', 'caller']);
    // Mask first (nothing later revives token 0); token 3 from the prompt penalised; bias on 1.
    expect(Array.from(before)).toEqual([Number.NEGATIVE_INFINITY, 2, 2, 1, -2]);
    for (const id of [2, 4, 2]) pipeline.accept(id);
    const after = fresh();
    pipeline.process(after);
    expect(Array.from(after)).toEqual([Number.NEGATIVE_INFINITY, 2, 1 - 0.5 - 0.5, 1, -4 - 0.5 - 0.25]);
    pipeline.rollback(2);
    expect(order.at(-1)).toBe('rollback 2');
    const rolled = fresh();
    pipeline.process(rolled);
    // As if only token 2 had been accepted.
    expect(Array.from(rolled)).toEqual([Number.NEGATIVE_INFINITY, 2, 1 - 0.5 - 0.25, 1, -2]);
    pipeline.rollback(5);
    const empty = fresh();
    pipeline.process(empty);
    expect(Array.from(empty)).toEqual(Array.from(before));
  });

  it('refuses to roll back a stateful stage that cannot', () => {
    const stateful: LogitsStage = { process() {}, accept() {} };
    const pipeline = new LogitsPipeline({ ...none, logitsProcessors: [stateful, () => {}] }, context(), 4);
    expect(() => pipeline.rollback(1)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/^logitsProcessors\[0\] keeps state/),
      }),
    );
  });
});

describe('sampling options end to end', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await loadTiny();
  });
  afterAll(() => model.dispose());

  it('the same seed gives the same tokens; another seed gives others', async () => {
    const options = { maxNewTokens: 20, temperature: 1.2, topK: 0, topP: 0.95, minP: 0.01 };
    const a = await model.generate('Once upon a time', { ...options, seed: 7 });
    const b = await model.generate('Once upon a time', { ...options, seed: 7 });
    const c = await model.generate('Once upon a time', { ...options, seed: 8 });
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
    const greedy = await model.generate('Once upon a time', { maxNewTokens: 20 });
    expect(a.tokenIds).not.toEqual(greedy.tokenIds);
  });

  it('a seeded batch samples each prompt as it would alone', async () => {
    const options = { maxNewTokens: 10, temperature: 1, seed: 3 };
    const [x, y] = await model.generate(['Hello', 'The capital of France is'], options);
    expect(x.tokenIds).toEqual((await model.generate('Hello', options)).tokenIds);
    expect(y.tokenIds).toEqual((await model.generate('The capital of France is', options)).tokenIds);
  });

  it('doSample: false is greedy even with a temperature', async () => {
    const greedy = await model.generate('Hello', { maxNewTokens: 10 });
    const forced = await model.generate('Hello', {
      maxNewTokens: 10,
      temperature: 1.5,
      doSample: false,
      seed: 1,
    });
    expect(forced.tokenIds).toEqual(greedy.tokenIds);
  });

  it('logitBias can ban the token greedy decoding would pick', async () => {
    const greedy = await model.generate('Hello', { maxNewTokens: 3 });
    const banned = await model.generate('Hello', {
      maxNewTokens: 3,
      logitBias: { [greedy.tokenIds[0]]: Number.NEGATIVE_INFINITY },
    });
    expect(banned.tokenIds[0]).not.toBe(greedy.tokenIds[0]);
  });

  it('penalties reach the logits that user processors and the sampler see', async () => {
    const forced = model.tokenizer.encode('cat dog cat cat', { addSpecialTokens: false });
    const seen: Float32Array[] = [];
    const record: LogitsProcessor = (logits) => {
      seen.push(logits.slice());
    };
    const run = async (options: object) => {
      seen.length = 0;
      await model.generate('x', {
        ...options,
        maxNewTokens: forced.length,
        logitsProcessors: [record, forceTokens(forced)],
      });
      return seen.map((l) => l.slice());
    };
    const base = await run({});
    const penalised = await run({ presencePenalty: 0.5, frequencyPenalty: 0.25, repetitionPenalty: 1.5 });
    const step = forced.length - 1;
    const [cat] = forced;
    const catCount = forced.slice(0, step).filter((id) => id === cat).length;
    const promptIds = new Set(model.tokenizer.encode('x'));
    const expectRepetition = (v: number) => (v < 0 ? v * 1.5 : v / 1.5);
    expect(penalised[step][cat]).toBeCloseTo(expectRepetition(base[step][cat]) - 0.5 - 0.25 * catCount, 4);
    const untouched = Array.from({ length: 100 }, (_, i) => i + 1000).find(
      (id) => !forced.includes(id) && !promptIds.has(id),
    )!;
    expect(penalised[step][untouched]).toBe(base[step][untouched]);
  });
});
