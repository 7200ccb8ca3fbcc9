import {
  type ChatMessage,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStream,
  type LoadProgress,
  type ModelConfig,
  type Prompt,
  resolveGenerateOptions,
  SlmkitError,
  type StreamChunk,
} from '@slmkit/core';
import type { WebRuntimeInfo } from '../backend.js';
import { resolveRelativeUrl } from '../create-model.js';
import type { PickedFiles } from '../local-files.js';
import {
  type DistributiveOmit,
  isProtocolMessage,
  type LoadedInfo,
  PROTOCOL,
  type Reply,
  type Request,
  reviveError,
  type WorkerLoadOptions,
} from './protocol.js';

/** Options of {@link createWorkerModel}. */
export interface WorkerModelOptions extends WorkerLoadOptions {
  /** Download and load progress, forwarded from the worker. */
  onProgress?: (progress: LoadProgress) => void;
  /** Warnings from the worker's backend, e.g. a WebGPU fallback (default `console.warn`). */
  onWarning?: (message: string) => void;
  /** Aborts the load (SlmkitError `ABORTED`). */
  signal?: AbortSignal;
}

/** The part of `Worker` slmkit uses (a `MessagePort` works too). */
export interface WorkerLike {
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

type Handler = (reply: Reply) => void;

/** Request/reply plumbing over one worker. */
class Connection {
  private nextId = 1;
  private readonly handlers = new Map<number, Handler>();
  private failure: Error | undefined;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (event) => {
      const reply = (event as MessageEvent).data;
      if (isProtocolMessage<Reply>(reply)) this.handlers.get(reply.id)?.(reply);
    });
    const fail = (event: Event) => {
      const detail = (event as ErrorEvent).message;
      this.failure = new SlmkitError(
        'RUNTIME_ERROR',
        `The model worker failed${detail ? `: ${detail}` : ' (its script could not be loaded or threw at start)'}.`,
      );
      for (const [id, handler] of this.handlers) {
        handler({
          protocol: PROTOCOL,
          id,
          kind: 'error',
          error: { name: 'SlmkitError', message: this.failure.message, code: 'RUNTIME_ERROR' },
        });
      }
    };
    worker.addEventListener('error', fail);
    worker.addEventListener('messageerror', fail);
  }

  send(message: DistributiveOmit<Request, 'protocol'>): void {
    this.worker.postMessage({ protocol: PROTOCOL, ...message });
  }

  /** Sends a request; `onEvent` sees progress, warnings and chunks; the promise settles with done/error. */
  call<T>(
    message: DistributiveOmit<Request, 'protocol' | 'id'>,
    options: { signal?: AbortSignal; onEvent?: Handler } = {},
  ): { id: number; promise: Promise<T> } {
    const id = this.nextId++;
    const { signal, onEvent } = options;
    const promise = new Promise<T>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      if (signal?.aborted) return reject(abortError(signal));
      const finish = () => {
        this.handlers.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        this.send({ id, kind: 'abort' });
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.handlers.set(id, (reply) => {
        if (reply.kind === 'done') {
          finish();
          resolve(reply.value as T);
        } else if (reply.kind === 'error') {
          finish();
          reject(reviveError(reply.error));
        } else {
          onEvent?.(reply);
        }
      });
      this.send({ ...message, id } as DistributiveOmit<Request, 'protocol'>);
    });
    return { id, promise };
  }
}

function abortError(signal: AbortSignal): SlmkitError {
  const reason = signal.reason;
  if (reason instanceof SlmkitError && reason.code === 'ABORTED') return reason;
  return new SlmkitError('ABORTED', 'The operation was aborted.', { cause: reason });
}

/**
 * A model running inside a dedicated Worker, driven from the page with the same calls as a
 * {@link LanguageModel}: `generate`, `stream` (chunks cross the boundary as they are generated;
 * `signal` is forwarded; breaking out of the loop stops the worker), `applyChatTemplate` and `dispose`.
 * Calls that are synchronous on a `LanguageModel` return promises here. Errors arrive as
 * {@link SlmkitError} with their original code.
 */
export class WorkerLanguageModel {
  private disposed = false;

  /** @internal Use {@link createWorkerModel}. */
  constructor(
    private readonly connection: Connection,
    /** The model's configuration (config.json and generation_config.json). */
    readonly config: ModelConfig,
    /** Execution provider and threads the worker's runtime uses. */
    readonly runtime: WebRuntimeInfo,
  ) {}

