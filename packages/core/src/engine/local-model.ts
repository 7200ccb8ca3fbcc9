import { ChatSession, restoreChatSession } from '../chat/chat-session.js';
import { type ConstraintFormat, ResponseFormatCompiler } from '../constraints/response-format.js';
import type { TokenMaskStage } from '../constraints/token-mask-stage.js';
import type { ChatTemplate } from '../model/chat-template.js';
import type { DecoderSignature } from '../model/decoder-signature.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { InferenceSession } from '../spec/backend.js';
import type { Chat, ChatOptions } from '../spec/chat.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type {
  CachedPrefix,
  CachePrefixOptions,
  EncodeOptions,
  GenerateOptions,
  GenerationResult,
  GenerationStream,
  Prompt,
} from '../spec/generation.js';
import type { LanguageModel } from '../spec/language-model.js';
import type { ChatMessage } from '../spec/messages.js';
import type { ModelConfig } from '../spec/model-config.js';
import type { Sequence } from '../spec/sequence.js';
import type { ModelStorage } from '../spec/storage.js';
import { type CallTools, ModelToolCalling } from '../tools/tool-calling.js';
import { CallQueue } from './call-queue.js';
import { GenerationRun } from './generation-run.js';
import { type OpenStreams, queuedStream, type StreamedRun } from './generation-stream.js';
import { KvCache } from './kv-cache.js';
import { commonPrefixLength, DEFAULT_PREFIX_CACHE_BYTES, PrefixCache } from './prefix-cache.js';
import {
  checkSequenceOption,
  checkTokenIds,
  encodePrompt,
  isMessageList,
  type PromptEncoder,
  renderMessages,
  withToolVariables,
} from './prompts.js';
import {
  checkCachePrefixOptions,
  checkEncodeOptions,
  type ResolvedGenerateOptions,
  resolveGenerateOptions,
} from './resolve-options.js';
import { SavedPrefixes } from './saved-prefixes.js';
import { LocalSequence, restoreSequence, type SequenceHost } from './sequence.js';

/** The automatic prefix cache: on (optionally with a byte bound), or `false`. */
export type PrefixCacheOption = boolean | { maxBytes?: number };

/** The parts a {@link LocalLanguageModel} is made of; `loadModel` assembles them. */
export interface LocalModelParts {
  readonly session: InferenceSession;
  readonly signature: DecoderSignature;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplate | undefined;
  /** Where the model came from, for messages. */
  readonly location: string;
  readonly prefixCache?: PrefixCacheOption;
  /** The graph's identity, for snapshots. */
  readonly fingerprint: () => Promise<string>;
  /** Where `cachePrefix` with `persist` saves prefixes. */
  readonly stateStorage?: ModelStorage;
}

function prefixCacheBytes(option: PrefixCacheOption | undefined): number {
  // Off: nothing is kept between calls, but prefixes kept on purpose (cachePrefix) are still used.
  if (option === false) return 0;
  const bytes =
    typeof option === 'object' ? (option.maxBytes ?? DEFAULT_PREFIX_CACHE_BYTES) : DEFAULT_PREFIX_CACHE_BYTES;
  if (!(Number.isInteger(bytes) && bytes >= 0)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `prefixCache.maxBytes must be an integer >= 0; got ${showValue(bytes)}.`,
    );
  }
  return bytes;
}

/**
 * A {@link LanguageModel} that runs in this process on a backend's session. `createModel` of
 * @slmkit/node and @slmkit/web return one. Besides the interface it has the tokenizer, synchronously.
 */
export class LocalLanguageModel implements LanguageModel {
  /** The model's configuration (config.json and generation_config.json). */
  readonly config: ModelConfig;
  /** The model's tokenizer (tokenizer.json with tokenizer_config.json). */
  readonly tokenizer: TextTokenizer;
  private readonly queue = new CallQueue();
  private disposing: Promise<void> | undefined;
  private released = false;
  /** Streams holding the model's turn (see {@link LocalLanguageModel.dispose}). */
  private readonly openStreams: OpenStreams = new Set();
  private readonly prefixes: PrefixCache;
  private readonly saved: SavedPrefixes | undefined;
  private readonly live = new Set<LocalSequence>();
  private readonly host: SequenceHost;
  private readonly encoder: PromptEncoder;
  /** Compiles `responseFormat`s; made on the first call that has one. */
  private formats: ResponseFormatCompiler | undefined;

