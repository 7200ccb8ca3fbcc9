import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describeOrtValues, type InferenceSession, type ModelFile, SlmkitError } from '@slmkit/core';
import type { InferenceSession as OrtSession, Tensor } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import type {
  SessionCall,
  SessionMessage,
  SessionReply,
  WireData,
  WireRunResult,
  WireSessionInfo,
} from './session-protocol.js';

/**
 * Loads `model` into onnxruntime-node on a worker thread of its own and returns a session that
 * runs there.
 *
 * Why: onnxruntime-node 1.30 runs a graph synchronously on the calling thread (its async `run` is
 * a setImmediate around a blocking call), so in-process every step blocks the application's event
 * loop for the whole run. And it returns every output in a fresh buffer, the whole KV cache each
 * step (about 50 MB at 1,000 tokens of context for a 135M model); that garbage makes V8 mark the
 * receiving thread's whole heap every step or two, so in-process decoding slows down with the
 * size of the *application's* heap (about 3x slower per token with 200 MB of live objects). Here
 * the cache stays on the session's thread (outputs named in `RunOptions.residentOutputs` come back
 * as handles), whose heap is a few megabytes; only the logits cross, moved without a copy.
 */
export async function createThreadedSession(
  model: ModelFile,
  options: OrtSession.SessionOptions,
): Promise<InferenceSession> {
  const thread = new SessionThread();
  try {
    const info = (await thread.request({
      op: 'create',
      model: { path: model.path, data: model.data, externalData: model.externalData },
      options,
    })) as WireSessionInfo;
    return threadedSession(thread, info);
  } catch (error) {
    await thread.stop();
    throw error;
  }
}

/** The session object: plain like `wrapOrtSession`'s, so wrappers can spread it. */
function threadedSession(thread: SessionThread, info: WireSessionInfo): InferenceSession {
  const outputMetadata = describeOrtValues(info.outputMetadata);
  const inputIndex = new Map(info.inputNames.map((name, index) => [name, index]));
  const outputIndex = new Map(info.outputNames.map((name, index) => [name, index]));
  /** The thread-side handle of each resident tensor this session returned. */
  const handles = new WeakMap<Tensor, number>();
  let released = false;

  const residentTensor = (name: string, handle: number, dims: readonly number[]): Tensor => {
    // onnxruntime-common has no location for "on another thread"; 'gpu-buffer' is its location for
    // data held elsewhere, read through `download` and freed through `dispose`, which is this.
    const tensor = ort.Tensor.fromGpuBuffer({ handle } as never, {
      dataType: outputMetadata[name].type as never,
      dims,
      download: async () => (await thread.request({ op: 'read', handle })) as never,
      dispose: () => thread.free(handle),
    });
    handles.set(tensor, handle);
    return tensor;
  };

  return {
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    inputMetadata: describeOrtValues(info.inputMetadata),
    outputMetadata,
    async run(feeds, options) {
      const data: Record<string, WireData> = {};
      const residentFeeds: number[] = [];
      for (const [name, tensor] of Object.entries(feeds)) {
        const handle = handles.get(tensor);
        const index = inputIndex.get(name);
        if (handle !== undefined && index !== undefined) {
          residentFeeds.push(index, handle);
        } else if (tensor.location === 'cpu') {
          data[name] = { type: tensor.type, dims: tensor.dims, data: tensor.data };
        } else {
          throw new SlmkitError(
            'INVALID_INPUT',
            index === undefined
              ? `"${name}" is not an input of this session; it has ${info.inputNames.join(', ')}.`
              : `Input "${name}" is a ${tensor.location} tensor that this session did not produce; feed CPU tensors or this session's own outputs.`,
          );
        }
      }
      // Names that are not outputs of this session match nothing: the option is a hint.
      const resident = Int32Array.from(options?.residentOutputs ?? [], (name) => outputIndex.get(name) ?? -1);
      const result = (await thread.request({
        op: 'run',
        feeds: data,
        residentFeeds: Int32Array.from(residentFeeds),
        resident,
      })) as WireRunResult;
      const outputs: Record<string, Tensor> = {};
      for (const [name, wire] of Object.entries(result.data)) {
        outputs[name] = new ort.Tensor(wire.type, wire.data as never, wire.dims);
      }
      const kept = result.resident;
      for (let i = 0; i < kept.length; i += 3 + kept[i + 2]) {
        const name = info.outputNames[kept[i]];
        outputs[name] = residentTensor(
          name,
          kept[i + 1],
          Array.from(kept.subarray(i + 3, i + 3 + kept[i + 2])),
        );
      }
      return outputs;
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await thread.request({ op: 'release' });
      } finally {
        await thread.stop();
      }
    },
  };
}

/** One worker thread and the requests waiting for its answers. */
class SessionThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private freed: number[] = [];
  private stopped: Error | undefined;

  constructor() {
    this.worker = spawnWorker();
    // An idle session must not keep the process alive; a request in flight does.
    this.worker.unref();
    this.worker.on('message', (reply: SessionReply) => this.settle(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) =>
      this.fail(new Error(`the onnxruntime-node thread exited${code ? ` with code ${code}` : ''}`)),
    );
  }

  request(call: SessionCall): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    const id = this.nextId++;
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.worker.ref();
    // The handles freed since the last message go along, before the call is handled.
    this.worker.postMessage({ ...call, id, free: this.takeFreed() } satisfies SessionMessage);
    return answer;
  }

  /**
   * Frees a resident tensor on the thread. Freed handles ride along with the next request (a step
   * frees the previous cache just before it asks for the next run); a macrotask later, they go
   * alone.
   */
  free(handle: number): void {
    if (this.stopped) return;
    if (this.freed.length === 0) {
      setImmediate(() => {
        if (this.freed.length === 0 || this.stopped) return;
        this.worker.postMessage({ op: 'free', free: this.takeFreed() } satisfies SessionMessage);
      });
    }
    this.freed.push(handle);
  }

  private takeFreed(): number[] {
    const freed = this.freed;
    this.freed = [];
    return freed;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = new Error('the session was released');
    await this.worker.terminate();
  }

  private settle(reply: SessionReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(new Error(reply.message));
  }

  private fail(cause: Error): void {
    this.stopped ??= cause;
    for (const waiting of this.pending.values()) waiting.reject(this.stoppedError());
    this.pending.clear();
  }

  private stoppedError(): Error {
    return new Error(`The session cannot run: ${this.stopped?.message}.`, { cause: this.stopped });
  }
}

/**
 * The worker's script beside this module: session-worker.js / .cjs in dist. From the TypeScript
 * sources (the test suite), session-worker.ts loaded through tsx, a devDependency.
 */
function spawnWorker(): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const script = new URL(`./session-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(script);
  const href = JSON.stringify(script.href);
  const load = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${href}, ${href}))`;
  return new Worker(load, { eval: true });
}
