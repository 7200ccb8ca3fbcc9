import type {
  ChatMessage,
  GenerateOptions,
  LoadProgress,
  ModelConfig,
  Prompt,
  SlmkitErrorCode,
  StreamChunk,
} from '@slmkit/core';
import { SlmkitError } from '@slmkit/core';
import type { WebRuntimeInfo } from '../backend.js';
import type { WebCreateModelOptions } from '../create-model.js';

/** Marks slmkit's messages so a worker can carry other traffic too. */
export const PROTOCOL = 'slmkit/1';

/** Options of a model loaded in a worker: everything of {@link WebCreateModelOptions} that can be posted. */
export interface WorkerLoadOptions
  extends Omit<
    WebCreateModelOptions,
    'backend' | 'storage' | 'fetch' | 'onWarning' | 'onProgress' | 'signal'
  > {
  /** Where the worker caches downloads (default `'cache'`). */
  storage?: 'cache' | 'opfs';
}

/** Generation options that can cross to a worker (functions cannot; `signal` is forwarded separately). */
export type WorkerGenerateOptions = Omit<GenerateOptions, 'signal' | 'logitsProcessors'>;

/** A request from the page. */
export type Request =
  | {
      protocol: typeof PROTOCOL;
      id: number;
      kind: 'load';
      source: string | File[];
      options: WorkerLoadOptions;
    }
  | {
      protocol: typeof PROTOCOL;
      id: number;
      kind: 'stream';
      input: Prompt | readonly Prompt[];
      options: WorkerGenerateOptions;
    }
  | {
      protocol: typeof PROTOCOL;
      id: number;
      kind: 'applyChatTemplate';
      messages: readonly ChatMessage[];
      templateVariables?: Record<string, unknown>;
    }
  | { protocol: typeof PROTOCOL; id: number; kind: 'encode' | 'decode'; text?: string; ids?: number[] }
  /** Stop the request `id`: `abort` fails it with ABORTED, `cancel` ends a stream early with its result. */
  | { protocol: typeof PROTOCOL; id: number; kind: 'abort' | 'cancel' }
  | { protocol: typeof PROTOCOL; id: number; kind: 'dispose' };

/** What a loaded model reports to the page. */
export interface LoadedInfo {
  config: ModelConfig;
  runtime: WebRuntimeInfo;
}

/** A message from the worker. */
export type Reply =
  | { protocol: typeof PROTOCOL; id: number; kind: 'progress'; progress: LoadProgress }
  | { protocol: typeof PROTOCOL; id: number; kind: 'warning'; message: string }
  | { protocol: typeof PROTOCOL; id: number; kind: 'chunk'; chunk: StreamChunk }
  | { protocol: typeof PROTOCOL; id: number; kind: 'done'; value: unknown }
  | { protocol: typeof PROTOCOL; id: number; kind: 'error'; error: PostedError };

/** An error as it crosses the boundary. */
export interface PostedError {
  name: string;
  message: string;
  code?: SlmkitErrorCode;
  stack?: string;
}

/** Flattens an error for postMessage. */
export function postError(error: unknown): PostedError {
  const e = error as Partial<SlmkitError> | undefined;
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(error),
    code: error instanceof SlmkitError ? error.code : undefined,
    stack: e?.stack,
  };
}

/** Rebuilds a posted error: a {@link SlmkitError} with its code when it was one. */
export function reviveError(posted: PostedError): Error {
  const error = posted.code ? new SlmkitError(posted.code, posted.message) : new Error(posted.message);
  if (!posted.code) (error as { name: string }).name = posted.name;
  if (posted.stack)
    error.stack = `${error.name}: ${posted.message}\n    (in the model worker)\n${posted.stack}`;
  return error;
}

/** Type guard for slmkit's messages. */
export function isProtocolMessage<T extends { protocol: string }>(data: unknown): data is T {
  return typeof data === 'object' && data !== null && (data as { protocol?: unknown }).protocol === PROTOCOL;
}

/** `Omit` applied to each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
