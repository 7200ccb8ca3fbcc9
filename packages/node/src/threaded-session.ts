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
  slicedDims,
  type TensorData,
} from '@slmkit/core/backend';
import type { InferenceSession as OrtSession } from 'onnxruntime-common';
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
    if (!thread.dead) throw error;
    throw new SlmkitError(
      'RUNTIME_ERROR',
      `The session thread (onnxruntime-node on a worker thread) ${thread.death} while it loaded ${model.name}.`,
      { cause: error },
    );
  }
}

/** The session object: plain like `wrapOrtSession`'s, so wrappers can spread it. */
function threadedSession(thread: SessionThread, info: WireSessionInfo): InferenceSession {
  const outputMetadata = describeOrtValues(info.outputMetadata);
  const inputIndex = new Map(info.inputNames.map((name, index) => [name, index]));
  const outputIndex = new Map(info.outputNames.map((name, index) => [name, index]));
  /** The thread-side handle of each resident tensor this session returned, and its output's name. */
  const handles = new WeakMap<ResidentTensor, { readonly handle: number; readonly name: string }>();
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
        try {
          return (await thread.request({ op: 'read', handle })) as TensorData;
        } catch (error) {
          throw runtimeFailure(`Reading output "${name}" from the session thread`, error);
        }
      },
      dispose() {
        if (disposed.has(tensor)) return;
        disposed.add(tensor);
        thread.free(handle);
      },
    };
    handles.set(tensor, { handle, name });
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
          // Structured clone copies the whole buffer under a view (core's attention mask is a view
          // of one buffer sized for the longest the run can get), so a view goes as an exact copy.
          const d = value.data;
          const exact = d.byteLength === d.buffer.byteLength ? d : (d.slice() as TensorData);
          data[name] = { type: value.type, dims: value.dims, data: exact };
          continue;
        }
        const handle = handles.get(value)?.handle;
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
    async sliceResident(tensors, axis, length) {
      const sources = tensors.map((tensor, i) => {
        const own = handles.get(tensor);
        if (own === undefined) {
          throw refuse(
            `tensors[${i}] is a resident tensor of another session; slice this session's own outputs.`,
          );
        }
        if (disposed.has(tensor)) {
          throw new SlmkitError('DISPOSED', `Output "${own.name}" was disposed and cannot be sliced.`);
        }
        return { ...own, dims: slicedDims(tensor.dims, axis, length) };
      });
      // One message for all of them; the thread keeps the slices and answers their handles.
      let sliced: Int32Array;
      try {
        sliced = (await thread.request({
          op: 'slice',
          handles: Int32Array.from(sources, (source) => source.handle),
          axis,
          length,
        })) as Int32Array;
      } catch (error) {
        throw runtimeFailure('Slicing resident outputs on the session thread', error);
      }
      return sources.map((source, i) => residentTensor(source.name, sliced[i], source.dims));
    },
    async release() {
      if (released) return;
      released = true;
      try {
        // The thread frees every tensor it still holds along with the session. A thread that died
        // holds nothing any more: there is nothing left to release.
        if (!thread.dead) await thread.request({ op: 'release' });
      } catch (error) {
        if (!thread.dead) throw runtimeFailure('Releasing the session', error);
      } finally {
        await thread.stop();
      }
    },
  };
}

/**
 * Threads whose native calls the process must let finish before it exits (see EXIT_GUARD_SLOTS in
 * session-protocol.ts), and the process 'exit' hook that waits for them, added with the first one.
 */
const guardedThreads = new Set<SessionThread>();
let exitHooked = false;

function guardExit(thread: SessionThread): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      const threads = [...guardedThreads];
      // First every thread refuses new calls, then each one's call in progress is waited for, all
      // within one bound (not one per thread: a process with many models would wait that many times).
      for (const each of threads) each.closeForExit();
      const deadline = performance.now() + EXIT_WAIT_MS;
      for (const each of threads) each.awaitNativeCalls(deadline);
    });
  }
  guardedThreads.add(thread);
}

/**
 * Longest a process exit waits for the native calls in progress, of all threads together. A decoding step takes milliseconds; a
 * long prefill of a large model on a CPU can take many seconds. The bound is for a thread that died
 * in the middle of a call before this thread heard of it (its count never goes back to 0): the
 * process then exits as it would without the wait.
 */
const EXIT_WAIT_MS = 60_000;

