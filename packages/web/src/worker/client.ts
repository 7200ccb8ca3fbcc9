import {
  type CachedPrefix,
  type CachePrefixOptions,
  type Chat,
  type ChatMessage,
  type ChatOptions,
  ChatSession,
  type EncodeOptions,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStream,
  type LanguageModel,
  type LoadProgress,
  type ModelConfig,
  type Prompt,
  restoreChatSession,
  type Sequence,
  SlmkitError,
  type StreamChunk,
} from '@slmkit/core';
import {
  checkCachePrefixOptions,
  checkEncodeOptions,
  checkSequenceOption,
  isMessageList,
  queuedStream,
  resolveGenerateOptions,
} from '@slmkit/core/backend';
import type { WebRuntimeInfo } from '../backend.js';
import { resolveRelativeUrl } from '../create-model.js';
import type { PickedFiles } from '../local-files.js';
import { Connection, type WorkerLike } from './connection.js';
import type { LoadedInfo, PrefixInfo, WorkerLoadOptions } from './protocol.js';
import { type SequenceHost, WorkerSequence } from './worker-sequence.js';

export type { WorkerLike } from './connection.js';

/** Options of {@link createWorkerModel}. */
export interface WorkerModelOptions extends WorkerLoadOptions {
  /** Download and load progress, forwarded from the worker. */
  onProgress?: (progress: LoadProgress) => void;
  /** Warnings from the worker's backend, e.g. a WebGPU fallback (default `console.warn`). */
  onWarning?: (message: string) => void;
  /** Aborts the load (SlmkitError `ABORTED`). */
  signal?: AbortSignal;
}

/**
 * A `LanguageModel` running inside a dedicated Worker, driven from the page: the whole
 * interface, with the behaviour of the in-process model. The worker's backend does the work, so the
 * page's main thread stays free.
 *
 * - `stream`: chunks cross the boundary as they are generated (`generate` is posted its result only); `signal` is forwarded;
 *   breaking out of the loop stops the worker and `result` resolves with finishReason 'cancelled'.
 *   Invalid options throw at once, before anything is posted. `logitsProcessors` are refused with
 *   SlmkitError 'INVALID_OPTION' (functions cannot be sent to a worker).
 * - Sequences live in the worker, with their KV cache; the page holds a proxy whose `tokenIds` is
 *   updated by every call that changes it (a stream with `{ sequence }` once it ends, however it
 *   ends; `truncate`; restore). `save()` moves the snapshot bytes to the page.
 * - `createChat` / `restoreChat` are core's `ChatSession` over this model: the conversation is
 *   kept on the page, its sequence in the worker.
 * - `cachePrefix` prefills in the worker; with `persist`, the prefix is saved in the worker's storage
 *   (the Cache API or OPFS of the origin) and a later page load finds it there.
 *
 * Errors arrive as `SlmkitError` with their original code.
 */
export class WorkerLanguageModel implements LanguageModel {
  private disposed = false;
  private nextSequenceId = 1;
  private readonly live = new Map<number, WorkerSequence>();
  private readonly host: SequenceHost;

  /** @internal Use {@link createWorkerModel}. */
  constructor(
    private readonly connection: Connection,
    /** The model's configuration (config.json and generation_config.json). */
    readonly config: ModelConfig,
    /** Execution provider and threads the worker's runtime uses. */
    readonly runtime: WebRuntimeInfo,
  ) {
    this.host = {
      connection,
      live: this.live,
      nextId: () => this.nextSequenceId++,
      assertUsable: () => this.assertUsable(),
    };
    connection.onSequences = (states) => {
      for (const state of states) this.live.get(state.id)?.update(state.tokenIds);
    };
  }

