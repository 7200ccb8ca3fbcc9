import type {
  CachedPrefix,
  CachePrefixOptions,
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

/**
 * Options of a model loaded in a worker: everything of {@link WebCreateModelOptions} that can be
 * posted (no objects with methods, no functions). Prefixes saved with `cachePrefix(…, { persist })`
 * go to the same `storage` as the downloads.
 */
export interface WorkerLoadOptions
  extends Omit<
    WebCreateModelOptions,
    'backend' | 'storage' | 'stateStorage' | 'hashLocalFile' | 'fetch' | 'onWarning' | 'onProgress' | 'signal'
  > {
  /** Where the worker caches downloads and saved prefixes (default `'cache'`). */
  storage?: 'cache' | 'opfs';
}

/**
 * Generation options that can cross to a worker: functions cannot (`logitsProcessors`), `signal` is
 * forwarded as an abort message, and `sequence` as the id of the worker's sequence.
 */
export type WorkerGenerateOptions = Omit<GenerateOptions, 'signal' | 'logitsProcessors' | 'sequence'>;

/** `cachePrefix` options that can cross to a worker (`signal` is forwarded as an abort message). */
export type WorkerCachePrefixOptions = Omit<CachePrefixOptions, 'signal'>;

/** Fields every request has: `id` names the request; replies carry it back. */
interface RequestBase {
  protocol: typeof PROTOCOL;
  id: number;
}

/**
 * A request from the page. Sequences live in the worker under ids the page chooses (`sequence`,
 * `target`), so `createSequence` needs no reply before the sequence is used: messages arrive in order.
 */
export type Request = RequestBase &
  (
    | { kind: 'load'; source: string | File[]; options: WorkerLoadOptions }
    | {
        kind: 'stream';
        input: Prompt | readonly Prompt[];
        options: WorkerGenerateOptions;
        /** The worker sequence the call runs on. */
        sequence?: number;
        /** Post each chunk as it is generated (`stream()`); `generate()` waits for the result only. */
        chunks: boolean;
      }
    | {
        kind: 'applyChatTemplate';
        messages: readonly ChatMessage[];
        templateVariables?: Record<string, unknown>;
      }
    | { kind: 'encode'; text: string; addSpecialTokens?: boolean }
    | { kind: 'decode'; ids: number[] }
    | { kind: 'countTokens'; prompt: Prompt; templateVariables?: Readonly<Record<string, unknown>> }
    | { kind: 'cachePrefix'; prompt: Prompt; options: WorkerCachePrefixOptions }
    /** Releases the prefix the `cachePrefix` request `prefix` pinned. */
    | { kind: 'releasePrefix'; prefix: number }
    | { kind: 'createSequence'; sequence: number }
    /** Restores `snapshot` as the sequence `sequence`. */
    | { kind: 'restoreSequence'; sequence: number; snapshot: Uint8Array }
    | { kind: 'truncate'; sequence: number; length: number }
    /** Forks `sequence` into the new sequence `target`. */
    | { kind: 'fork'; sequence: number; target: number }
    | { kind: 'save'; sequence: number }
    | { kind: 'disposeSequence'; sequence: number }
    /** Stop the request `id`: `abort` fails it with ABORTED, `cancel` ends a stream early with its result. */
    | { kind: 'abort' | 'cancel' }
    | { kind: 'dispose' }
  );

/** What a loaded model reports to the page. */
export interface LoadedInfo {
  config: ModelConfig;
  runtime: WebRuntimeInfo;
}

/** What a `cachePrefix` request resolves with; release it with `releasePrefix` and the request's id. */
export type PrefixInfo = Pick<CachedPrefix, 'tokenCount' | 'source'>;

/**
 * The token ids a worker sequence holds, reported with the reply of every request that used it. The
 * worker posts the sequence's own array (posting copies it); the page keeps the copy it received.
 */
export interface SequenceState {
  id: number;
  tokenIds: readonly number[];
}

/** The SlmkitError 'DISPOSED' of a disposed sequence, the same on the page and in the worker. */
export function sequenceDisposedError(): SlmkitError {
  return new SlmkitError(
    'DISPOSED',
    'This sequence was disposed; create a new one with model.createSequence().',
  );
}

/** A message from the worker. */
export type Reply =
  | { protocol: typeof PROTOCOL; id: number; kind: 'progress'; progress: LoadProgress }
  | { protocol: typeof PROTOCOL; id: number; kind: 'warning'; message: string }
  | { protocol: typeof PROTOCOL; id: number; kind: 'chunk'; chunk: StreamChunk }
  | { protocol: typeof PROTOCOL; id: number; kind: 'done'; value: unknown; sequences?: SequenceState[] }
  | { protocol: typeof PROTOCOL; id: number; kind: 'error'; error: PostedError; sequences?: SequenceState[] };

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
