import type { Tensor } from 'onnxruntime-common';
import { AttentionInputs } from './attention-inputs.js';
import type { Backend, InferenceSession } from './backend.js';
import type { DecoderSignature } from './decoder-io.js';
import { IncrementalDetokenizer } from './detokenizer.js';
import { SlmkitError } from './errors.js';
import { float16ToFloat32 } from './float16.js';
import type { FinishReason, GenerationResult, StreamChunk } from './generation-types.js';
import { KvCache } from './kv-cache.js';
import {
  type LogitsProcessorContext,
  logitBias,
  presenceFrequencyPenalty,
  repetitionPenalty,
  type StatefulLogitsProcessor,
} from './logits-processors.js';
import type { ResolvedGenerateOptions } from './options.js';
import { createRng, randomSeed } from './rng.js';
import { TokenSampler } from './sampler.js';
import { StopStringMatcher } from './stop-strings.js';
import type { TextTokenizer } from './tokenizer.js';

/** Everything one generation needs: the loaded model and one call's prompts and options. */
export interface GenerationRequest {
  readonly session: InferenceSession;
  readonly backend: Backend;
  readonly signature: DecoderSignature;
  readonly tokenizer: TextTokenizer;
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Fed at left-padded positions (masked out, so any valid id works). */
  readonly padTokenId: number;
  /** Token ids per prompt (a batch when more than one). */
  readonly prompts: readonly (readonly number[])[];
  readonly options: ResolvedGenerateOptions;
  /** When the call was made (performance.now()), for time to first token. */
  readonly startTime: number;
  /** Where a single-prompt run takes a kept KV cache from, and leaves its own (prefix caching). */
  readonly prefixStore?: PrefixStore;
}

/** A KV cache kept after a single-prompt generation, with the token ids whose keys and values it holds. */
export interface PrefixCacheEntry {
  readonly cache: KvCache;
  readonly tokenIds: readonly number[];
}

/** Holds at most one {@link PrefixCacheEntry} between calls; a run takes it and gives one back. */
export interface PrefixStore {
  take(): PrefixCacheEntry | undefined;
  keep(entry: PrefixCacheEntry): void;
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The state of one sequence of the batch. */
class SequenceState {
  readonly tokenIds: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  firstTokenTime = 0;
  lastTokenTime = 0;
  readonly detokenizer: IncrementalDetokenizer;
  readonly stopMatcher: StopStringMatcher;
  readonly processors: StatefulLogitsProcessor[] = [];
  readonly sampler: TokenSampler;
  readonly context: LogitsProcessorContext;

  constructor(
    readonly index: number,
    readonly promptTokenIds: readonly number[],
    request: GenerationRequest,
    seed: number,
  ) {
    const { options, tokenizer, vocabSize } = request;
    this.detokenizer = new IncrementalDetokenizer(tokenizer);
    this.stopMatcher = new StopStringMatcher(options.stop);
    if (options.repetitionPenalty !== 1) {
      this.processors.push(repetitionPenalty(options.repetitionPenalty, promptTokenIds, vocabSize));
    }
    if (options.presencePenalty !== 0 || options.frequencyPenalty !== 0) {
      this.processors.push(
        presenceFrequencyPenalty(options.presencePenalty, options.frequencyPenalty, vocabSize),
      );
    }
    if (options.logitBias) this.processors.push(logitBias(options.logitBias));
    // Every sequence gets the same seed, so a prompt samples the same tokens alone or in a batch.
    this.sampler = new TokenSampler(options.sampling, createRng(seed));
    this.context = { sequenceIndex: index, promptTokenIds, generatedTokenIds: this.tokenIds };
  }
}

/**
 * Runs one generation over a decoder session: prefill of the (left-padded) prompts, then one run
 * per token with the KV cache, until every sequence has stopped. Iterate `chunks()` once; `results()`
 * reports the sequences at any point (unfinished ones as 'cancelled').
 */
export class GenerationRun {
  private readonly sequences: SequenceState[];
  private readonly padding: number[];
  private readonly promptLength: number;
  private endTime = 0;
  /** Prompt tokens whose keys and values came from the prefix cache instead of a prefill. */
  private cachedPromptTokens = 0;

  constructor(private readonly request: GenerationRequest) {
    const seed = request.options.seed ?? randomSeed();
    this.sequences = request.prompts.map((ids, i) => new SequenceState(i, ids, request, seed));
    this.promptLength = Math.max(...request.prompts.map((p) => p.length));
    this.padding = request.prompts.map((p) => this.promptLength - p.length);
    if (this.promptLength >= request.contextLength) {
      throw new SlmkitError(
        'CONTEXT_OVERFLOW',
        `The prompt has ${this.promptLength} tokens but the model's context window is ${request.contextLength}: shorten the prompt (at least one position must be left for the answer).`,
      );
    }
  }

