/** What a logits stage may look at besides the logits. Arrays are live views: do not modify them. */
export interface LogitsContext {
  /** Index of the sequence in a batch (0 for a single prompt). */
  readonly sequenceIndex: number;
  /** Token ids of this sequence's prompt, as fed (template applied). */
  readonly promptTokenIds: readonly number[];
  /** Tokens generated so far for this sequence (the ones accepted, in order). */
  readonly generatedTokenIds: readonly number[];
}

/**
 * One stateful stage of the logits pipeline. For each new token the engine calls `process` with the
 * next-token logits (change them in place), samples, then calls `accept` with the chosen token, so
 * a stage sees every accepted token exactly once and can keep its state incrementally (a grammar
 * matcher, a penalty's counts). One stage object serves every sequence of a batch: use
 * `context.sequenceIndex` to keep state per sequence.
 *
 * @example
 * ```ts
 * // Bans a token after it was generated twice (one prompt at a time).
 * const counts = new Map<number, number>();
 * const add = (id: number, n: number) => counts.set(id, (counts.get(id) ?? 0) + n);
 * const twice: LogitsStage = {
 *   process(logits) { for (const [id, n] of counts) if (n >= 2) logits[id] = -Infinity; },
 *   accept(id) { add(id, 1); },
 *   rollback(count, { generatedTokenIds }) { for (const id of generatedTokenIds.slice(-count)) add(id, -1); },
 *   reset() { counts.clear(); },
 * };
 * await model.generate('Count:', { logitsProcessors: [twice] });
 * ```
 */
export interface LogitsStage {
  /** Changes the next-token logits in place (one value per vocabulary entry); `-Infinity` bans a token. */
  process(logits: Float32Array, context: LogitsContext): void;
  /** The token chosen after `process`. */
  accept?(tokenId: number, context: LogitsContext): void;
  /**
   * Forgets the last `count` accepted tokens (speculative decoding undoes drafted tokens with it).
   * `context.generatedTokenIds` still ends with them when it is called.
   */
  rollback?(count: number, context: LogitsContext): void;
  /** Called once before a generation starts, so one object can serve call after call. */
  reset?(context: LogitsContext): void;
}

/**
 * The caller's logits processors: a {@link LogitsStage}, or a plain function for a stateless one
 * (called like `process`).
 *
 * @example
 * ```ts
 * const noDigits: LogitsProcessor = (logits) => { for (const id of digitIds) logits[id] = -Infinity; };
 * await model.generate('Count:', { logitsProcessors: [noDigits] });
 * ```
 */
export type LogitsProcessor = LogitsStage | ((logits: Float32Array, context: LogitsContext) => void);
