/**
 * The contract between core and a runtime adapter (@slmkit/node, @slmkit/web, the reference
 * backend, or your own): sessions, the values they take and give, and session options. Core never
 * imports a runtime; an adapter converts these plain values to its runtime's tensors.
 */

/** Element types slmkit feeds or reads. */
export type TensorType =
  | 'float32'
  | 'float16'
  | 'int64'
  | 'int32'
  | 'int8'
  | 'uint8'
  | 'bool'
  | 'float64'
  | 'int16'
  | 'uint16'
  | 'uint32'
  | 'uint64';

/** The typed array of a {@link TensorType} (float16 as raw IEEE half bits in a Uint16Array, bool as 0/1 bytes). */
export type TensorData =
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int8Array
  | Uint8Array
  | Float64Array
  | Int16Array
  | Uint32Array
  | BigUint64Array;

/** A tensor whose data is in this thread's memory. Core creates these plain objects; adapters convert them. */
export interface HostTensor {
  /** Element type of `data`. */
  readonly type: TensorType;
  /** Shape, outermost dimension first (`[batch, sequence]` for `input_ids`). */
  readonly dims: readonly number[];
  /** Row-major elements; its length is the product of `dims`. */
  readonly data: TensorData;
}

/**
 * An output the session kept where it runs (on its worker thread, on the GPU) instead of handing
 * its data over: a decoder's `present.*` KV cache, which core only ever feeds back to the same
 * session. Core never reads it on the hot path; `read()` is for the rare copy (truncating, forking,
 * saving a sequence). Each one is freed exactly once, with `dispose()`.
 */
export interface ResidentTensor {
  /** Tells a resident tensor from a {@link HostTensor} (see {@link isResident}). */
  readonly resident: true;
  /** Element type of the data where it lives. */
  readonly type: TensorType;
  /** Shape, outermost dimension first. */
  readonly dims: readonly number[];
  /**
   * The data, in this thread: a copy where the session runs elsewhere, else the runtime's own
   * array. Read it, do not modify it.
   */
  read(): Promise<TensorData>;
  /** Frees the data where it lives. Safe to call twice; the tensor cannot be fed or read afterwards. */
  dispose(): void;
}

/** What a session takes as a feed and gives as an output. */
export type SessionValue = HostTensor | ResidentTensor;

/** True when `value` is a {@link ResidentTensor}. */
export function isResident(value: SessionValue): value is ResidentTensor {
  return (value as ResidentTensor).resident === true;
}

/** Element type and (where the graph declares it) shape of one session input or output. */
export interface ValueInfo {
  /** The input's or output's name in the graph, e.g. `input_ids`, `present.0.key`. */
  readonly name: string;
  /** Element type, e.g. 'float32', 'float16', 'int64'. */
  readonly type: TensorType;
  /** Dimensions: numbers where fixed, names (e.g. 'batch_size') where symbolic, when known. */
  readonly shape?: readonly (number | string)[];
}

/** Per-run instructions from core to a session. */
export interface RunOptions {
  /**
   * Outputs core never reads, only feeds back into a later run of the same session (a decoder's
   * `present.*` KV cache). They come back as {@link ResidentTensor}s: the session keeps their data
   * where it runs; every other output comes back as a {@link HostTensor}.
   */
  readonly residentOutputs?: readonly string[];
}

/** One loaded .onnx graph, as a backend hands it to core. */
export interface InferenceSession {
  /** The graph's input names, in the graph's order. */
  readonly inputNames: readonly string[];
  /** The graph's output names, in the graph's order. */
  readonly outputNames: readonly string[];
  /** Type and shape of each tensor input, by name; core builds its feeds from these. */
  readonly inputMetadata: Readonly<Record<string, ValueInfo>>;
  /** Type and shape of each tensor output, by name. */
  readonly outputMetadata: Readonly<Record<string, ValueInfo>>;
  /**
   * Runs the graph. Feeds are host tensors or this session's own resident outputs (a resident
   * tensor from another session is refused with SlmkitError 'INVALID_INPUT'). Returns every output:
   * resident ones as {@link ResidentTensor} (see {@link RunOptions.residentOutputs}), the rest as
   * {@link HostTensor}. Feeds are not consumed: core disposes resident ones when it no longer needs them.
   */
  run(
    feeds: Readonly<Record<string, SessionValue>>,
    options?: RunOptions,
  ): Promise<Record<string, SessionValue>>;
  /**
   * Optional: cuts resident tensors back where their data lives (on the session's thread, on the
   * GPU), all of them in one call. Returns, in the same order, new resident tensors of this session
   * holding the first `length` entries along `axis` of each of `tensors` (every other dimension
   * whole); `length` equal to `dims[axis]` copies a tensor whole. The inputs are left as they were
   * (the caller disposes them); each result is disposed once, like a run's resident output.
   *
   * Core calls it on the KV cache (`[batch, heads, sequence, headDim]`, `axis` 2) when a sequence is
   * truncated or forked and when a shared prefix is copied out of the prefix cache, so no cache data
   * crosses to core's thread. A session without it works too: core then reads every tensor
   * (`read()`), slices the copies in its own thread and feeds them as host tensors at the next run,
   * which moves the whole cache twice.
   *
   * Refuses a resident tensor of another session (SlmkitError 'INVALID_INPUT'), a disposed one
   * ('DISPOSED'), and an `axis` or `length` outside a tensor's dims ('INVALID_INPUT').
   */
  sliceResident?(tensors: readonly ResidentTensor[], axis: number, length: number): Promise<ResidentTensor[]>;
  /** Frees the native session and every resident tensor it still holds. Safe to call twice. */
  release(): Promise<void>;
}

/** An .onnx file to load: a local path (node) or its bytes (web), plus external weight files. */
export interface ModelFile {
  /** Path within the model repository, e.g. `onnx/model.onnx`. Used in messages. */
  readonly name: string;
  /** A local file-system path the runtime can open directly (external data is found beside it). */
  readonly path?: string;
  /** The graph's bytes, when there is no local path. */
  readonly data?: Uint8Array;
  /** External data files, named as the graph references them (e.g. `model.onnx_data`). */
  readonly externalData?: readonly { readonly path: string; readonly data: Uint8Array | string }[];
}

/** Options for creating a session, shared by every backend. */
export interface SessionOptions {
  /** Execution providers in order of preference, e.g. `['cpu']`, `['webgpu', 'wasm']`. */
  executionProviders?: readonly string[];
  /** Threads for one operator (default: the runtime's choice, usually the physical core count). */
  intraOpNumThreads?: number;
  /** Threads across operators (default 1: decoder graphs are sequential). */
  interOpNumThreads?: number;
  /** Graph optimisation level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle worker threads spin for work (default true: fastest). `false` saves CPU and power at
   * some speed cost.
   */
  allowSpinning?: boolean;
  /** Runtime-specific session config entries, passed through unchanged. */
  extra?: Record<string, string>;
}

/** What @slmkit/node, @slmkit/web or any other adapter provides to core. */
export interface Backend {
  /** e.g. 'onnxruntime-node', 'onnxruntime-web', 'reference'. */
  readonly name: string;
  /**
   * Loads one .onnx graph (with its external data files) as a session: `loadModel` calls it once
   * per model, and the model releases the session on `dispose()`.
   */
  createSession(model: ModelFile, options: SessionOptions): Promise<InferenceSession>;
}
