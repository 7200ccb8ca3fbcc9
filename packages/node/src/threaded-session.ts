import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SlmkitError } from '@slmkit/core';
import {
  describeOrtValues,
  type InferenceSession,
  isResident,
  type ModelFile,
  type ResidentTensor,
  type SessionValue,
  type TensorData,
} from '@slmkit/core/backend';
import type { InferenceSession as OrtSession } from 'onnxruntime-common';
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
 * as {@link ResidentTensor}s holding a handle), whose heap is a few megabytes; only the logits
 * cross, moved without a copy.
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
  const handles = new WeakMap<ResidentTensor, number>();
  const disposed = new WeakSet<ResidentTensor>();
  let released = false;
  // Core passes the same list every step: its indices are looked up once per list, not once per run.
  let residentList: readonly string[] | undefined;
  let residentIndices = new Int32Array(0);

  const residentTensor = (name: string, handle: number, dims: readonly number[]): ResidentTensor => {
    const tensor: ResidentTensor = {
      resident: true,
      type: outputMetadata[name].type,
      dims,
      async read() {
        if (disposed.has(tensor)) {
          throw new SlmkitError('DISPOSED', `Output "${name}" was disposed and cannot be read.`);
        }
        return (await thread.request({ op: 'read', handle })) as TensorData;
      },
      dispose() {
        if (disposed.has(tensor)) return;
        disposed.add(tensor);
        thread.free(handle);
      },
    };
    handles.set(tensor, handle);
    return tensor;
  };

  const refuse = (message: string) => new SlmkitError('INVALID_INPUT', message);

  return {
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    inputMetadata: describeOrtValues(info.inputMetadata),
    outputMetadata,
    async run(feeds, options) {
      const data: Record<string, WireData> = {};
      const residentFeeds: number[] = [];
      for (const [name, value] of Object.entries(feeds) as [string, SessionValue][]) {
        if (!isResident(value)) {
          // A copy crosses (core may reuse a feed's buffer); only the caller's fields, not the object.
          data[name] = { type: value.type, dims: value.dims, data: value.data };
          continue;
        }
        const handle = handles.get(value);
        const index = inputIndex.get(name);
        if (handle === undefined) {
          throw refuse(
            `Input "${name}" is a resident tensor of another session; feed host tensors or this session's own outputs.`,
          );
        }
        if (index === undefined) {
          throw refuse(`"${name}" is not an input of this session; it has ${info.inputNames.join(', ')}.`);
        }
        // A disposed one goes too: the thread, which freed it with the batch before this call, refuses it.
        residentFeeds.push(index, handle);
      }
      const keep = options?.residentOutputs;
      if (keep !== residentList) {
        residentList = keep;
        // Names that are not outputs of this session match nothing: the option is a hint.
        residentIndices = Int32Array.from(keep ?? [], (name) => outputIndex.get(name) ?? -1);
      }
      const result = (await thread.request({
        op: 'run',
        feeds: data,
        residentFeeds: Int32Array.from(residentFeeds),
        resident: residentIndices,
      })) as WireRunResult;
      const outputs: Record<string, SessionValue> = result.data;
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
        // The thread frees every tensor it still holds along with the session.
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
    this.stopped = new SlmkitError('DISPOSED', 'the session was released');
    await this.worker.terminate();
  }

  private settle(reply: SessionReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(reply.code ? new SlmkitError(reply.code, reply.message) : new Error(reply.message));
  }

  private fail(cause: Error): void {
    this.stopped ??= cause;
    for (const waiting of this.pending.values()) waiting.reject(this.stoppedError());
    this.pending.clear();
  }

  private stoppedError(): Error {
    // Released on purpose (stop) or the thread died (worker error or exit).
    const code = this.stopped instanceof SlmkitError ? 'DISPOSED' : 'RUNTIME_ERROR';
    return new SlmkitError(code, `The session cannot run: ${this.stopped?.message}.`, {
      cause: this.stopped,
    });
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