  /** Generates a continuation (see `LanguageModel.generate`), in the worker. */
  generate(input: Prompt, options?: GenerateOptions): Promise<GenerationResult>;
  generate(input: readonly Prompt[], options?: GenerateOptions): Promise<GenerationResult[]>;
  async generate(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult | GenerationResult[]> {
    return this.stream(input as Prompt, options).result;
  }

  /**
   * Streams the continuation token by token from the worker (see `LanguageModel.stream`). Breaking out
   * of the loop stops generation in the worker; `result` then resolves with finishReason 'cancelled'.
   */
  stream(input: Prompt, options?: GenerateOptions): GenerationStream<GenerationResult>;
  stream(input: readonly Prompt[], options?: GenerateOptions): GenerationStream<GenerationResult[]>;
  stream(
    input: Prompt | readonly Prompt[],
    options: GenerateOptions = {},
  ): GenerationStream<GenerationResult | GenerationResult[]> {
    this.assertUsable();
    // Invalid options throw here, before anything is posted, as LanguageModel.stream does.
    resolveGenerateOptions(options, this.config);
    const { signal, logitsProcessors, ...posted } = options;
    if (logitsProcessors && logitsProcessors.length > 0) {
      throw new SlmkitError(
        'INVALID_OPTION',
        'logitsProcessors are functions and cannot be sent to a worker: run the model on the page (createModel) to use them.',
      );
    }
    const connection = this.connection;
    const chunks: StreamChunk[] = [];
    let read = 0;
    let iterating = false;
    let settled = false;
    let failure: unknown;
    let wake: (() => void) | undefined;
    let request: { id: number; promise: Promise<GenerationResult | GenerationResult[]> } | undefined;
    const start = () => {
      request ??= connection.call<GenerationResult | GenerationResult[]>(
        { kind: 'stream', input, options: posted },
        {
          signal,
          onEvent: (reply) => {
            if (reply.kind !== 'chunk' || !iterating) return;
            chunks.push(reply.chunk);
            wake?.();
          },
        },
      );
      request.promise.then(
        () => {
          settled = true;
          wake?.();
        },
        (error) => {
          settled = true;
          failure = error;
          wake?.();
        },
      );
      return request;
    };
    async function* iterate(): AsyncGenerator<StreamChunk> {
      const { id } = start();
      try {
        for (;;) {
          if (read < chunks.length) {
            const chunk = chunks[read];
            chunks[read++] = undefined as never;
            yield chunk;
            continue;
          }
          if (settled) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        // Left the loop early: the worker stops and reports what it generated as 'cancelled'.
        if (!settled) connection.send({ id, kind: 'cancel' });
      }
    }
    return {
      [Symbol.asyncIterator]: () => {
        if (iterating || request) {
          throw new SlmkitError('INVALID_INPUT', 'A generation stream can be iterated only once.');
        }
        iterating = true;
        return iterate();
      },
      get result() {
        const { promise } = start();
        promise.catch(() => {});
        return promise;
      },
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

  /** Token ids of `text` (with the tokenizer's special tokens, as `generate` encodes a string). */
  async encode(text: string): Promise<number[]> {
    this.assertUsable();
    return this.connection.call<number[]>({ kind: 'encode', text }).promise;
  }

  /** Text of token ids. */
  async decode(ids: readonly number[]): Promise<string> {
    this.assertUsable();
    return this.connection.call<string>({ kind: 'decode', ids: [...ids] }).promise;
  }

  /**
   * Frees the model in the worker once running calls finish; later calls throw `DISPOSED`. The
   * worker itself stays yours: `worker.terminate()` returns its memory to the system.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.connection.call<void>({ kind: 'dispose' }).promise;
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
 * `worker.js` does), and returns a handle with the {@link LanguageModel} API. The page's main thread
 * stays free while the model downloads, loads and generates.
 *
 * @param worker a `new Worker(url, { type: 'module' })` serving slmkit (one model per worker)
 * @param source a model URL or hub id, or the files of a picked folder
 * @example
 * ```ts
 * const worker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module' });
 * const model = await createWorkerModel(worker, '/models/tiny/', { onProgress, device: 'wasm' });
 * for await (const chunk of model.stream([{ role: 'user', content: 'Hi!' }], { signal })) out.append(chunk.text);
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