  async *chunks(): AsyncGenerator<StreamChunk, void, undefined> {
    const { options, backend, signature } = this.request;
    if (options.maxNewTokens === 0) {
      for (const s of this.sequences) s.finishReason = 'length';
      this.endTime = performance.now();
      return;
    }
    const batch = this.sequences.length;
    const maxTotal = Math.min(this.promptLength + options.maxNewTokens, this.request.contextLength);
    const attention = new AttentionInputs(this.padding, maxTotal);
    const { cache, reused } = await this.acquireCache();
    this.cachedPromptTokens = reused;
    const stepIds = new BigInt64Array(batch);
    const feeds = new StepFeeds(backend, signature, batch, stepIds);
    let logitsScratch: Float32Array | undefined;
    let logits: Tensor | undefined;
    let failed = false;
    try {
      this.checkAbort();
      // Prefill with the padded prompts, minus any prefix the cache already holds.
      const length = this.promptLength - reused;
      const promptIds = new BigInt64Array(batch * length);
      this.padding.forEach((pad, b) => {
        const ids = this.request.prompts[b];
        for (let j = 0; j < length; j++) {
          const k = reused + j;
          promptIds[b * length + j] = BigInt(k < pad ? this.request.padTokenId : ids[k - pad]);
        }
      });
      let outputs = await this.runStep(feeds, cache, attention, promptIds, length);
      for (;;) {
        logits = outputs.logits;
        const [, steps, vocab] = logits.dims;
        for (const s of this.sequences) {
          if (s.finishReason) continue;
          const offset = (s.index * steps + steps - 1) * vocab;
          let row: Float32Array;
          if (logits.type === 'float16') {
            logitsScratch ??= new Float32Array(vocab);
            float16ToFloat32((logits.data as Uint16Array).subarray(offset, offset + vocab), logitsScratch);
            row = logitsScratch;
          } else {
            row = (logits.data as Float32Array).subarray(offset, offset + vocab);
          }
          const chunk = this.chooseToken(s, row, cache.length + 1 >= this.request.contextLength);
          stepIds[s.index] = BigInt(chunk.tokenId);
          yield chunk;
        }
        logits.dispose();
        logits = undefined;
        if (this.sequences.every((s) => s.finishReason)) break;
        this.checkAbort();
        outputs = await this.runStep(feeds, cache, attention, undefined, 1);
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // Also reached when the caller stops iterating in the middle of a step.
      logits?.dispose();
      const store = this.request.prefixStore;
      if (store && batch === 1 && !failed) {
        // The cache holds the prompt and every generated token but the last, which was never run.
        const held = [...this.request.prompts[0], ...this.sequences[0].tokenIds].slice(0, cache.length);
        store.keep({ cache, tokenIds: held });
      } else {
        cache.release();
      }
      this.endTime = performance.now();
    }
  }

  /**
   * A single prompt reuses the kept cache for the longest prefix it shares with it (leaving at
   * least one prompt token to run, for the logits); anything else starts from an empty cache.
   */
  private async acquireCache(): Promise<{ cache: KvCache; reused: number }> {
    const { backend, signature, prefixStore, prompts } = this.request;
    const kept = prompts.length === 1 ? prefixStore?.take() : undefined;
    if (kept) {
      const reused = Math.min(commonPrefixLength(kept.tokenIds, prompts[0]), prompts[0].length - 1);
      if (reused > 0) {
        await kept.cache.truncate(reused);
        return { cache: kept.cache, reused };
      }
      kept.cache.release();
    }
    return { cache: new KvCache(backend, signature, prompts.length), reused: 0 };
  }

  /** Results per prompt; sequences still running are reported as 'cancelled'. */
  results(): GenerationResult[] {
    const end = this.endTime || performance.now();
    return this.sequences.map((s) => {
      const completion = s.tokenIds.length;
      const decodeSeconds = (s.lastTokenTime - s.firstTokenTime) / 1000;
      return {
        text: s.text,
        tokenIds: [...s.tokenIds],
        finishReason: s.finishReason ?? 'cancelled',
        usage: {
          promptTokens: s.promptTokenIds.length,
          cachedPromptTokens: this.cachedPromptTokens,
          completionTokens: completion,
          timeToFirstTokenMs: completion > 0 ? s.firstTokenTime - this.request.startTime : 0,
          decodeTokensPerSecond: completion > 1 && decodeSeconds > 0 ? (completion - 1) / decodeSeconds : 0,
          totalMs: end - this.request.startTime,
        },
      };
    });
  }

  /** Processes the logits of one sequence, picks its next token and applies the stop rules. */
  private chooseToken(s: SequenceState, logits: Float32Array, contextFull: boolean): StreamChunk {
    const { options } = this.request;
    for (const processor of s.processors) processor.process(logits);
    for (const processor of options.logitsProcessors) processor(logits, s.context);
    const tokenId = s.sampler.sample(logits);
    const now = performance.now();
    if (s.tokenIds.length === 0) s.firstTokenTime = now;
    s.lastTokenTime = now;
    s.tokenIds.push(tokenId);
    for (const processor of s.processors) processor.accept(tokenId);

    let text: string;
    if (options.eosTokenIds.has(tokenId)) {
      text = this.finish(s, 'eos');
    } else {
      const pushed = s.stopMatcher.push(s.detokenizer.push(tokenId));
      text = pushed.text;
      if (pushed.stopped) s.finishReason = 'stop';
      else if (s.tokenIds.length >= options.maxNewTokens || contextFull) text += this.finish(s, 'length');
    }
    s.text += text;
    return { text, tokenId, sequenceIndex: s.index };
  }

  /**
   * Ends a sequence for `reason` and returns the text still held back; a stop string completed by
   * that text still wins (finishReason 'stop', cut at the stop string).
   */
  private finish(s: SequenceState, reason: FinishReason): string {
    const tail = s.stopMatcher.push(s.detokenizer.flush());
    s.finishReason = tail.stopped ? 'stop' : reason;
    return tail.stopped ? tail.text : tail.text + s.stopMatcher.flush();
  }

  /** One run of the graph: the prompt (`promptIds`) or, without them, the tokens in `stepIds`. */
  private async runStep(
    feeds: StepFeeds,
    cache: KvCache,
    attention: AttentionInputs,
    promptIds: BigInt64Array | undefined,
    length: number,
  ): Promise<Record<string, Tensor>> {
    const { session } = this.request;
    const total = cache.length + length;
    let outputs: Record<string, Tensor>;
    try {
      outputs = await session.run(feeds.prepare(cache, attention, promptIds, length), {
        residentOutputs: this.request.signature.presentNames,
      });
    } catch (cause) {
      throw new SlmkitError('RUNTIME_ERROR', `The model failed to run: ${(cause as Error).message}`, {
        cause,
      });
    }
    cache.update(outputs, total);
    return outputs;
  }

  private checkAbort(): void {
    const signal = this.request.options.signal;
    if (signal?.aborted) {
      throw new SlmkitError('ABORTED', 'Generation was aborted.', { cause: signal.reason });
    }
  }
}

/**
 * The feeds of one generation's runs, kept in one object: each step replaces only what changed, and
 * the tensors whose shape and buffer stay the same from step to step (the new token ids, their
 * positions, use_cache_branch, logits_to_keep) are created once.
 */
class StepFeeds {
  private readonly feeds: Record<string, Tensor> = {};
  private readonly stepIds: Tensor;
  private stepPositions: Tensor | undefined;
  private readonly useCache: Tensor[] = [];

