/** Messages between a threaded session (threaded-session.ts) and its thread (session-worker.ts). */
import type { SlmkitErrorCode } from '@slmkit/core';
import type { HostTensor } from '@slmkit/core/backend';
import type { InferenceSession as OrtSession } from 'onnxruntime-common';
import type { OrtModelSource } from './load-ort-session.js';

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
