/**
 * Helpers for runtimes built on onnxruntime-common (onnxruntime-node, onnxruntime-web): wrapping one
 * of their sessions as slmkit's {@link InferenceSession}, and mapping session options. Nothing here
 * imports a runtime: the runtime's own `Tensor` constructor is passed in.
 */
import type {
  InferenceSession as OrtSession,
  Tensor as OrtTensor,
  TensorConstructor as OrtTensorConstructor,
} from 'onnxruntime-common';
import {
  type HostTensor,
  type InferenceSession,
  isResident,
  type ResidentTensor,
  type SessionOptions,
  type SessionValue,
  type TensorData,
  type TensorType,
  type ValueInfo,
} from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';

/** Metadata of a session's tensor inputs or outputs, keyed by name (other kinds are left out). */
export function describeOrtValues(metadata: readonly OrtSession.ValueMetadata[]): Record<string, ValueInfo> {
  const described: Record<string, ValueInfo> = {};
  for (const value of metadata) {
    if (!value.isTensor) continue;
    described[value.name] = { name: value.name, type: value.type as TensorType, shape: value.shape };
  }
  return described;
}

/**
 * Wraps a session of any onnxruntime-common based runtime as slmkit's {@link InferenceSession};
 * shared by the node and web backends. `Tensor` is that runtime's tensor constructor (tensors fed
 * to a session must come from its own runtime), e.g. `wrapOrtSession(session, ort.Tensor)`.
 *
 * Host feeds become runtime tensors over the same data (no copy). Outputs named in
 * `RunOptions.residentOutputs` come back as {@link ResidentTensor}s holding the runtime tensor
 * itself, wherever the runtime put it, so feeding one back costs nothing. Every other output comes
 * back as a {@link HostTensor}: when the session was created with its outputs on the GPU (see
 * {@link OrtOutputOptions.gpuOutputs}), those are downloaded and their GPU tensor disposed first.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * const session = wrapOrtSession(await ort.InferenceSession.create(path, toOrtSessionOptions({})), ort.Tensor);
 * ```
 */
