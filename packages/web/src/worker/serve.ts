import { type LanguageModel, SlmkitError } from '@slmkit/core';
import { createWebBackend, type WebBackend, yieldToEventLoop } from '../backend.js';
import { createModel } from '../create-model.js';
import {
  type DistributiveOmit,
  isProtocolMessage,
  PROTOCOL,
  postError,
  type Reply,
  type Request,
} from './protocol.js';

/** The worker global scope slmkit talks through (`self` in a dedicated worker). */
export interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/**
 * Serves one model to the page from inside a dedicated Worker: the other half of
 * {@link createWorkerModel}. The prebuilt `worker.js` of the browser bundle calls it for you; in your
 * own worker module (e.g. with Vite) it is one line.
 *
 * @example
 * ```ts
 * // model-worker.ts
 * import { serveModelWorker } from '@slmkit/web';
 * serveModelWorker();
 * ```
 */
export function serveModelWorker(scope: WorkerScope = globalThis as unknown as WorkerScope): void {
  let model: LanguageModel | undefined;
  let loading = false;
  const controllers = new Map<number, AbortController>();
  const cancelled = new Set<number>();
  const post = (reply: DistributiveOmit<Reply, 'protocol'>) =>
    scope.postMessage({ protocol: PROTOCOL, ...reply });

  const requireModel = (): LanguageModel => {
    if (!model)
      throw new SlmkitError(
        'DISPOSED',
        'No model is loaded in this worker (it was disposed or failed to load).',
      );
    return model;
  };

  const handle = async (request: Request): Promise<unknown> => {
    switch (request.kind) {
      case 'load': {
        if (model || loading) {
          throw new SlmkitError(
            'INVALID_INPUT',
            'This worker already holds a model: use one worker per model.',
          );
        }
        const controller = new AbortController();
        controllers.set(request.id, controller);
        const { storage, ...options } = request.options;
        const backend: WebBackend = createWebBackend({
          ...options,
          onWarning: (message) => post({ id: request.id, kind: 'warning', message }),
        });
        loading = true;
        try {
          model = await createModel(request.source, {
            ...options,
            backend,
            storage: storage ?? 'cache',
            signal: controller.signal,
            onProgress: (progress) => post({ id: request.id, kind: 'progress', progress }),
          });
        } finally {
          loading = false;
        }
        return { config: model.config, runtime: backend.runtimeInfo() };
      }
      case 'stream': {
        const controller = new AbortController();
        controllers.set(request.id, controller);
        const stream = requireModel().stream(request.input as never, {
          ...request.options,
          signal: controller.signal,
        });
        for await (const chunk of stream) {
          post({ id: request.id, kind: 'chunk', chunk });
          // Let the page's cancel and abort messages in (onnxruntime-web's runs never yield by themselves).
          await yieldToEventLoop();
          if (cancelled.has(request.id)) break;
        }
        return stream.result;
      }
      case 'applyChatTemplate':
        return requireModel().applyChatTemplate(request.messages, request.templateVariables);
      case 'encode':
        return requireModel().tokenizer.encode(request.text ?? '');
      case 'decode':
        return requireModel().tokenizer.decode(request.ids ?? []);
      case 'dispose': {
        const current = model;
        model = undefined;
        await current?.dispose();
        return undefined;
      }
      case 'abort':
        controllers.get(request.id)?.abort(new SlmkitError('ABORTED', 'Aborted by the page.'));
        return undefined;
      case 'cancel':
        // Only while the stream runs: a late cancel would otherwise stay in the set forever.
        if (controllers.has(request.id)) cancelled.add(request.id);
        return undefined;
    }
  };

  scope.addEventListener('message', (event: MessageEvent) => {
    const request = event.data;
    if (!isProtocolMessage<Request>(request)) return;
    if (request.kind === 'abort' || request.kind === 'cancel') {
      void handle(request);
      return;
    }
    handle(request)
      .then(
        (value) => post({ id: request.id, kind: 'done', value }),
        (error) => post({ id: request.id, kind: 'error', error: postError(error) }),
      )
      .finally(() => {
        controllers.delete(request.id);
        cancelled.delete(request.id);
      });
  });
}
