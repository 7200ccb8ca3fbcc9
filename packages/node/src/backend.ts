import { SlmkitError } from '@slmkit/core';
import { type Backend, toOrtSessionOptions, wrapOrtSession } from '@slmkit/core/backend';
import * as ort from 'onnxruntime-node';
import { loadOrtSession } from './load-ort-session.js';
import { createThreadedSession } from './threaded-session.js';

/** Options of {@link createNodeBackend}. */
export interface NodeBackendOptions {
  /**
   * Where each session runs. 'worker' (default): on a worker thread of its own, so your event loop
   * keeps running during each run (onnxruntime-node's runs block their thread), and the runtime's
   * per-step garbage (the whole KV cache, every step) stays out of your application's heap, so
   * decoding speed does not depend on how much memory the rest of your app holds. 'main': in the
   * calling thread, as plain onnxruntime-node does (saves the 0.1–0.3 ms per step of messaging).
   *
   * With 'worker', `process.exit()` during a generation (also from a SIGINT handler) first waits
   * for the run in progress on the thread to end, at most 60 s: onnxruntime-node aborts the whole
   * process when a thread is stopped in the middle of a run. A decoding step takes milliseconds, a
   * long prefill longer; the process then exits with the code you gave.
   *
   * If the thread dies (an error nothing on it caught, its heap out of memory), the model does not
   * recover: every later call (generate, stream, and a sequence's truncate, fork or save) fails
   * with SlmkitError 'RUNTIME_ERROR' saying so, and `dispose()` still resolves; load the model
   * again. The thread is not restarted, because the KV caches of the model's sequences and of its
   * prefix cache lived on it and are gone: a new thread would need the model loaded again anyway,
   * and the model's sequences would be left without the state their token ids describe.
   */
  sessionThread?: 'worker' | 'main';
}

/**
 * The onnxruntime-node backend. It loads .onnx files from a local path (external data files are
 * found beside it) or from bytes.
 *
 * @example
 * ```ts
 * import { createModel, createNodeBackend } from '@slmkit/node';
 * const model = await createModel('./models/tiny', { backend: createNodeBackend({ sessionThread: 'main' }) });
 * ```
 */
export function createNodeBackend(options: NodeBackendOptions = {}): Backend {
  const threaded = (options.sessionThread ?? 'worker') === 'worker';
  return {
    name: 'onnxruntime-node',
    async createSession(model, sessionOptions) {
      checkExecutionProviders(sessionOptions.executionProviders);
      const ortOptions = toOrtSessionOptions({ executionProviders: ['cpu'], ...sessionOptions });
      if (!model.path && !model.data) {
        throw new SlmkitError(
          'MODEL_FILE_MISSING',
          `${model.name} has neither a local path nor data to load.`,
        );
      }
      return threaded
        ? createThreadedSession(model, ortOptions)
        : wrapOrtSession(await loadOrtSession(model, ortOptions), ort.Tensor);
    },
  };
}

/** Refuses execution providers this onnxruntime-node build does not know, naming the ones it does. */
function checkExecutionProviders(requested: readonly string[] | undefined): void {
  const known = ort.listSupportedBackends().map((b) => b.name);
  const unknown = requested?.find((ep) => !known.includes(ep));
  if (unknown !== undefined) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Execution provider "${unknown}" is not available in onnxruntime-node; it knows ${known.join(', ')}.`,
    );
  }
}
