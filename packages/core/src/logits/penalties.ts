import type { LogitsStage } from '../spec/logits.js';
import { TokenCounts } from './token-counts.js';

/**
 * Divides positive logits (multiplies negative ones) of every token already in the prompt or the
 * output by `penalty` (the CTRL / Hugging Face `repetition_penalty` rule).
 */
export function repetitionPenalty(
  penalty: number,
  promptTokenIds: readonly number[],
  vocabSize: number,
): LogitsStage {
  const seen = new TokenCounts(vocabSize);
  for (const id of promptTokenIds) seen.add(id, false);
  return {
    process(logits) {
      for (const id of seen.distinct) {
        const value = logits[id];
        logits[id] = value < 0 ? value * penalty : value / penalty;
      }
    },
    accept: (id) => seen.add(id, true),
    rollback: (count) => seen.rollback(count),
  };
}

/**
 * Subtracts `presence` once for every token that already appeared in the output and `frequency`
 * times its count (OpenAI's presence_penalty / frequency_penalty; the prompt is not counted).
 */
export function presenceFrequencyPenalty(
  presence: number,
  frequency: number,
  vocabSize: number,
): LogitsStage {
  const seen = new TokenCounts(vocabSize);
  return {
    process(logits) {
      for (const id of seen.distinct) logits[id] -= presence + frequency * seen.counts[id];
    },
    accept: (id) => seen.add(id, true),
    rollback: (count) => seen.rollback(count),
  };
}

/** Adds a fixed bias to chosen token ids (-Infinity bans a token). Stateless. */
export function logitBias(bias: Readonly<Record<number, number>>): LogitsStage {
  const entries = Object.entries(bias).map(([id, value]) => [Number(id), value] as const);
  return {
    process(logits) {
      for (const [id, value] of entries) logits[id] += value;
    },
    rollback() {},
  };
}
