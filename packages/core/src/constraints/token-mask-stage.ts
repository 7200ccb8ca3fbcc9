import type { GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { SlmkitError } from '../spec/errors.js';
import type { LogitsStage } from '../spec/logits.js';
import { xgrammarError } from './xgrammar.js';

/**
 * The token mask of a `responseFormat`: the pipeline's first stage (its `tokenMask` slot) for one
 * sequence. It bans (`-Infinity`) every token the grammar does not allow next, the end-of-sequence
 * tokens included until the grammar can end, and follows the chosen tokens in an xgrammar matcher.
 *
 * xgrammar's mask call is asynchronous, and `process` must not be: the next mask is computed as
 * soon as a token is accepted (or the state is reset or rolled back), and the engine awaits
 * {@link TokenMaskStage.ready} before it calls `process`.
 */
export class TokenMaskStage implements LogitsStage {
  private mask: Int32Array | undefined;
  private pending: Promise<void> | undefined;
  /** Bumped by every change of state, so a mask computed for an earlier state is dropped. */
  private version = 0;
  private onlyStops = false;
  private anyStop = false;

  /**
   * @param matcher - xgrammar's matcher of the compiled format, for this sequence alone; the stage
   *   owns it and frees it in {@link TokenMaskStage.dispose}.
   * @param stopTokenIds - the end-of-sequence tokens the matcher was made with.
   * @param vocabSize - the width of the logits row (the mask has `ceil(vocabSize / 32)` words).
   */
  constructor(
    private readonly matcher: GrammarMatcher,
    private readonly stopTokenIds: readonly number[],
    private readonly vocabSize: number,
  ) {}

  /** Resolves once the mask for the current state is there (the engine awaits it before `process`). */
  ready(): Promise<void> {
    if (this.mask) return Promise.resolve();
    if (this.matcher.isTerminated()) {
      // An end-of-sequence token was accepted: nothing may follow. (xgrammar aborts, printing a
      // FATAL check failure, when asked for the mask of a terminated matcher.)
      this.mask = new Int32Array(Math.ceil(this.vocabSize / 32));
      this.anyStop = true;
      this.onlyStops = true;
      return Promise.resolve();
    }
    const version = this.version;
    this.pending ??= this.matcher.getNextTokenBitmask().then(
      (mask) => {
        if (version !== this.version) return this.ready();
        this.mask = mask;
        this.summarize(mask);
      },
      (cause: unknown) => {
        throw xgrammarError('RUNTIME_ERROR', 'The token mask of responseFormat could not be computed', cause);
      },
    );
    return this.pending;
  }

  /** The mask of the current state: bit `id % 32` of word `id >> 5` is set when token `id` is allowed. */
  currentMask(): Int32Array {
    if (!this.mask) {
      throw new SlmkitError(
        'RUNTIME_ERROR',
        'The token mask was read before it was computed (await ready() first).',
      );
    }
    return this.mask;
  }

  /** True once the grammar can take nothing more: only an end-of-sequence token may follow. */
  get ended(): boolean {
    this.currentMask();
    return this.onlyStops;
  }

  /** True when the output so far is complete: an end-of-sequence token may follow. */
  get complete(): boolean {
    if (this.matcher.isTerminated()) return true;
    this.currentMask();
    return this.anyStop;
  }

  /** Sets every banned token's logit to `-Infinity`, in place (after {@link TokenMaskStage.ready}). */
  process(logits: Float32Array): void {
    const mask = this.currentMask();
    const n = logits.length;
    const words = Math.ceil(n / 32);
    for (let word = 0; word < words; word++) {
      const bits = mask[word];
      if (bits === -1) continue;
      const base = word * 32;
      if (bits === 0) {
        // Most words ban all 32 tokens: one fill for the whole run of such words.
        let last = word;
        while (last + 1 < words && mask[last + 1] === 0) last++;
        logits.fill(Number.NEGATIVE_INFINITY, base, Math.min(n, (last + 1) * 32));
        word = last;
        continue;
      }
      // Only the banned bits: clear the lowest set bit of the inverted word each round.
      for (let banned = ~bits; banned !== 0; banned &= banned - 1) {
        const id = base + (31 - Math.clz32(banned & -banned));
        if (id < n) logits[id] = Number.NEGATIVE_INFINITY;
      }
    }
  }

  /**
   * Advances the matcher by the chosen token and starts on the next mask. A token the mask banned
   * (raised by a later stage or `logitBias`) is INVALID_OPTION; an engine failure RUNTIME_ERROR.
   */
  accept(tokenId: number): void {
    let accepted: boolean;
    try {
      accepted = this.matcher.acceptToken(tokenId);
    } catch (cause) {
      throw xgrammarError('RUNTIME_ERROR', `responseFormat could not follow token ${tokenId}`, cause);
    }
    if (!accepted) {
      throw new SlmkitError(
        'INVALID_OPTION',
        `Token ${tokenId} was chosen although responseFormat does not allow it here: a logits processor or logitBias raised a token the format had banned.`,
      );
    }
    this.changed();
  }

  /** Undoes the last `count` accepted tokens (the masks are then those of that earlier state). */
  rollback(count: number): void {
    this.call(`roll back by ${count}`, () => this.matcher.rollBack(count));
    this.changed();
  }

  /** Back to the start of the format, before any token. */
  reset(): void {
    this.call('reset', () => this.matcher.reset());
    this.changed();
  }

  /** Frees the matcher. */
  dispose(): void {
    this.version++;
    this.matcher.dispose();
  }

  /** Runs a matcher call; an engine failure becomes a SlmkitError. */
  private call(what: string, run: () => void): void {
    try {
      run();
    } catch (cause) {
      throw xgrammarError('RUNTIME_ERROR', `The responseFormat matcher could not ${what}`, cause);
    }
  }

  /** Drops the mask of the old state and starts computing the new one in the background. */
  private changed(): void {
    this.version++;
    this.mask = undefined;
    this.pending = undefined;
    // Start on the next mask now: it is computed while the model runs its next step.
    void this.ready().catch(() => {});
  }

  /** Whether the mask allows an end-of-sequence token, and whether it allows nothing else. */
  private summarize(mask: Int32Array): void {
    let anyStop = false;
    const stopBits = new Map<number, number>();
    for (const id of this.stopTokenIds) {
      const word = id >> 5;
      if ((mask[word] >>> (id & 31)) & 1) {
        anyStop = true;
        stopBits.set(word, (stopBits.get(word) ?? 0) | (1 << (id & 31)));
      }
    }
    this.anyStop = anyStop;
    this.onlyStops = anyStop && mask.every((bits, word) => (bits & ~(stopBits.get(word) ?? 0)) === 0);
  }
}