/** One worker thread and the requests waiting for its answers. */
class SessionThread {
  private readonly worker: Worker;
  private readonly guard = new Int32Array(new SharedArrayBuffer(EXIT_GUARD_SLOTS * 4));
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private freed: number[] = [];
  /** Why the thread takes no more requests: released on purpose (DISPOSED) or it died (RUNTIME_ERROR). */
  private stopped: SlmkitError | undefined;
  private howItDied: string | undefined;

  constructor() {
    this.worker = spawnWorker(this.guard.buffer as SharedArrayBuffer);
    guardExit(this);
    // An idle session must not keep the process alive; a request in flight does.
    this.worker.unref();
    this.worker.on('message', (reply: SessionReply) => this.settle(reply));
    this.worker.on('error', (error) => this.die(`crashed (${errorText(error)})`, error));
    this.worker.on('exit', (code) => this.die(code ? `exited with code ${code}` : 'exited'));
  }

  /** Whether the thread died (as opposed to running, or released on purpose). */
  get dead(): boolean {
    return this.howItDied !== undefined;
  }

  /** How the thread died ("exited with code 1", "crashed (TypeError: ...)"), once it did. */
  get death(): string | undefined {
    return this.howItDied;
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

  /** Ends the thread (the session was released, or never created). */
  async stop(): Promise<void> {
    guardedThreads.delete(this);
    if (this.stopped) {
      // It died (its worker has exited or is exiting), or this is a second call: terminate()
      // settles either way.
      await this.worker.terminate();
      return;
    }
    this.stopped = new SlmkitError('DISPOSED', 'The session was released and cannot run.');
    this.rejectPending();
    await this.worker.terminate();
  }

  /** At process exit: the thread starts no more native calls. */
  closeForExit(): void {
    Atomics.store(this.guard, GUARD_EXITING, 1);
  }

  /**
   * At process exit, after {@link closeForExit}: blocks until the thread's native call in progress
   * returns (or `deadline`, a `performance.now()` time, passes), so the process stops the thread
   * between calls.
   */
  awaitNativeCalls(deadline: number): void {
    for (;;) {
      const busy = Atomics.load(this.guard, GUARD_BUSY);
      const left = deadline - performance.now();
      if (busy === 0 || left <= 0) return;
      Atomics.wait(this.guard, GUARD_BUSY, busy, left);
    }
  }

  private settle(reply: SessionReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply.value);
    // Without a code, the runtime failed: the caller says what it was doing (read and slice here;
    // run and create in core, which wraps their errors).
    else waiting.reject(reply.code ? new SlmkitError(reply.code, reply.message) : new Error(reply.message));
  }

  /** The thread died: every request, waiting or to come, fails with what happened and what to do. */
  private die(what: string, cause?: unknown): void {
    guardedThreads.delete(this);
    if (this.stopped) return;
    this.howItDied = what;
    this.stopped = new SlmkitError(
      'RUNTIME_ERROR',
      `The session thread of this model (onnxruntime-node on a worker thread) ${what}. The ONNX Runtime session and the KV caches it held went with it (sequences and cached prefixes of this model included), so this model cannot run any more: dispose it and load the model again with createModel().`,
      { cause },
    );
    this.rejectPending();
  }

  private rejectPending(): void {
    for (const waiting of this.pending.values()) waiting.reject(this.stoppedError());
    this.pending.clear();
    this.worker.unref();
  }

  private stoppedError(): SlmkitError {
    // A new error per call, so each has its caller's stack; the first one is its cause.
    const stopped = this.stopped!;
    return new SlmkitError(stopped.code, stopped.message, { cause: stopped.cause ?? stopped });
  }
}

/** `error` as it reaches the caller: a SlmkitError as it is, a failure of the runtime as RUNTIME_ERROR. */
function runtimeFailure(doing: string, error: unknown): SlmkitError {
  if (error instanceof SlmkitError) return error;
  return new SlmkitError('RUNTIME_ERROR', `${doing} failed in onnxruntime-node: ${errorText(error)}`, {
    cause: error,
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The worker's script beside this module: session-worker.js / .cjs in dist. From the TypeScript
 * sources (the test suite), session-worker.ts loaded through tsx, a devDependency.
 */
function spawnWorker(guard: SharedArrayBuffer): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const script = new URL(`./session-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(script, { workerData: guard });
  const href = JSON.stringify(script.href);
  const load = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${href}, ${href}))`;
  return new Worker(load, { eval: true, workerData: guard });
}
