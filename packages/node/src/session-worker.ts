/**
 * The thread a threaded session runs on (see threaded-session.ts). It owns one onnxruntime-node
 * session and the outputs the main thread asked to keep here (the KV cache), so the tens of
 * megabytes onnxruntime-node allocates per run are collected by this thread's small heap instead
 * of the application's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SlmkitErrorCode } from '@slmkit/core';
import * as ort from 'onnxruntime-node';
import { loadOrtSession } from './load-ort-session.js';
import {
  EXIT_GUARD_SLOTS,
  GUARD_BUSY,
  GUARD_EXITING,
  type SessionCall,
  type SessionMessage,
  type SessionReply,
  type WireData,
  type WireRunResult,
  type WireSessionInfo,
} from './session-protocol.js';

if (!parentPort || !(workerData instanceof SharedArrayBuffer)) {
  throw new Error('session-worker.js runs as a worker thread of @slmkit/node.');
}
const port = parentPort;
/** Shared with the main thread's exit hook (see EXIT_GUARD_SLOTS in session-protocol.ts). */
const guard = new Int32Array(workerData, 0, EXIT_GUARD_SLOTS);

/** The data of a numeric tensor (every tensor a decoder graph has). */
type NumericData = Exclude<ort.Tensor['data'], string[]>;

let session: ort.InferenceSession | undefined;
const residentTensors = new Map<number, ort.Tensor>();
let nextHandle = 1;

port.on('message', (message: SessionMessage) => {
  for (const handle of message.free) residentTensors.delete(handle);
  if (message.op !== 'free') answer(message.id, () => handle(message));
});

async function answer(id: number, work: () => Promise<[unknown, ArrayBuffer[]?]>): Promise<void> {
  try {
    const [value, transfer = []] = await work();
    port.postMessage({ id, ok: true, value } satisfies SessionReply, transfer);
  } catch (error) {
    port.postMessage({
      id,
      ok: false,
      message: (error as Error).message ?? String(error),
      code: error instanceof Refusal ? error.code : undefined,
    } satisfies SessionReply);
  }
}

/**
 * A call this thread refuses; the main thread rethrows it as SlmkitError `code` (this thread does
 * not load @slmkit/core: its heap stays small).
 */
class Refusal extends Error {
  constructor(
    readonly code: SlmkitErrorCode,
    message: string,
  ) {
    super(message);
  }
}

async function handle(request: SessionCall): Promise<[unknown, ArrayBuffer[]?]> {
  switch (request.op) {
    case 'create': {
      session = await native(() => loadOrtSession(request.model, request.options));
      const info: WireSessionInfo = {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        inputMetadata: session.inputMetadata,
        outputMetadata: session.outputMetadata,
      };
      return [info];
    }
    case 'run': {
      const current = liveSession();
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, wire] of Object.entries(request.feeds)) {
        feeds[name] = new ort.Tensor(wire.type, wire.data as never, wire.dims);
      }
      const { residentFeeds } = request;
      for (let i = 0; i < residentFeeds.length; i += 2) {
        const name = current.inputNames[residentFeeds[i]];
        const tensor = residentTensors.get(residentFeeds[i + 1]);
        if (!tensor) throw new Refusal('INVALID_INPUT', `Input "${name}" was disposed and cannot be used.`);
        feeds[name] = tensor;
      }
      const outputs = await native(() => current.run(feeds));
      const kept = new Set(request.resident);
      const data: Record<string, WireData> = {};
      const resident: number[] = [];
      const transfer: ArrayBuffer[] = [];
      current.outputNames.forEach((name, index) => {
        const tensor = outputs[name];
        if (kept.has(index)) {
          const handle = nextHandle++;
          residentTensors.set(handle, tensor);
          resident.push(index, handle, tensor.dims.length, ...tensor.dims);
        } else {
          // onnxruntime-node gives every output its own buffer, so it can move without a copy.
          const values = tensor.data as NumericData;
          data[name] = { type: tensor.type as WireData['type'], dims: tensor.dims, data: values };
          transfer.push(values.buffer as ArrayBuffer);
        }
      });
      const result: WireRunResult = { data, resident: Int32Array.from(resident) };
      return [result, transfer];
    }
    case 'read': {
      const tensor = residentTensors.get(request.handle);
      if (!tensor) throw new Refusal('DISPOSED', 'This resident tensor was disposed and cannot be read.');
      const data = (tensor.data as NumericData).slice();
      return [data, [data.buffer as ArrayBuffer]];
    }
    case 'slice': {
      const { axis, length } = request;
      const sources = Array.from(request.handles, (handle) => {
        const tensor = residentTensors.get(handle);
        if (!tensor) throw new Refusal('DISPOSED', 'This resident tensor was disposed and cannot be sliced.');
        return tensor;
      });
      const handles = sources.map((source) => {
        const handle = nextHandle++;
        residentTensors.set(handle, sliceTensor(source, axis, length));
        return handle;
      });
      return [Int32Array.from(handles)];
    }
    case 'release': {
      residentTensors.clear();
      const released = session;
      session = undefined;
      if (released) await native(() => released.release());
      return [undefined];
    }
  }
}

/**
 * The first `length` entries along `axis` of `tensor`, in a new tensor. The main thread checked
 * `axis` and `length` (slicedDims of @slmkit/core/backend, whose sliceAlongAxis this loop is: this
 * thread does not load @slmkit/core).
 */
function sliceTensor(tensor: ort.Tensor, axis: number, length: number): ort.Tensor {
  const { dims } = tensor;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const rows = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const from = dims[axis] * inner;
  const keep = length * inner;
  const source = tensor.data as Float32Array;
  const target = new (source.constructor as Float32ArrayConstructor)(rows * keep);
  for (let row = 0; row < rows; row++) target.set(source.subarray(row * from, row * from + keep), row * keep);
  return new ort.Tensor(
    tensor.type as 'float32',
    target,
    dims.map((size, i) => (i === axis ? length : size)),
  );
}

/**
 * Runs a native onnxruntime-node call, counted in the exit guard so that the process does not exit
 * in the middle of it; refused once the process is exiting. The count goes up before the flag is
 * read and the main thread sets the flag before it reads the count, so one of them sees the other.
 */
async function native<T>(call: () => Promise<T>): Promise<T> {
  Atomics.add(guard, GUARD_BUSY, 1);
  try {
    if (Atomics.load(guard, GUARD_EXITING) !== 0) {
      throw new Refusal('RUNTIME_ERROR', 'The process is exiting: the session runs nothing more.');
    }
    return await call();
  } finally {
    Atomics.sub(guard, GUARD_BUSY, 1);
    Atomics.notify(guard, GUARD_BUSY);
  }
}

function liveSession(): ort.InferenceSession {
  if (!session) throw new Refusal('DISPOSED', 'The session was released.');
  return session;
}
