/**
 * A sequence owns a KV cache and the token ids it holds the keys and values of: the unit that chat
 * sessions, saved state and prefix reuse share. Create one with `model.createSequence()`, pass it as
 * `GenerateOptions.sequence`, and `dispose()` it when done (its cache is memory the model holds).
 *
 * @example
 * ```ts
 * const sequence = model.createSequence();
 * await model.generate(profile + question1, { sequence }); // prefills the profile once
 * await model.generate(profile + question2, { sequence }); // reuses it, prefills only question2
 * const snapshot = await sequence.save();                    // bytes; model.restoreSequence(snapshot) later
 * await sequence.dispose();
 * ```
 */
export interface Sequence {
  /** Tokens whose keys and values the sequence holds, in order (the last generated token is fed at the next call). */
  readonly tokenIds: readonly number[];
  /** True once disposed: every method then throws SlmkitError 'DISPOSED'. */
  readonly disposed: boolean;
  /** Keeps only the first `length` tokens (0 empties it). */
  truncate(length: number): Promise<void>;
  /** An independent copy: generating on one leaves the other as it was. */
  fork(): Promise<Sequence>;
  /**
   * A versioned binary snapshot: a header with the model's fingerprint (graph hash, KV type and
   * shape) and the snapshot version, the token ids, and the KV bytes. `model.restoreSequence()`
   * turns it back into a sequence of the same model, in this process or another.
   */
  save(): Promise<Uint8Array>;
  /** Frees the KV cache. Safe to call twice. */
  dispose(): Promise<void>;
}