export function wrapOrtSession(session: OrtSession, Tensor: OrtTensorConstructor): InferenceSession {
  const inputs = new Set(session.inputNames);
  /** The runtime tensor of each resident output of this session not yet disposed. */
  const live = new Map<ResidentTensor, OrtTensor>();
  /** Resident outputs of this session that were disposed (for a clearer refusal when fed again). */
  const disposed = new WeakSet<ResidentTensor>();
  let released = false;
  // Core passes the same list every step: its Set is built once per list, not once per run.
  let residentList: readonly string[] | undefined;
  let residentSet = new Set<string>();

  const resident = (tensor: OrtTensor): ResidentTensor => {
    let reading: Promise<TensorData> | undefined;
    const wrapper: ResidentTensor = {
      resident: true,
      type: tensor.type as TensorType,
      dims: tensor.dims,
      async read() {
        if (!live.has(wrapper)) throw disposedError('This resident tensor');
        // Already in this thread's memory (in-process, or wasm): the tensor's own array, not a copy.
        if (tensor.location === 'cpu' || tensor.location === 'cpu-pinned') return tensor.data as TensorData;
        // onnxruntime-common refuses a second download while one is in flight: share it.
        reading ??= (tensor.getData() as Promise<TensorData>).finally(() => {
          reading = undefined;
        });
        return reading;
      },
      dispose() {
        if (!live.delete(wrapper)) return;
        disposed.add(wrapper);
        // onnxruntime-common refuses to dispose a tensor while it downloads.
        if (reading) reading.finally(() => tensor.dispose()).catch(() => {});
        else tensor.dispose();
      },
    };
    live.set(wrapper, tensor);
    return wrapper;
  };

  const feedOf = (name: string, value: SessionValue): OrtTensor => {
    if (!isResident(value)) {
      return new Tensor(value.type as never, value.data as never, value.dims);
    }
    const tensor = live.get(value);
    if (tensor === undefined) {
      throw new SlmkitError(
        'INVALID_INPUT',
        disposed.has(value)
          ? `Input "${name}" was disposed and cannot be used.`
          : `Input "${name}" is a resident tensor of another session; feed host tensors or this session's own outputs.`,
      );
    }
    if (!inputs.has(name)) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `"${name}" is not an input of this session; it has ${session.inputNames.join(', ')}.`,
      );
    }
    return tensor;
  };

  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: describeOrtValues(session.inputMetadata),
    outputMetadata: describeOrtValues(session.outputMetadata),
    async run(feeds, options) {
      if (released) throw new SlmkitError('DISPOSED', 'The session was released and cannot run.');
      const ortFeeds: Record<string, OrtTensor> = {};
      for (const name of Object.keys(feeds)) ortFeeds[name] = feedOf(name, feeds[name]);
      const outputs = await session.run(ortFeeds);
      const keep = options?.residentOutputs;
      if (keep !== residentList) {
        residentList = keep;
        residentSet = new Set(keep);
      }
      const result: Record<string, SessionValue> = {};
      const onGpu: [string, OrtTensor][] = [];
      for (const [name, tensor] of Object.entries(outputs)) {
        if (residentSet.has(name)) result[name] = resident(tensor);
        else if (tensor.location === 'cpu' || tensor.location === 'cpu-pinned') {
          result[name] = hostTensor(tensor, tensor.data as TensorData);
        } else onGpu.push([name, tensor]);
      }
      // On the GPU (the session places every output there): download each, then free it there.
      if (onGpu.length > 0) {
        // Settled, not all: onnxruntime-common cannot dispose a tensor while it downloads.
        const downloads = await Promise.allSettled(onGpu.map(([, tensor]) => tensor.getData()));
        onGpu.forEach(([name, tensor], i) => {
          const download = downloads[i];
          if (download.status === 'fulfilled')
            result[name] = hostTensor(tensor, download.value as TensorData);
          tensor.dispose();
        });
        const failed = downloads.find((d) => d.status === 'rejected');
        if (failed) {
          for (const value of Object.values(result)) if (isResident(value)) value.dispose();
          throw failed.reason;
        }
      }
      return result;
    },
    async release() {
      if (released) return;
      released = true;
      for (const wrapper of [...live.keys()]) wrapper.dispose();
      await session.release();
    },
  };
}

function hostTensor(tensor: OrtTensor, data: TensorData): HostTensor {
  return { type: tensor.type as TensorType, dims: tensor.dims, data };
}

function disposedError(what: string): SlmkitError {
  return new SlmkitError('DISPOSED', `${what} was disposed (or its session released) and cannot be read.`);
}

/** Where an onnxruntime-common session puts its outputs (see {@link toOrtSessionOptions}). */
export interface OrtOutputOptions {
  /**
   * Every output on the GPU (onnxruntime-web's `preferredOutputLocation: 'gpu-buffer'`; only for a
   * session that runs on WebGPU). Resident outputs (the KV cache) then stay on the GPU between runs,
   * and {@link wrapOrtSession} downloads the others (the logits) once each.
   */
  gpuOutputs?: boolean;
}

/** Maps slmkit's session options to onnxruntime-common's. */
export function toOrtSessionOptions(
  options: SessionOptions,
  outputs: OrtOutputOptions = {},
): OrtSession.SessionOptions {
  const extra: Record<string, string> = { ...options.extra };
  if (options.allowSpinning === false) {
    extra['session.intra_op.allow_spinning'] = '0';
    extra['session.inter_op.allow_spinning'] = '0';
  }
  const ortOptions: OrtSession.SessionOptions = {
    interOpNumThreads: options.interOpNumThreads ?? 1,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    extra,
  };
  // Runtimes reject keys that are present but undefined.
  if (options.executionProviders) ortOptions.executionProviders = [...options.executionProviders];
  if (options.intraOpNumThreads !== undefined) ortOptions.intraOpNumThreads = options.intraOpNumThreads;
  if (outputs.gpuOutputs) ortOptions.preferredOutputLocation = 'gpu-buffer';
  return ortOptions;
}