  /** Generates a continuation (see `LanguageModel.generate`), in the worker. */
  generate(input: Prompt, options?: GenerateOptions): Promise<GenerationResult>;
  /** Generates a continuation of each prompt of a batch, in the worker; one result per prompt, in order. */
  generate(input: readonly Prompt[], options?: GenerateOptions): Promise<GenerationResult[]>;
  async generate(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult | GenerationResult[]> {
    const { message, call } = this.generationRequest(input, options);
    return this.connection.call<GenerationResult | GenerationResult[]>({ ...message, chunks: false }, call)
      .promise;
  }

  /**
   * Streams the continuation token by token from the worker (see `LanguageModel.stream`). Breaking out
   * of the loop stops generation in the worker; `result` then resolves with finishReason 'cancelled'.
   * The loop ends (and `result` settles) once the worker has replied, also after a break: a sequence
   * given in `options.sequence` then holds the token ids the worker reported. An abort rejects at
   * once, but on a sequence only after the worker has reported its token ids.
   */
  stream(input: Prompt, options?: GenerateOptions): GenerationStream<GenerationResult>;
  /** Streams the continuations of a batch from the worker; chunks carry their `sequenceIndex`. */
  stream(input: readonly Prompt[], options?: GenerateOptions): GenerationStream<GenerationResult[]>;
  stream(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): GenerationStream<GenerationResult | GenerationResult[]> {
    const { message, call } = this.generationRequest(input, options);
    const connection = this.connection;
    // Core's stream over a run; the turn to wait for is the worker's (its model queues the calls).
    return queuedStream(
      async () => () => {},
      async () => {
        const arrived: StreamChunk[] = [];
        let read = 0;
        let outcome: { error?: unknown } | undefined;
        let wake: (() => void) | undefined;
        const { id, promise } = connection.call<GenerationResult | GenerationResult[]>(
          { ...message, chunks: true },
          {
            ...call,
            onEvent: (reply) => {
              if (reply.kind !== 'chunk') return;
              arrived.push(reply.chunk);
              wake?.();
            },
          },
        );
        promise.then(
          () => {
            outcome = {};
            wake?.();
          },
          (error) => {
            outcome = { error };
            wake?.();
          },
        );
        return {
          async *chunks() {
            for (;;) {
              if (read < arrived.length) {
                const chunk = arrived[read];
                arrived[read++] = undefined as never;
                yield chunk;
              } else if (outcome) {
                if ('error' in outcome) throw outcome.error;
                return;
              } else {
                await new Promise<void>((resolve) => {
                  wake = resolve;
                });
                wake = undefined;
              }
            }
          },
          // Left the loop early: the worker stops and replies with what it generated, as 'cancelled'.
          close() {
            if (!outcome) connection.send({ id, kind: 'cancel' });
          },
          result: () => promise,
        };
      },
    );
  }

  /**
   * The request of a generate or stream call, checked as `LanguageModel.stream` checks it: invalid
   * options throw here, before anything is posted.
   */
  private generationRequest(input: Prompt | readonly Prompt[], options: GenerateOptions) {
    this.assertUsable();
    resolveGenerateOptions(options, this.config);
    const { signal, logitsProcessors, sequence: given, ...posted } = options;
    if (logitsProcessors && logitsProcessors.length > 0) {
      throw new SlmkitError(
        'INVALID_OPTION',
        'logitsProcessors are functions and cannot be sent to a worker: run the model on the page (createModel) to use them.',
      );
    }
    const batched = Array.isArray(input) && !isMessageList(input);
    if (batched && (input as readonly Prompt[]).length === 0)
      throw new SlmkitError('INVALID_INPUT', 'The batch of prompts is empty.');
    const sequence = checkSequenceOption(given, WorkerSequence, this.host, batched);
    return {
      message: { kind: 'stream' as const, input, options: posted, sequence: sequence?.id },
      // A sequence's call is over when the worker reports its tokens, also after an abort.
      call: { signal, settleInWorker: sequence !== undefined },
    };
  }

  /** Renders chat messages with the model's chat template, in the worker. */
  async applyChatTemplate(
    messages: readonly ChatMessage[],
    templateVariables?: Record<string, unknown>,
  ): Promise<string> {
    this.assertUsable();
    return this.connection.call<string>({ kind: 'applyChatTemplate', messages, templateVariables }).promise;
  }

  /** Token ids of `text` (with the tokenizer's special tokens unless `addSpecialTokens` is false), in the worker. */
  async encode(text: string, options?: EncodeOptions): Promise<number[]> {
    this.assertUsable();
    checkEncodeOptions(options);
    const addSpecialTokens = options?.addSpecialTokens;
    return this.connection.call<number[]>({ kind: 'encode', text, addSpecialTokens }).promise;
  }

  /** Text of token ids, special tokens left out, in the worker. */
  async decode(ids: readonly number[]): Promise<string> {
    this.assertUsable();
    return this.connection.call<string>({ kind: 'decode', ids: [...ids] }).promise;
  }

  /** How many tokens `prompt` is as `generate` would feed it, counted in the worker. */
  async countTokens(prompt: Prompt, templateVariables?: Readonly<Record<string, unknown>>): Promise<number> {
    this.assertUsable();
    return this.connection.call<number>({ kind: 'countTokens', prompt, templateVariables }).promise;
  }

  /**
   * Prefills `prompt` in the worker and keeps it there (see `LanguageModel.cachePrefix`). With
   * `persist`, it is saved in the worker's storage (the Cache API or OPFS of the page's origin), so a
   * worker of a later page load gets it with `source: 'storage'`. `release()` releases it in the worker.
   */
  async cachePrefix(prompt: Prompt, options: CachePrefixOptions = {}): Promise<CachedPrefix> {
    this.assertUsable();
    // As the in-process model checks them (a signal that is not one would fail in the worker call).
    checkCachePrefixOptions(options);
    const { signal, ...posted } = options;
    const connection = this.connection;
    // Settled by the worker after an abort: a prefix it finished anyway is returned, not leaked.
    const { id, promise } = connection.call<PrefixInfo>(
      { kind: 'cachePrefix', prompt, options: posted },
      { signal, settleInWorker: true },
    );
    const { tokenCount, source } = await promise;
    let released = false;
    return {
      tokenCount,
      source,
      async release() {
        if (released) return;
        released = true;
        await connection.call<void>({ kind: 'releasePrefix', prefix: id }).promise;
      },
    };
  }

  /** A new, empty sequence in the worker; the page holds its proxy (see `LanguageModel.createSequence`). */
  createSequence(): Sequence {
    this.assertUsable();
    const sequence = new WorkerSequence(this.host, this.host.nextId());
    // No reply is awaited: the worker creates it on arrival, before any later message uses it.
    this.connection.call<void>({ kind: 'createSequence', sequence: sequence.id }).promise.catch(() => {});
    return sequence;
  }

  /**
   * A sequence from `sequence.save()` bytes, restored in the worker (see
   * `LanguageModel.restoreSequence`); SlmkitError 'INVALID_SNAPSHOT' when they are not a snapshot of
   * this model. The bytes stay the caller's.
   */
  async restoreSequence(snapshot: Uint8Array): Promise<Sequence> {
    this.assertUsable();
    if (!(snapshot instanceof Uint8Array)) {
      throw new SlmkitError(
        'INVALID_SNAPSHOT',
        `A snapshot is a Uint8Array (from save()); got ${typeof snapshot}.`,
      );
    }
    // Posting a view sends its whole buffer: a part of one is copied out and that copy moved.
    const whole = snapshot.byteOffset === 0 && snapshot.byteLength === snapshot.buffer.byteLength;
    const bytes = whole ? snapshot : snapshot.slice();
    const sequence = new WorkerSequence(this.host, this.host.nextId());
    try {
      await this.connection.call<void>(
        { kind: 'restoreSequence', sequence: sequence.id, snapshot: bytes },
        { transfer: whole ? [] : [bytes.buffer as ArrayBuffer] },
      ).promise;
    } catch (error) {
      sequence.forget();
      throw error;
    }
    return sequence;
  }

  /** A new chat (a `ChatSession` on the page, its sequence in the worker). */
  createChat(options: ChatOptions = {}): Chat {
    this.assertUsable();
    const sequence = this.createSequence();
    try {
      return new ChatSession(this, sequence, options);
    } catch (error) {
      void sequence.dispose().catch(() => {});
      throw error;
    }
  }

  /** A chat from `chat.save()` bytes: its messages on the page, its sequence restored in the worker. */
  restoreChat(snapshot: Uint8Array, options?: Omit<ChatOptions, 'system' | 'messages'>): Promise<Chat> {
    return restoreChatSession(this, snapshot, options);
  }

  /**
   * Frees the model in the worker, with its sequences and prefixes, once running calls finish; later
   * calls throw `DISPOSED`. The worker itself stays yours: `worker.terminate()` returns its memory to
   * the system.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.connection.call<void>({ kind: 'dispose' }).promise;
    for (const sequence of [...this.live.values()]) sequence.forget();
  }

  private assertUsable(): void {
    if (this.disposed) {
      throw new SlmkitError(
        'DISPOSED',
        'This model was disposed; create a new one with createWorkerModel().',
      );
    }
  }
}

/**
 * Loads a model inside a dedicated module Worker that runs {@link serveModelWorker} (the bundle's
 * `worker.js` does), and returns a {@link WorkerLanguageModel}: the `LanguageModel` interface,
 * chats, sequences and prefix caching included. The page's main thread stays free while the model
 * downloads, loads and generates. Downloads and prefixes saved with `cachePrefix(…, { persist: true })`
 * go to the worker's `storage` (default: the Cache API of the page's origin).
 *
 * @param worker a `new Worker(url, { type: 'module' })` serving slmkit (one model per worker)
 * @param source a model URL or hub id, or the files of a picked folder
 * @example
 * ```ts
 * const worker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' });
 * const model = await createWorkerModel(worker, '/models/tiny/', { onProgress, device: 'wasm' });
 * const chat = model.createChat({ system: 'You are terse.' });
 * for await (const chunk of chat.stream('Hi!', { signal })) out.append(chunk.text);
 * ```
 */
export async function createWorkerModel(
  worker: WorkerLike,
  source: string | PickedFiles,
  options: WorkerModelOptions = {},
): Promise<WorkerLanguageModel> {
  const { onProgress, onWarning, signal, ...posted } = options;
  const connection = new Connection(worker);
  const warn = onWarning ?? ((message: string) => console.warn(message));
  // Resolved here: inside the worker a relative path would resolve against the worker script's URL.
  const postedSource =
    typeof source === 'string' ? resolveRelativeUrl(source) : Array.from(source as ArrayLike<File>);
  const { promise } = connection.call<LoadedInfo>(
    { kind: 'load', source: postedSource, options: posted },
    {
      signal,
      onEvent: (reply) => {
        if (reply.kind === 'progress') onProgress?.(reply.progress);
        else if (reply.kind === 'warning') warn(reply.message);
      },
    },
  );
  const info = await promise;
  return new WorkerLanguageModel(connection, info.config, info.runtime);
}
