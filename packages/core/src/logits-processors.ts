/** What a logits processor may look at besides the logits. Arrays are live views: do not modify them. */
export interface LogitsProcessorContext {
  /** Index of the sequence in a batch (0 for a single prompt). */
  readonly sequenceIndex: number;
  readonly promptTokenIds: readonly number[];
  /** Tokens generated so far for this sequence. */
  readonly generatedTokenIds: readonly number[];
}

/**
 * Changes next-token logits in place before sampling (e.g. to ban or boost tokens). slmkit runs its
 * built-in penalties and `logitBias` first, then the caller's processors in order, then the sampler.
 *
 * @example
 * ```ts
 * const noDigits: LogitsProcessor = (logits) => { for (const id of digitIds) logits[id] = -Infinity; };
 * await model.generate('Count:', { logitsProcessors: [noDigits] });
 * ```
 */
export type LogitsProcessor = (logits: Float32Array, context: LogitsProcessorContext) => void;

/** A built-in processor that keeps its state incrementally: it sees each token once. */
export interface StatefulLogitsProcessor {
  process(logits: Float32Array): void;
  accept(tokenId: number): void;
}

/**
 * Divides positive logits (multiplies negative ones) of every token already in the prompt or the
 * output by `penalty` (the CTRL / Hugging Face `repetition_penalty` rule).
 */
export function repetitionPenalty(
  penalty: number,
  promptTokenIds: readonly number[],
  vocabSize: number,
): StatefulLogitsProcessor {
  const seen = new Uint8Array(vocabSize);
  const distinct: number[] = [];
  const accept = (id: number) => {
    if (id >= 0 && id < vocabSize && seen[id] === 0) {
      seen[id] = 1;
      distinct.push(id);
    }
  };
  for (const id of promptTokenIds) accept(id);
  return {
    accept,
    process(logits) {
      for (const id of distinct) {
        const value = logits[id];
        logits[id] = value < 0 ? value * penalty : value / penalty;
      }
    },
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
): StatefulLogitsProcessor {
  const counts = new Uint32Array(vocabSize);
  const distinct: number[] = [];
  return {
    accept(id) {
      if (id < 0 || id >= vocabSize) return;
      if (counts[id] === 0) distinct.push(id);
      counts[id]++;
    },
    process(logits) {
      for (const id of distinct) logits[id] -= presence + frequency * counts[id];
    },
  };
}

/** Adds a fixed bias to chosen token ids (-Infinity bans a token). */
export function logitBias(bias: Readonly<Record<number, number>>): StatefulLogitsProcessor {
  const entries = Object.entries(bias).map(([id, value]) => [Number(id), value] as const);
  return {
    accept() {},
    process(logits) {
      for (const [id, value] of entries) logits[id] += value;
    },
  };
}