  constructor(
    private readonly backend: Backend,
    private readonly signature: DecoderSignature,
    private readonly batch: number,
    stepIds: BigInt64Array,
  ) {
    this.stepIds = backend.createTensor('int64', stepIds, [batch, 1]);
    if (signature.logitsToKeepInput) {
      this.feeds[signature.logitsToKeepInput] = backend.createTensor('int64', new BigInt64Array([1n]), []);
    }
  }

  /** The feeds of the next run: `promptIds` of `length` tokens, or else the step ids (length 1). */
  prepare(
    cache: KvCache,
    attention: AttentionInputs,
    promptIds: BigInt64Array | undefined,
    length: number,
  ): Record<string, Tensor> {
    const { backend, signature, batch, feeds } = this;
    const past = cache.length;
    const total = past + length;
    feeds.input_ids = promptIds ? backend.createTensor('int64', promptIds, [batch, length]) : this.stepIds;
    cache.addFeedsTo(feeds);
    if (signature.hasAttentionMask) {
      feeds.attention_mask = backend.createTensor('int64', attention.maskFor(total), [batch, total]);
    }
    if (signature.hasPositionIds) {
      if (promptIds) {
        feeds.position_ids = backend.createTensor('int64', attention.prefillPositions(length, past), [
          batch,
          length,
        ]);
      } else {
        // stepPositions() fills the same buffer every step.
        const positions = attention.stepPositions(past);
        this.stepPositions ??= backend.createTensor('int64', positions, [batch, 1]);
        feeds.position_ids = this.stepPositions;
      }
    }
    if (signature.hasUseCacheBranch) {
      const flag = past > 0 ? 1 : 0;
      this.useCache[flag] ??= backend.createTensor('bool', new Uint8Array([flag]), [1]);
      feeds.use_cache_branch = this.useCache[flag];
    }
    return feeds;
  }
}