  /** @internal Use `loadModel`, or `createModel` of @slmkit/node or @slmkit/web. */
  constructor(private readonly parts: LocalModelParts) {
    this.config = parts.config;
    this.tokenizer = parts.tokenizer;
    this.prefixes = new PrefixCache(parts.signature, prefixCacheBytes(parts.prefixCache));
    this.encoder = {
      tokenizer: parts.tokenizer,
      chatTemplate: parts.chatTemplate,
      vocabSize: parts.config.vocabSize,
      location: parts.location,
      toolCalling: new ModelToolCalling(parts.chatTemplate?.source, parts.tokenizer, parts.location),
    };
    this.host = {
      signature: parts.signature,
      queue: this.queue,
      fingerprint: parts.fingerprint,
      assertUsable: () => this.assertUsable(),
      track: (sequence, live) => (live ? this.live.add(sequence) : this.live.delete(sequence)),
    };
    this.saved = parts.stateStorage ? new SavedPrefixes(parts.stateStorage, this.host) : undefined;
  }

  /** @internal The automatic prefix cache, for tests and diagnostics. */
  get prefixCache(): PrefixCache {
    return this.prefixes;
  }

  /** Generates a continuation of a prompt (see `LanguageModel.generate`). */
  generate(input: Prompt, options?: GenerateOptions): Promise<GenerationResult>;
  /** Generates a continuation of each prompt of a batch, run together; one result per prompt, in order. */
  generate(input: readonly Prompt[], options?: GenerateOptions): Promise<GenerationResult[]>;
  async generate(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult | GenerationResult[]> {
    const stream = this.stream(input as Prompt, options);
    for await (const _ of stream) {
      // Drain: the result collects the text.
    }
    return stream.result;
  }

  /**
   * Streams the continuation token by token (see `LanguageModel.stream`). Invalid input or options
   * throw here; the run starts once the stream is iterated (or `result` read), after earlier calls.
   */
  stream(input: Prompt, options?: GenerateOptions): GenerationStream<GenerationResult>;
  /** Streams the continuations of a batch; chunks carry their `sequenceIndex`, `result` has one entry per prompt. */
  stream(input: readonly Prompt[], options?: GenerateOptions): GenerationStream<GenerationResult[]>;
  stream(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): GenerationStream<GenerationResult | GenerationResult[]> {
    const startTime = performance.now();
    this.assertUsable();
    let resolved = resolveGenerateOptions(options, this.config);
    const batched = Array.isArray(input) && !isMessageList(input);
    const prompts = batched ? (input as readonly Prompt[]) : [input as Prompt];
    if (prompts.length === 0) throw new SlmkitError('INVALID_INPUT', 'The batch of prompts is empty.');
    const sequence = checkSequenceOption(options.sequence, LocalSequence, this.host, batched);
    const variables = withToolVariables(options.templateVariables, resolved.tools?.tools);
    const tokenized = prompts.map((p) => encodePrompt(this.encoder, p, variables));
    this.checkContext(Math.max(...tokenized.map((p) => p.length)));
    const tools = resolved.tools && this.encoder.toolCalling.forCall(resolved.tools, tokenized.length);
    if (tools) resolved = banTokens(resolved, tools);
    const constraint = resolved.responseFormat ?? tools?.constraint;
    const open = async (): Promise<StreamedRun<GenerationResult | GenerationResult[]>> => {
      if (this.released)
        throw new SlmkitError('DISPOSED', 'The model was disposed before this stream started.');
      sequence?.assertLive();
      const tokenMasks = await this.tokenMasks(constraint, resolved, tokenized.length);
      const { cache, reused, keep } = await this.cacheFor(tokenized, sequence);
      const run = this.newRun(tokenized, resolved, startTime, cache, reused, tokenMasks, tools);
      return {
        chunks: () => run.chunks(),
        result: () => (batched ? run.results() : run.results()[0]),
        close: (failed) => {
          for (const mask of tokenMasks ?? []) mask.dispose();
          keep(run, failed);
        },
      };
    };
    return queuedStream(() => this.queue.acquire(resolved.signal), open, this.openStreams);
  }

  /** Renders chat messages with the model's chat template, as the model will see them. */
  async applyChatTemplate(
    messages: readonly ChatMessage[],
    templateVariables?: Record<string, unknown>,
  ): Promise<string> {
    return this.renderChat(messages, templateVariables);
  }

  /** {@link LocalLanguageModel.applyChatTemplate}, synchronously (an in-process model renders without waiting). */
  renderChat(messages: readonly ChatMessage[], templateVariables?: Record<string, unknown>): string {
    return renderMessages(this.encoder, messages, templateVariables);
  }

  /**
   * Token ids of `text`, with the tokenizer's special tokens as a string prompt gets them (unless
   * `options.addSpecialTokens` is false). SlmkitError 'INVALID_INPUT' when `text` is not a string.
   */
  async encode(text: string, options?: EncodeOptions): Promise<number[]> {
    if (typeof text !== 'string') {
      throw new SlmkitError(
        'INVALID_INPUT',
        `encode takes a string; got ${showValue(text)}. (The tokens of chat messages: countTokens(messages).)`,
      );
    }
    checkEncodeOptions(options);
    return this.tokenizer.encode(text, options);
  }

  /**
   * Text of token ids (special tokens left out); `[]` gives `''`. SlmkitError 'INVALID_INPUT' when
   * `ids` is not an array of token ids in [0, vocabSize).
   */
  async decode(ids: readonly number[]): Promise<string> {
    checkTokenIds(ids, this.config.vocabSize, 'decode(ids): ids');
    // @huggingface/tokenizers refuses an empty list.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  /** How many tokens `prompt` is as `generate` would feed it (messages rendered with the template, `tools` in templateVariables included). */
  async countTokens(prompt: Prompt, templateVariables?: Readonly<Record<string, unknown>>): Promise<number> {
    return encodePrompt(this.encoder, prompt, templateVariables).length;
  }

  /**
   * Prefills `prompt` and pins it in the prefix cache, outside its byte bound, until every handle
   * for it was released (see `LanguageModel.cachePrefix`). With `persist`, the prefix is also saved in the model's
   * state storage, where `cachePrefix` of the same prompt in a later process finds it.
   */
  async cachePrefix(prompt: Prompt, options: CachePrefixOptions = {}): Promise<CachedPrefix> {
    this.assertUsable();
    checkCachePrefixOptions(options);
    const tokenIds = encodePrompt(this.encoder, prompt, options.templateVariables);
    this.checkContext(tokenIds.length);
    const saved = options.persist ? this.saved : undefined;
    if (options.persist && !saved) {
      throw new SlmkitError(
        'INVALID_OPTION',
        'persist needs a storage for saved state: this model was loaded without one (stateStorage).',
      );
    }
    const startTime = performance.now();
    return this.queue.run(async () => {
      if (this.released) throw new SlmkitError('DISPOSED', 'The model was disposed.');
      let source: CachedPrefix['source'] = 'storage';
      const { cache, found } = await this.prefixes.pin(tokenIds, async () => {
        const stored = await saved?.load(tokenIds);
        if (stored) return stored;
        source = 'computed';
        const computed = await this.prefill(tokenIds, options.signal, startTime);
        try {
          await saved?.save(computed, tokenIds);
        } catch (error) {
          computed.release();
          throw error;
        }
        return computed;
      });
      let released = false;
      return {
        tokenCount: tokenIds.length,
        source: found ? 'memory' : source,
        // Each handle drops its own hold once; the prefix goes when the last holder lets go.
        release: () =>
          this.queue.run(async () => {
            if (released) return;
            released = true;
            this.prefixes.unpin(cache);
          }),
      };
    }, options.signal);
  }

  /** A new, empty sequence with its own KV cache (see {@link Sequence}). */
  createSequence(): Sequence {
    this.assertUsable();
    return new LocalSequence(this.host);
  }

  /**
   * A sequence from `sequence.save()` bytes; SlmkitError 'INVALID_SNAPSHOT' naming the mismatch when
   * they are not a snapshot of this model.
   */
  restoreSequence(snapshot: Uint8Array): Promise<Sequence> {
    return restoreSequence(this.host, snapshot);
  }

  /** A new chat (a `ChatSession`) on a new sequence of this model. */
  createChat(options: ChatOptions = {}): Chat {
    const sequence = this.createSequence();
    try {
      return new ChatSession(this, sequence, options);
    } catch (error) {
      void sequence.dispose();
      throw error;
    }
  }

  /** A chat from `chat.save()` bytes: its messages, and its sequence restored on this model. */
  restoreChat(snapshot: Uint8Array, options?: Omit<ChatOptions, 'system' | 'messages'>): Promise<Chat> {
    return restoreChatSession(this, snapshot, options);
  }

  /**
   * Frees the model's session, its sequences and the prefix cache once running calls finish. A
   * stream that holds the model but is no longer read (its caller neither reads it to the end nor
   * leaves the loop) is ended (its result: what it generated, as 'cancelled'), so dispose never
   * waits for a caller that went away. Calling it again returns the same promise.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const stream of this.openStreams) void stream.return(undefined).catch(() => {});
      await this.queue.drain();
      this.released = true;
      this.prefixes.clear();
      for (const sequence of this.live) sequence.releaseNow();
      this.live.clear();
      await this.formats?.dispose();
      await this.parts.session.release();
    })();
    return this.disposing;
  }

  /**
   * The cache a call runs on, how many prompt tokens it already holds, and what happens to it
   * afterwards: a sequence keeps it (whatever happened, it holds consistent tokens), a single prompt
   * gives it to the prefix cache, a batch frees it.
   */
  private async cacheFor(
    prompts: readonly (readonly number[])[],
    sequence: LocalSequence | undefined,
  ): Promise<{ cache: KvCache; reused: number; keep: (run: GenerationRun, failed: boolean) => void }> {
    if (sequence) {
      const prompt = prompts[0];
      const reused = Math.min(commonPrefixLength(sequence.tokenIds, prompt), prompt.length - 1);
      // Divergence found by comparing tokens: cut the sequence back to what the prompt shares.
      if (reused < sequence.tokenIds.length) {
        await sequence.cache.truncate(reused);
        sequence.setTokens(sequence.tokenIds.slice(0, reused));
      }
      return { cache: sequence.cache, reused, keep: (run) => sequence.setTokens(run.heldTokenIds()) };
    }
    if (prompts.length === 1) {
      const prefixes = this.prefixes;
      const { cache, reused } = await prefixes.acquire(prompts[0]);
      const keep = (run: GenerationRun, failed: boolean) => {
        if (failed) cache.release();
        else prefixes.keep(cache, run.heldTokenIds());
      };
      return { cache, reused, keep };
    }
    const cache = new KvCache(this.parts.signature, prompts.length);
    return { cache, reused: 0, keep: () => cache.release() };
  }

  /**
   * The token mask of each sequence for the call's responseFormat or required tool call (compiled
   * on first use), or undefined.
   */
  private async tokenMasks(
    format: ConstraintFormat | undefined,
    options: ResolvedGenerateOptions,
    count: number,
  ): Promise<TokenMaskStage[] | undefined> {
    if (!format) return undefined;
    this.formats ??= new ResponseFormatCompiler(this.parts.tokenizer, this.config.vocabSize);
    return this.formats.masks(format, count, [...options.eosTokenIds]);
  }

  private newRun(
    prompts: readonly (readonly number[])[],
    options: ResolvedGenerateOptions,
    startTime: number,
    cache: KvCache,
    reusedTokens: number,
    tokenMasks?: readonly TokenMaskStage[],
    tools?: CallTools,
  ): GenerationRun {
    const { session, signature, tokenizer, config } = this.parts;
    return new GenerationRun({
      session,
      signature,
      tokenizer,
      contextLength: config.contextLength,
      vocabSize: config.vocabSize,
      padTokenId: config.padTokenId ?? config.eosTokenIds[0] ?? 0,
      prompts,
      options,
      startTime,
      cache,
      reusedTokens,
      tokenMasks,
      tools,
    });
  }

  /** A cache holding all of `tokenIds` (a run that stops after choosing one token it never feeds). */
  private async prefill(
    tokenIds: readonly number[],
    signal: AbortSignal | undefined,
    startTime: number,
  ): Promise<KvCache> {
    const cache = new KvCache(this.parts.signature, 1);
    const options = resolveGenerateOptions({ maxNewTokens: 1, temperature: 0, signal }, this.config);
    const run = this.newRun([tokenIds], options, startTime, cache, 0);
    try {
      for await (const _ of run.chunks()) {
        // The one chosen token is not kept.
      }
    } catch (error) {
      cache.release();
      throw error;
    }
    return cache;
  }

  private checkContext(promptTokens: number): void {
    if (promptTokens >= this.config.contextLength) {
      throw new SlmkitError(
        'CONTEXT_OVERFLOW',
        `The prompt has ${promptTokens} tokens but the model's context window is ${this.config.contextLength}: shorten the prompt (at least one position must be left for the answer).`,
      );
    }
  }

  private assertUsable(): void {
    if (this.disposing)
      throw new SlmkitError('DISPOSED', 'This model was disposed; create a new one with createModel().');
  }
}

/** `options` with the tokens a call's tools ban (toolChoice 'none') biased to -Infinity. */
function banTokens(options: ResolvedGenerateOptions, tools: CallTools): ResolvedGenerateOptions {
  if (tools.bannedTokenIds.length === 0) return options;
  const logitBias: Record<number, number> = { ...options.logitBias };
  for (const id of tools.bannedTokenIds) logitBias[id] = Number.NEGATIVE_INFINITY;
  return { ...options, logitBias };
}
