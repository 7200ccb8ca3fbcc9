import type { Tensor } from 'onnxruntime-common';

/** Element types slmkit feeds or reads. */
export type TensorType = Tensor.Type;

/** Element type and (where the graph declares it) shape of one session input or output. */
export interface ValueInfo {
  readonly name: string;
  /** Element type, e.g. 'float32', 'float16', 'int64'. */
  readonly type: TensorType;
  /** Dimensions: numbers where fixed, names (e.g. 'batch_size') where symbolic, when known. */
  readonly shape?: readonly (number | string)[];
}

/** Per-run hints from core to a backend. */
export interface RunOptions {
  /**
   * Outputs the caller never reads, only feeds back into a later run of the same session (a
   * decoder's `present.*` KV cache). A backend may keep their data where the session runs and
   * return tensors whose `location` is not 'cpu': their values are then read with
   * `await tensor.getData()`, and `dispose()` frees them there.
   */
  readonly residentOutputs?: readonly string[];
}

/** One loaded .onnx graph, as a backend hands it to core. */
export interface InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Readonly<Record<string, ValueInfo>>;
  readonly outputMetadata: Readonly<Record<string, ValueInfo>>;
  /** Runs the graph on `feeds` and returns every output. */
  run(feeds: Record<string, Tensor>, options?: RunOptions): Promise<Record<string, Tensor>>;
  /** Frees the native session. Safe to call twice. */
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

/** What @slmkit/node and @slmkit/web each provide to core. */
export interface Backend {
  /** e.g. 'onnxruntime-node', 'onnxruntime-web', 'reference'. */
  readonly name: string;
  createSession(model: ModelFile, options: SessionOptions): Promise<InferenceSession>;
  /** Tensors fed to a session must come from the session's own runtime. */
  createTensor(type: TensorType, data: Tensor.DataType, dims: readonly number[]): Tensor;
}
