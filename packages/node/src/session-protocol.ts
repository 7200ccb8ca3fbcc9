/** Messages between a threaded session (threaded-session.ts) and its thread (session-worker.ts). */
import type { SlmkitErrorCode } from '@slmkit/core';
import type { HostTensor } from '@slmkit/core/backend';
import type { InferenceSession as OrtSession } from 'onnxruntime-common';
import type { OrtModelSource } from './load-ort-session.js';

/**
 * The exit guard a thread shares with the main thread (its `workerData`): an Int32Array over a
 * SharedArrayBuffer of {@link EXIT_GUARD_SLOTS} slots. When the process exits during a native
 * onnxruntime-node call on a worker thread, Node stops the thread's JavaScript while the call runs,
 * and the call's result then cannot be turned into JavaScript values: onnxruntime-node throws a C++
 * exception nothing catches and the whole process aborts (`terminate called after throwing an
 * instance of 'Napi::Error'`, exit code 134). So the thread counts its native calls in
 * {@link GUARD_BUSY} and starts none once {@link GUARD_EXITING} is set, and the main thread's
 * process 'exit' hook sets it, then waits for the count to reach 0 before the process goes on to
 * stop the thread. A few atomic operations per call (a fraction of a microsecond), no message.
 */
export const EXIT_GUARD_SLOTS = 2;
/** Native onnxruntime-node calls (create, run, release) in progress on the thread. */
export const GUARD_BUSY = 0;
/** 1 once the process is exiting: the thread refuses new native calls. */
export const GUARD_EXITING = 1;

/** A tensor's data crossing the thread boundary (copied when it is a feed, moved when it is an output). */
export type WireData = HostTensor;

/** A request the thread answers (the main thread adds an `id` to match the reply). */
export type SessionCall =
  | { readonly op: 'create'; readonly model: OrtModelSource; readonly options: OrtSession.SessionOptions }
  | {
      readonly op: 'run';
      /** Feeds sent as data, by input name. */
      readonly feeds: Record<string, WireData>;
      /** Feeds already on the thread: pairs of (input index, handle). */
      readonly residentFeeds: Int32Array;
      /** Indices of the outputs to keep on the thread, answered with a handle instead of data. */
      readonly resident: Int32Array;
    }
  | { readonly op: 'read'; readonly handle: number }
  | {
      /**
       * New kept tensors holding the first `length` entries along `axis` of each of `handles`,
       * answered with their handles (an Int32Array, in the same order): no data crosses.
       */
      readonly op: 'slice';
      readonly handles: Int32Array;
      readonly axis: number;
      readonly length: number;
    }
  | { readonly op: 'release' };

/**
 * Everything the main thread posts: calls, which also carry the handles freed since the last
 * message, and, when no call follows soon, those handles alone (no reply).
 */
export type SessionMessage =
  | (SessionCall & { readonly id: number; readonly free: readonly number[] })
  | { readonly op: 'free'; readonly free: readonly number[] };

/** What `create` answers: the session's names and metadata (onnxruntime-common's own shapes). */
export interface WireSessionInfo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly OrtSession.ValueMetadata[];
  readonly outputMetadata: readonly OrtSession.ValueMetadata[];
}

/**
 * What `run` answers. Handles and shapes travel as one flat Int32Array because a decoder has dozens
 * of cache outputs and cloning that many small objects cost ~0.3 ms per step, both ways.
 */
export interface WireRunResult {
  /** Outputs sent as data, by output name. */
  readonly data: Record<string, WireData>;
  /** Per kept output: output index, handle, rank, then its dims. */
  readonly resident: Int32Array;
}

/** A failed call's answer: `code` when the thread refused the call (the main thread throws SlmkitError). */
export type SessionReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code?: SlmkitErrorCode };
