import type { TokenMaskStage } from '../constraints/token-mask-stage.js';
import { LogitsPipeline } from '../logits/pipeline.js';
import { createRng, randomSeed } from '../logits/rng.js';
import { TokenSampler } from '../logits/sampler.js';
import type { DecoderSignature } from '../model/decoder-signature.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { HostTensor, InferenceSession, SessionValue } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { FinishReason, GenerationResult, StreamChunk, TokenLogprob } from '../spec/generation.js';
import type { ToolCall, ToolCallError } from '../spec/tools.js';
import { IncrementalDetokenizer } from '../text/detokenizer.js';
import { StopStringMatcher } from '../text/stop-strings.js';
import type { ToolCallDelta, ToolCallParser } from '../tools/tool-call-parser.js';
import type { RunTools } from '../tools/tool-calling.js';
import { AttentionInputs } from './attention-inputs.js';
import { float16ToFloat32 } from './float16.js';
import type { KvCache } from './kv-cache.js';
import type { ResolvedGenerateOptions } from './resolve-options.js';
import { StepFeeds } from './step-feeds.js';

/** Everything one generation needs: the loaded model, one call's prompts and options, and its cache. */
export interface GenerationRequest {
  readonly session: InferenceSession;
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
  /**
   * The cache to run on, one row per prompt. For a single prompt it may already hold the first
   * `reusedTokens` tokens of the prompt (from a sequence or the prefix cache); the run extends it.
   * The caller owns it: it is neither released nor kept by the run.
   */
  readonly cache: KvCache;
  readonly reusedTokens: number;
  /** The token mask of each sequence, when the call has a `responseFormat` (or a required tool call). */
  readonly tokenMasks?: readonly TokenMaskStage[];
  /** When the call has tools. */
  readonly tools?: RunTools;
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
  readonly pipeline: LogitsPipeline;
  readonly sampler: TokenSampler;
  /** The responseFormat's mask of this sequence (also the first stage of `pipeline`), if any. */
  readonly tokenMask: TokenMaskStage | undefined;
  /** With a responseFormat: the output so far is complete (the format may end after it). */
  formatComplete = false;
  /** With tools: this sequence's parser (undefined with toolChoice 'none'). */
  readonly toolParser: ToolCallParser | undefined;
  readonly toolCalls: ToolCall[] = [];
  readonly toolCallErrors: ToolCallError[] = [];
  /** Calls completed since the last chunk. */
  newToolCalls: ToolCall[] = [];
  /** With `logprobs`: one per token. */
  readonly logprobs: TokenLogprob[] = [];

  constructor(
    readonly index: number,
    readonly promptTokenIds: readonly number[],
    request: GenerationRequest,
    seed: number,
  ) {
    const { options, tokenizer, vocabSize } = request;
    this.detokenizer = new IncrementalDetokenizer(tokenizer);
    this.stopMatcher = new StopStringMatcher(options.stop);
    const context = { sequenceIndex: index, promptTokenIds, generatedTokenIds: this.tokenIds };
    this.tokenMask = request.tokenMasks?.[index];
    this.toolParser = request.tools?.parsers?.[index];
    this.pipeline = new LogitsPipeline({ ...options, tokenMask: this.tokenMask }, context, vocabSize);
    // Every sequence gets the same seed, so a prompt samples the same tokens alone or in a batch.
    this.sampler = new TokenSampler(options.sampling, createRng(seed));
  }
}

/**
 * Runs one generation over a decoder session: prefill of the (left-padded) prompts minus what the
 * cache already holds, then one run per token, until every sequence has stopped. Iterate `chunks()`
 * once; `results()` reports the sequences at any point (unfinished ones as 'cancelled').
 */
export class GenerationRun {
  private readonly sequences: SequenceState[];
  private readonly padding: number[];
  private readonly promptLength: number;
  private endTime = 0;

  constructor(private readonly request: GenerationRequest) {
    const seed = request.options.seed ?? randomSeed();
    this.sequences = request.prompts.map((ids, i) => new SequenceState(i, ids, request, seed));
    this.promptLength = Math.max(...request.prompts.map((p) => p.length));
    // The caller has checked that the prompts leave room in the context window.
    this.padding = request.prompts.map((p) => this.promptLength - p.length);
  }

  /** Token ids whose keys and values the cache holds now: the prompt, then every generated token but the last. */
  heldTokenIds(): number[] {
    const { prompts, cache } = this.request;
    return [...prompts[0], ...this.sequences[0].tokenIds].slice(0, cache.length);
  }

