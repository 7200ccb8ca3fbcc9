/**
 * The thread a threaded session runs on (see threaded-session.ts). It owns one onnxruntime-node
 * session and the outputs the main thread asked to keep here (the KV cache), so the tens of
 * megabytes onnxruntime-node allocates per run are collected by this thread's small heap instead
 * of the application's.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type {
  SessionCall,
  SessionMessage,
  SessionReply,
  WireSessionInfo,
  WireTensor,
} from './session-protocol.js';

if (!parentPort) throw new Error('session-worker.js runs as a worker thread of @slmkit/node.');
const port = parentPort;

/** The data of a numeric tensor (every tensor a decoder graph has). */
type NumericData = Exclude<ort.Tensor['data'], string[]>;

let session: ort.InferenceSession | undefined;
const resident = new Map<number, ort.Tensor>();
let nextHandle = 1;

port.on('message', (message: SessionMessage) => {
  if (message.op === 'free') {
    for (const handle of message.handles) resident.delete(handle);
    return;
  }
  answer(message.id, () => handle(message));
});

async function answer(id: number, work: () => Promise<[unknown, ArrayBuffer[]?]>): Promise<void> {
  try {
    const [value, transfer = []] = await work();
    const reply: SessionReply = { id, ok: true, value };
    try {
      port.postMessage(reply, transfer);
    } catch {
      // A buffer the runtime marked untransferable: send a copy instead.
      port.postMessage(reply);
    }
  } catch (error) {
    port.postMessage({
      id,
      ok: false,
      message: (error as Error).message ?? String(error),
    } satisfies SessionReply);
  }
}

async function handle(request: SessionCall): Promise<[unknown, ArrayBuffer[]?]> {
  switch (request.op) {
    case 'create': {
      const { model, options } = request;
      session = model.path
        ? await ort.InferenceSession.create(model.path, options)
        : await ort.InferenceSession.create(model.data as Uint8Array, {
            ...options,
            externalData: model.externalData?.map((file) => ({ ...file })),
          });
      const info: WireSessionInfo = {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        inputMetadata: session.inputMetadata,
        outputMetadata: session.outputMetadata,
      };
      return [info];
    }
    case 'run': {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, wire] of Object.entries(request.feeds)) feeds[name] = fromWire(wire);
      const outputs = await liveSession().run(feeds);
      const keep = new Set(request.resident);
      const wired: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, tensor] of Object.entries(outputs)) {
        if (keep.has(name)) {
          const handle = nextHandle++;
          resident.set(handle, tensor);
          wired[name] = { type: tensor.type, dims: tensor.dims, handle };
        } else {
          // onnxruntime-node gives every output its own buffer, so it can move without a copy.
          const data = tensor.data as NumericData;
          wired[name] = { type: tensor.type, dims: tensor.dims, data };
          transfer.push(data.buffer as ArrayBuffer);
        }
      }
      return [wired, transfer];
    }
    case 'read': {
      const data = (residentTensor(request.handle).data as NumericData).slice();
      return [data, [data.buffer as ArrayBuffer]];
    }
    case 'release': {
      resident.clear();
      await session?.release();
      session = undefined;
      return [undefined];
    }
  }
}

function fromWire(wire: WireTensor): ort.Tensor {
  if ('handle' in wire) return residentTensor(wire.handle);
  return new ort.Tensor(wire.type, wire.data as never, wire.dims);
}

function residentTensor(handle: number): ort.Tensor {
  const tensor = resident.get(handle);
  if (!tensor) throw new Error(`Tensor ${handle} was disposed and cannot be used.`);
  return tensor;
}

function liveSession(): ort.InferenceSession {
  if (!session) throw new Error('The session was released.');
  return session;
}
