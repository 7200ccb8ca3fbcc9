import type { Chat, ChatOptions } from './chat.js';
import type {
  CachedPrefix,
  CachePrefixOptions,
  EncodeOptions,
  GenerateOptions,
  GenerationResult,
  GenerationStream,
  Prompt,
} from './generation.js';
import type { ChatMessage } from './messages.js';
import type { ModelConfig } from './model-config.js';
import type { Sequence } from './sequence.js';

/**
 * A language model, wherever it runs: in this process (`createModel` of @slmkit/node or
 * @slmkit/web), in a Web Worker (`createWorkerModel`), or anything an integrator writes. Code written
 * against this interface (an AI SDK provider, an HTTP server, your tests) works with every one.
 *
 * Calls on one model are queued and run one after another, so it is safe to call it from many
 * places at once; to run several prompts together, pass them as one batch.
 */
export interface LanguageModel {
  /** The model's configuration (config.json and generation_config.json). */
  readonly config: ModelConfig;

  /**
   * Generates a continuation of a prompt (text, chat messages or token ids), or of each prompt of a
   * batch.
   *
   * @example
   * ```ts
   * const { text, usage } = await model.generate([{ role: 'user', content: 'Hi!' }], { maxNewTokens: 32 });
   * ```
   */
  generate(input: Prompt, options?: GenerateOptions): Promise<GenerationResult>;
  /** Generates a continuation of each prompt of a batch, run together; one result per prompt, in order. */
  generate(input: readonly Prompt[], options?: GenerateOptions): Promise<GenerationResult[]>;

  /**
   * Streams the continuation token by token. Chunks of a batch carry their `sequenceIndex`.
   * Invalid input or options throw here, before anything runs.
   *
   * @example
   * ```ts
   * const stream = model.stream('Once upon a time', { maxNewTokens: 64 });
   * for await (const chunk of stream) process.stdout.write(chunk.text);
   * console.log((await stream.result).usage);
   * ```
   */
  stream(input: Prompt, options?: GenerateOptions): GenerationStream<GenerationResult>;
  /**
   * Streams the continuations of a batch: chunks of every prompt, each with its `sequenceIndex`;
   * `result` has one entry per prompt, in order.
   */
  stream(input: readonly Prompt[], options?: GenerateOptions): GenerationStream<GenerationResult[]>;

  /** Renders chat messages with the model's chat template, as the model will see them. */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    templateVariables?: Record<string, unknown>,
  ): Promise<string>;

  /**
   * Token ids of `text`, with the tokenizer's special tokens as a string prompt gets them (unless
   * `options.addSpecialTokens` is false). Throws SlmkitError 'INVALID_INPUT' when `text` is not a
   * string, 'INVALID_OPTION' for options that are not {@link EncodeOptions}.
   */
  encode(text: string, options?: EncodeOptions): Promise<number[]>;

  /**
   * Text of token ids (special tokens left out); `[]` gives `''`. Throws SlmkitError
   * 'INVALID_INPUT' when `ids` is not an array of token ids (integers in [0, vocabSize)).
   */
  decode(ids: readonly number[]): Promise<string>;

  /** How many tokens `prompt` is as `generate` would feed it (messages rendered with the template). */
  countTokens(prompt: Prompt, templateVariables?: Readonly<Record<string, unknown>>): Promise<number>;

  /**
   * Prefills `prompt` once and keeps it, so every later single-prompt call whose tokens start the
   * same way (a user profile, a long system prompt) reuses it instead of computing it; with
   * `persist`, it is also saved to the model's storage and later processes load it from there.
   * Pass the prefix in the form later prompts take (a string, or the same leading messages).
   *
   * @example
   * ```ts
   * await model.cachePrefix([{ role: 'system', content: profile }], { persist: true });
   * await model.generate([{ role: 'system', content: profile }, { role: 'user', content: q }]);
   * ```
   */
  cachePrefix(prompt: Prompt, options?: CachePrefixOptions): Promise<CachedPrefix>;

  /** A new, empty {@link Sequence} of this model. */
  createSequence(): Sequence;

  /**
   * A sequence from `sequence.save()` bytes. Throws SlmkitError 'INVALID_SNAPSHOT' naming the mismatch
   * when the snapshot is of another model, another snapshot version, truncated or corrupt.
   */
  restoreSequence(snapshot: Uint8Array): Promise<Sequence>;

  /** A new {@link Chat} on this model. */
  createChat(options?: ChatOptions): Chat;

  /** A chat from `chat.save()` bytes (its messages and its sequence), checked like {@link LanguageModel.restoreSequence}. */
  restoreChat(snapshot: Uint8Array, options?: Omit<ChatOptions, 'system' | 'messages'>): Promise<Chat>;

  /** Frees the model once running calls finish. Later calls throw SlmkitError 'DISPOSED'. */
  dispose(): Promise<void>;
}
