/** Messages between a threaded session (threaded-session.ts) and its thread (session-worker.ts). */
import type { InferenceSession as OrtSession, Tensor } from 'onnxruntime-common';

/** A tensor crossing the thread boundary: its data (copied or transferred), or a resident handle. */
export type WireTensor =
  | { readonly type: Tensor.Type; readonly dims: readonly number[]; readonly data: Tensor.DataType }
  | { readonly type: Tensor.Type; readonly dims: readonly number[]; readonly handle: number };

/** The graph file to load: a path, or bytes (external data by path or bytes). */
export interface WireModel {
  readonly path?: string;
  readonly data?: Uint8Array;
  readonly externalData?: readonly { readonly path: string; readonly data: Uint8Array | string }[];
}

/** A request the thread answers (the main thread adds an `id` to match the reply). */
export type SessionCall =
  | { readonly op: 'create'; readonly model: WireModel; readonly options: OrtSession.SessionOptions }
  | {
      readonly op: 'run';
      readonly feeds: Record<string, WireTensor>;
      /** Outputs to keep in the thread, answered with a handle instead of data. */
      readonly resident: readonly string[];
    }
  | { readonly op: 'read'; readonly handle: number }
  | { readonly op: 'release' };

/** Everything the main thread posts: calls, and the handles it no longer refers to (no reply). */
export type SessionMessage =
  | (SessionCall & { readonly id: number })
  | { readonly op: 'free'; readonly handles: readonly number[] };

/** What `create` answers: the session's names and metadata (onnxruntime-common's own shapes). */
export interface WireSessionInfo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly OrtSession.ValueMetadata[];
  readonly outputMetadata: readonly OrtSession.ValueMetadata[];
}

export type SessionReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string };
