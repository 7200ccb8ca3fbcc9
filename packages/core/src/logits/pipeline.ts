import { SlmkitError } from '../spec/errors.js';
import type { LogitsContext, LogitsProcessor, LogitsStage } from '../spec/logits.js';
import { logitBias, presenceFrequencyPenalty, repetitionPenalty } from './penalties.js';

/** What the pipeline of one sequence is built from (the checked options of a call). */
export interface PipelineOptions {
  /**
   * The token mask of a constraint (a JSON schema, a grammar): first, so every later stage and the
   * sampler see only allowed tokens.
   */
  readonly tokenMask?: LogitsStage;
  /** Hugging Face repetition penalty over prompt and output (1 = off). */
  readonly repetitionPenalty: number;
  /** Subtracted once from every token already generated (0 = off). */
  readonly presencePenalty: number;
  /** Subtracted per occurrence of a token already generated (0 = off). */
  readonly frequencyPenalty: number;
  /** Added to the logits of the given token ids, or undefined for none. */
  readonly logitBias: Readonly<Record<number, number>> | undefined;
  /** The caller's stages, run in order after the built-in ones. */
  readonly logitsProcessors: readonly LogitsProcessor[];
}

const asStage = (p: LogitsProcessor): LogitsStage => (typeof p === 'function' ? { process: p } : p);

/**
 * The logits stages of one sequence, in their documented order: the token mask (constraints), the
 * repetition penalty, the presence/frequency penalties, the logit bias, then the caller's
 * processors. The sampler runs after `process`; the chosen token goes to `accept` of every stage.
 */
export class LogitsPipeline {
  private readonly stages: LogitsStage[] = [];
  /** Index in `stages` of the caller's first processor (for naming it in errors). */
  private readonly firstProcessor: number;

  constructor(
    options: PipelineOptions,
    readonly context: LogitsContext,
    vocabSize: number,
  ) {
    if (options.tokenMask) this.stages.push(options.tokenMask);
    if (options.repetitionPenalty !== 1) {
      this.stages.push(repetitionPenalty(options.repetitionPenalty, context.promptTokenIds, vocabSize));
    }
    if (options.presencePenalty !== 0 || options.frequencyPenalty !== 0) {
      this.stages.push(
        presenceFrequencyPenalty(options.presencePenalty, options.frequencyPenalty, vocabSize),
      );
    }
    if (options.logitBias) this.stages.push(logitBias(options.logitBias));
    this.firstProcessor = this.stages.length;
    this.stages.push(...options.logitsProcessors.map(asStage));
    for (const stage of this.stages) stage.reset?.(context);
  }

  /**
   * Runs every stage over the next-token logits (one per vocabulary entry), in place. A stage that
   * returns a Promise (an async function) is refused with INVALID_OPTION: its changes would come
   * after the token was chosen.
   */
  process(logits: Float32Array): void {
    const { stages, context } = this;
    for (let i = 0; i < stages.length; i++) {
      const returned: unknown = stages[i].process(logits, context);
      if (returned !== undefined) this.checkSynchronous(returned, i);
    }
  }

  /** Throws INVALID_OPTION when a stage's `process` returned a thenable, after silencing its rejection. */
  private checkSynchronous(returned: unknown, index: number): void {
    const then = (returned as { then?: unknown } | null)?.then;
    if (typeof then !== 'function') return;
    // Handle its rejection here, so the refused stage does not leave an unhandled rejection behind.
    Promise.resolve(returned).catch(() => {});
    throw new SlmkitError(
      'INVALID_OPTION',
      `${this.describe(index)} returned a Promise: logits processors must be synchronous, since the token is chosen as soon as process() returns. Remove async/await from it (and do any asynchronous preparation before the call).`,
    );
  }

  /** How messages name the stage at `index`: the caller's by its place in `logitsProcessors`. */
  private describe(index: number): string {
    return index >= this.firstProcessor
      ? `logitsProcessors[${index - this.firstProcessor}]`
      : `logits stage ${index}`;
  }

  /** Tells every stage which token was chosen. */
  accept(tokenId: number): void {
    for (const stage of this.stages) stage.accept?.(tokenId, this.context);
  }

  /** Takes back the last `count` accepted tokens in every stage. */
  rollback(count: number): void {
    const missing = this.stages.findIndex((stage) => stage.accept && !stage.rollback);
    if (missing !== -1) {
      throw new SlmkitError(
        'INVALID_OPTION',
        `${this.describe(missing)} keeps state (it has accept) but has no rollback, so tokens cannot be taken back; give it a rollback(count) method.`,
      );
    }
    for (const stage of this.stages) stage.rollback?.(count, this.context);
  }
}