  async *chunks(): AsyncGenerator<StreamChunk, void, undefined> {
    const { options, signature, cache, reusedTokens } = this.request;
    try {
      if (options.maxNewTokens === 0) {
        for (const s of this.sequences) s.finishReason = 'length';
        return;
      }
      const batch = this.sequences.length;
      const maxTotal = Math.min(this.promptLength + options.maxNewTokens, this.request.contextLength);
      const attention = new AttentionInputs(this.padding, maxTotal);
      const stepIds = new BigInt64Array(batch);
      const feeds = new StepFeeds(signature, batch, stepIds);
      let logitsScratch: Float32Array | undefined;
      this.checkAbort();
      let outputs = await this.runStep(
        feeds,
        attention,
        this.promptIds(reusedTokens),
        this.promptLength - reusedTokens,
      );
      for (;;) {
        const logits = outputs.logits as HostTensor;
        const [, steps, width] = logits.dims;
        // A graph padded past vocab_size has logits for ids no tokenizer makes: they are left out of
        // the row, so no stage or sampler ever sees (or chooses) them.
        const vocab = Math.min(width, this.request.vocabSize);
        for (const s of this.sequences) {
          if (s.finishReason) continue;
          const offset = (s.index * steps + steps - 1) * width;
          let row: Float32Array;
          if (logits.type === 'float16') {
            logitsScratch ??= new Float32Array(vocab);
            float16ToFloat32((logits.data as Uint16Array).subarray(offset, offset + vocab), logitsScratch);
            row = logitsScratch;
          } else {
            row = (logits.data as Float32Array).subarray(offset, offset + vocab);
          }
          // The mask of a responseFormat is computed asynchronously, after the previous token.
          if (s.tokenMask) await s.tokenMask.ready();
          const chunk = this.chooseToken(s, row, cache.length + 1 >= this.request.contextLength);
          if (s.tokenMask) await this.followFormat(s, s.tokenMask, chunk);
          stepIds[s.index] = BigInt(chunk.tokenId);
          yield chunk;
        }
        if (this.sequences.every((s) => s.finishReason)) break;
        this.checkAbort();
        outputs = await this.runStep(feeds, attention, undefined, 1);
      }
    } finally {
      // Also reached when the caller stops iterating in the middle of a step.
      this.endTime = performance.now();
    }
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
        finishReason: this.finishReason(s),
        ...this.parsedObject(s),
        ...this.toolResults(s),
        ...(this.request.options.logprobs === undefined ? {} : { logprobs: [...s.logprobs] }),
        usage: {
          promptTokens: s.promptTokenIds.length,
          cachedPromptTokens: this.request.reusedTokens,
          completionTokens: completion,
          timeToFirstTokenMs: completion > 0 ? s.firstTokenTime - this.request.startTime : 0,
          decodeTokensPerSecond: completion > 1 && decodeSeconds > 0 ? (completion - 1) / decodeSeconds : 0,
          totalMs: end - this.request.startTime,
        },
      };
    });
  }

  /**
   * After `s` chose a token under a responseFormat: records whether its output is complete, and
   * ends it ('stop') once nothing but the end can follow, instead of running the model for it.
   */
  private async followFormat(s: SequenceState, mask: TokenMaskStage, chunk: StreamChunk): Promise<void> {
    // The mask allows an end-of-sequence token only where the format can end.
    if (s.finishReason === 'eos') {
      s.formatComplete = true;
      return;
    }
    await mask.ready();
    s.formatComplete = mask.complete;
    // Still going on, or already cut by a stop string.
    if (!mask.ended || s.finishReason === 'stop') return;
    if (s.finishReason === 'length') {
      s.finishReason = 'stop';
      return;
    }
    const text = this.finish(s, 'stop');
    s.text += text;
    chunk.text += text;
    // A required tool call completes when the format ends.
    const { toolCalls } = this.takeToolCalls(s);
    if (toolCalls) chunk.toolCalls = [...(chunk.toolCalls ?? []), ...toolCalls];
  }

  /** Why `s` ended: 'tool-calls' when it ended on its own after making a call. */
  private finishReason(s: SequenceState): FinishReason {
    const reason = s.finishReason ?? 'cancelled';
    return s.toolCalls.length > 0 && (reason === 'eos' || reason === 'stop') ? 'tool-calls' : reason;
  }

  /** `{ toolCalls, toolCallErrors? }` for a call with tools, else nothing. */
  private toolResults(s: SequenceState): Pick<GenerationResult, 'toolCalls' | 'toolCallErrors'> {
    if (!this.request.tools) return {};
    return {
      toolCalls: [...s.toolCalls],
      ...(s.toolCallErrors.length > 0 ? { toolCallErrors: [...s.toolCallErrors] } : {}),
    };
  }

  /** The free text of a parser's `delta`; its calls and errors are recorded on `s`. */
  private freeText(s: SequenceState, delta: ToolCallDelta): string {
    s.toolCalls.push(...delta.calls);
    s.newToolCalls.push(...delta.calls);
    s.toolCallErrors.push(...delta.errors);
    return delta.text;
  }

  /**
   * The text `tokenId` adds to the output as the tool parser (if any) sees it: a marker token's own
   * text, which decoding would leave out as a special token.
   */
  private decodeToken(s: SequenceState, tokenId: number): string {
    const marker = this.request.tools?.markers.get(tokenId);
    if (marker === undefined) return s.detokenizer.push(tokenId);
    // Text held back before the marker comes first; the marker decodes to '' in the window.
    const before = s.detokenizer.flush();
    s.detokenizer.push(tokenId);
    return before + marker;
  }

  /**
   * `{ object }` for a JSON responseFormat whose output is a complete value (the grammar can end
   * there and a stop string did not cut it), else nothing.
   */
  private parsedObject(s: SequenceState): { object?: unknown } {
    const type = this.request.options.responseFormat?.type;
    if (type !== 'json' && type !== 'json_schema') return {};
    if (s.finishReason !== 'stop' && s.finishReason !== 'eos') return {};
    if (!s.formatComplete) return {};
    try {
      return { object: JSON.parse(s.text) };
    } catch {
      return {};
    }
  }

  /** The padded prompts from position `from` on, [batch, promptLength - from]. */
  private promptIds(from: number): BigInt64Array {
    const length = this.promptLength - from;
    const ids = new BigInt64Array(this.sequences.length * length);
    this.padding.forEach((pad, b) => {
      const prompt = this.request.prompts[b];
      for (let j = 0; j < length; j++) {
        const k = from + j;
        ids[b * length + j] = BigInt(k < pad ? this.request.padTokenId : prompt[k - pad]);
      }
    });
    return ids;
  }

  /** Processes the logits of one sequence, picks its next token and applies the stop rules. */
  private chooseToken(s: SequenceState, logits: Float32Array, contextFull: boolean): StreamChunk {
    const { options } = this.request;
    s.pipeline.process(logits);
    const tokenId = s.sampler.sample(logits);
    const logprob =
      options.logprobs === undefined ? undefined : this.logprobOf(s, tokenId, logits, options.logprobs);
    const now = performance.now();
    if (s.tokenIds.length === 0) s.firstTokenTime = now;
    s.lastTokenTime = now;
    s.tokenIds.push(tokenId);
    s.pipeline.accept(tokenId);

    let text: string;
    if (options.eosTokenIds.has(tokenId)) {
      text = this.finish(s, 'eos');
    } else {
      const piece = this.decodeToken(s, tokenId);
      const pushed = s.stopMatcher.push(s.toolParser ? this.freeText(s, s.toolParser.push(piece)) : piece);
      text = pushed.text;
      if (pushed.stopped) s.finishReason = 'stop';
      else if (s.tokenIds.length >= options.maxNewTokens || contextFull) text += this.finish(s, 'length');
    }
    s.text += text;
    return {
      text,
      tokenId,
      sequenceIndex: s.index,
      ...this.takeToolCalls(s),
      ...(logprob ? { logprob } : {}),
    };
  }

  /** The log-probability of the token `s` just sampled from `logits`, with `top` alternatives (recorded on `s`). */
  private logprobOf(s: SequenceState, tokenId: number, logits: Float32Array, top: number): TokenLogprob {
    const { tokenizer } = this.request;
    const text = (id: number) => tokenizer.decode([id], { skipSpecialTokens: false });
    const values = s.sampler.logprobs(tokenId, logits, top);
    const entry: TokenLogprob = {
      tokenId,
      token: text(tokenId),
      logprob: values.logprob,
      topLogprobs: values.top.map(([id, logprob]) => ({ tokenId: id, token: text(id), logprob })),
    };
    s.logprobs.push(entry);
    return entry;
  }

  /** `{ toolCalls }` completed since the last chunk of `s`, if any. */
  private takeToolCalls(s: SequenceState): { toolCalls?: ToolCall[] } {
    if (s.newToolCalls.length === 0) return {};
    const toolCalls = s.newToolCalls;
    s.newToolCalls = [];
    return { toolCalls };
  }

  /**
   * Ends a sequence for `reason` and returns the text still held back; a stop string completed by
   * that text still wins (finishReason 'stop', cut at the stop string).
   */
  private finish(s: SequenceState, reason: FinishReason): string {
    let rest = s.detokenizer.flush();
    if (s.toolParser) rest = this.freeText(s, s.toolParser.push(rest)) + this.freeText(s, s.toolParser.end());
    const tail = s.stopMatcher.push(rest);
    s.finishReason = tail.stopped ? 'stop' : reason;
    return tail.stopped ? tail.text : tail.text + s.stopMatcher.flush();
  }

  /** One run of the graph: the prompt (`promptIds`) or, without them, the tokens in the step ids. */
  private async runStep(
    feeds: StepFeeds,
    attention: AttentionInputs,
    promptIds: BigInt64Array | undefined,
    length: number,
  ): Promise<Record<string, SessionValue>> {
    const { session, cache, signature } = this.request;
    const total = cache.length + length;
    let outputs: Record<string, SessionValue>;
    try {
      outputs = await session.run(feeds.prepare(cache, attention, promptIds, length), {
        residentOutputs: signature.presentNames,
      });
    } catch (cause) {
      if (cause instanceof SlmkitError) throw cause;
      throw new SlmkitError('RUNTIME_ERROR', `The model failed to run: ${(cause as Error).message}`, {
        cause,
      });
    }
    cache.update(outputs, total, session);
    return outputs;
  }

  private checkAbort(): void {
    const signal = this.request.options.signal;
    if (signal?.aborted) {
      throw new SlmkitError('ABORTED', 'Generation was aborted.', { cause: signal.reason });
    }
  }
}
