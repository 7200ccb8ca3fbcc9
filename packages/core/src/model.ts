import type { Backend, InferenceSession } from './backend.js';
import { CallQueue } from './call-queue.js';
import type { ChatMessage, ChatTemplate } from './chat-template.js';
import type { ModelConfig } from './config.js';
import type { DecoderSignature } from './decoder-io.js';
import { SlmkitError } from './errors.js';
import type { GenerationResult, GenerationStream, StreamChunk } from './generation-types.js';
import { GenerationRun, type PrefixCacheEntry, type PrefixStore } from './generator.js';
import {
  type GenerateOptions,
  type Prompt,
  resolveGenerateOptions,
  type TokenizedPrompt,
} from './options.js';
import type { TextTokenizer } from './tokenizer.js';

/** The parts a {@link LanguageModel} is made of; {@link createModel} assembles them. */
export interface LanguageModelParts {
  readonly backend: Backend;
  readonly session: InferenceSession;
  readonly signature: DecoderSignature;
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplate | undefined;
  /** Where the model came from, for messages. */
  readonly location: string;
  /** Keep the KV cache of the last single-prompt call for the next one to reuse (default true). */
  readonly prefixCache?: boolean;
}

function isMessageList(input: unknown): input is readonly ChatMessage[] {
  return (
    Array.isArray(input) &&
    input.length > 0 &&
    input.every((m) => typeof m === 'object' && m !== null && 'role' in m && !('inputIds' in m))
  );
}

function isTokenized(input: unknown): input is TokenizedPrompt {
  return typeof input === 'object' && input !== null && !Array.isArray(input) && 'inputIds' in input;
}

/**
 * A loaded language model. Calls on one model are queued and run one after another (they share one
 * ONNX session), so it is safe to call generate() or stream() from many places at once; to run
 * several prompts together, pass them as one batch.
 */
export class LanguageModel {
  readonly config: ModelConfig;
  readonly tokenizer: TextTokenizer;
  private readonly queue = new CallQueue();
  private disposed = false;
  private released = false;
  /** The KV cache of the last single-prompt call, while no call is running. */
  private kept: PrefixCacheEntry | undefined;
  private readonly prefixStore: PrefixStore | undefined;

  constructor(private readonly parts: LanguageModelParts) {
    this.config = parts.config;
    this.tokenizer = parts.tokenizer;
    this.prefixStore =
      parts.prefixCache === false
        ? undefined
        : {
            take: () => {
              const entry = this.kept;
              this.kept = undefined;
              return entry;
            },
            keep: (entry) => {
              this.kept?.cache.release();
              this.kept = entry;
            },
          };
  }

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
  stream(input: readonly Prompt[], options?: GenerateOptions): GenerationStream<GenerationResult[]>;
  stream(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): GenerationStream<GenerationResult | GenerationResult[]> {
    const startTime = performance.now();
    this.assertUsable();
    const resolved = resolveGenerateOptions(options, this.config);
    const batched = Array.isArray(input) && !isMessageList(input);
    const prompts = batched ? (input as readonly Prompt[]) : [input as Prompt];
    if (prompts.length === 0) throw new SlmkitError('INVALID_INPUT', 'The batch of prompts is empty.');
    const tokenized = prompts.map((p) => this.encodePrompt(p, options.templateVariables));
    const { backend, session, signature, config, tokenizer } = this.parts;
    const run = new GenerationRun({
      backend,
      session,
      signature,
      tokenizer,
      contextLength: config.contextLength,
      vocabSize: config.vocabSize,
      padTokenId: config.padTokenId ?? config.eosTokenIds[0] ?? 0,
      prompts: tokenized,
      options: resolved,
      startTime,
      prefixStore: this.prefixStore,
    });
    return this.startStream(run, batched);
  }

  /** Renders chat messages with the model's chat template (as the model will see them). */
  applyChatTemplate(messages: readonly ChatMessage[], templateVariables?: Record<string, unknown>): string {
    const template = this.parts.chatTemplate;
    if (!template) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `The model at ${this.parts.location} has no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja): pass a plain string or token ids instead of messages.`,
      );
    }
    return template.render(messages, templateVariables);
  }

  /** Frees the model's session once running calls finish. Later calls throw SlmkitError 'DISPOSED'. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.drain();
    this.released = true;
    this.kept?.cache.release();
    this.kept = undefined;
    await this.parts.session.release();
  }

  private startStream(
    run: GenerationRun,
    batched: boolean,
  ): GenerationStream<GenerationResult | GenerationResult[]> {
    let resolveResult!: (r: GenerationResult | GenerationResult[]) => void;
    let rejectResult!: (e: unknown) => void;
    const result = new Promise<GenerationResult | GenerationResult[]>((resolve, reject) => {
      resolveResult = resolve;
      rejectResult = reject;
    });
    // Callers who only iterate must not see an unhandled rejection from the result they never read.
    result.catch(() => {});
    let started = false;
    const queue = this.queue;
    const isReleased = () => this.released;
    const chunks = async function* (): AsyncGenerator<StreamChunk> {
      const release = await queue.acquire();
      try {
        if (isReleased())
          throw new SlmkitError('DISPOSED', 'The model was disposed before this stream started.');
        yield* run.chunks();
      } catch (error) {
        rejectResult(error);
        throw error;
      } finally {
        // Also reached when the caller breaks out of the loop: what was generated so far, as 'cancelled'.
        // After a rejection this resolve does nothing.
        const results = run.results();
        resolveResult(batched ? results : results[0]);
        release();
      }
    };
    const iterate = () => {
      if (started) throw new SlmkitError('INVALID_INPUT', 'A generation stream can be iterated only once.');
      started = true;
      return chunks();
    };
    return {
      [Symbol.asyncIterator]: iterate,
      get result() {
        if (!started) {
          void (async () => {
            for await (const _ of iterate()) {
              // Consumed for the result.
            }
          })().catch(() => {});
        }
        return result;
      },
    };
  }

  private encodePrompt(prompt: Prompt, templateVariables: Record<string, unknown> | undefined): number[] {
    if (typeof prompt === 'string') return this.tokenizer.encode(prompt);
    if (isMessageList(prompt)) {
      return this.tokenizer.encode(this.applyChatTemplate(prompt, templateVariables), {
        addSpecialTokens: false,
      });
    }
    if (isTokenized(prompt)) {
      const ids = prompt.inputIds;
      if (!Array.isArray(ids) || ids.length === 0) {
        throw new SlmkitError('INVALID_INPUT', 'inputIds must be a non-empty array of token ids.');
      }
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new SlmkitError(
            'INVALID_INPUT',
            `inputIds holds ${id}, which is not a token id in [0, ${this.config.vocabSize}).`,
          );
        }
      }
      return [...ids];
    }
    throw new SlmkitError(
      'INVALID_INPUT',
      'A prompt must be a string, an array of { role, content } messages, or { inputIds: number[] }.',
    );
  }

  private assertUsable(): void {
    if (this.disposed)
      throw new SlmkitError('DISPOSED', 'This model was disposed; create a new one with createModel().');
  }
}
