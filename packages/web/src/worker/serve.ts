import { type CachedPrefix, type LocalLanguageModel, type Sequence, SlmkitError } from '@slmkit/core';
import { createWebBackend, type WebBackend } from '../backend.js';
import { createModel } from '../create-model.js';
import {
  type DistributiveOmit,
  isProtocolMessage,
  type LoadedInfo,
  PROTOCOL,
  type PrefixInfo,
  postError,
  type Reply,
  type Request,
  type SequenceState,
  sequenceDisposedError,
} from './protocol.js';

/** The worker global scope slmkit talks through (`self` in a dedicated worker). */
export interface WorkerScope {
  /** Posts a reply; `transfer` moves buffers (a saved snapshot's bytes) instead of copying them. */
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Where the page's requests arrive. */
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/** The sequences a request used, whose token ids its reply reports. */
function sequencesOf(request: Request): number[] {
  switch (request.kind) {
    case 'stream':
      return request.sequence === undefined ? [] : [request.sequence];
    case 'createSequence':
    case 'restoreSequence':
    case 'truncate':
    case 'save':
      return [request.sequence];
    case 'fork':
      return [request.sequence, request.target];
    default:
      return [];
  }
}

/**
 * Serves one model to the page from inside a dedicated Worker: the other half of
 * {@link createWorkerModel}. The model is loaded with {@link createModel}, so downloads and prefixes
 * saved with `cachePrefix(…, { persist: true })` share its storage (the Cache API or OPFS of the
 * origin) and survive a page reload. Sequences (and so chats) keep their KV caches here, under ids
 * the page chooses; every reply of a request that used a sequence carries its token ids. The
 * prebuilt `worker.js` of the browser bundle calls this for you; in your own worker module (e.g.
 * with Vite) it is one line.
 *
 * @example
 * ```ts
 * // model-worker.ts
 * import { serveModelWorker } from '@slmkit/web';
 * serveModelWorker();
 * ```
 */
export function serveModelWorker(scope: WorkerScope = globalThis as unknown as WorkerScope): void {
  let model: LocalLanguageModel | undefined;
  let loading = false;
  const controllers = new Map<number, AbortController>();
  const cancelled = new Set<number>();
  const sequences = new Map<number, Sequence>();
  // Prefixes pinned by cachePrefix, under the id of the request that pinned them.
  const prefixes = new Map<number, CachedPrefix>();
  const post = (reply: DistributiveOmit<Reply, 'protocol'>, transfer: Transferable[] = []) =>
    scope.postMessage({ protocol: PROTOCOL, ...reply }, transfer);

  const requireModel = (): LocalLanguageModel => {
    if (!model)
      throw new SlmkitError(
        'DISPOSED',
        'No model is loaded in this worker (it was disposed or failed to load).',
      );
    return model;
  };

  const requireSequence = (id: number): Sequence => {
    requireModel();
    const sequence = sequences.get(id);
    if (!sequence) throw sequenceDisposedError();
    return sequence;
  };

  const stateOf = (request: Request): SequenceState[] | undefined => {
    const states: SequenceState[] = [];
    for (const id of sequencesOf(request)) {
      const sequence = sequences.get(id);
      if (sequence && !sequence.disposed) states.push({ id, tokenIds: sequence.tokenIds });
    }
    return states.length > 0 ? states : undefined;
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
        return { config: model.config, runtime: backend.runtimeInfo() } satisfies LoadedInfo;
      }
      case 'stream': {
        const controller = new AbortController();
        controllers.set(request.id, controller);
        const sequence = request.sequence === undefined ? undefined : requireSequence(request.sequence);
        const options = { ...request.options, sequence, signal: controller.signal };
        // The page's generate() needs the result only: no chunk crosses the boundary.
        if (!request.chunks) return requireModel().generate(request.input as never, options);
        const stream = requireModel().stream(request.input as never, options);
        // The page's cancel and abort messages come in while the backend yields before each run.
        for await (const chunk of stream) {
          post({ id: request.id, kind: 'chunk', chunk });
          if (cancelled.has(request.id)) break;
        }
        return stream.result;
      }
      case 'applyChatTemplate':
        return requireModel().applyChatTemplate(request.messages, request.templateVariables);
      case 'encode':
        return requireModel().encode(request.text, { addSpecialTokens: request.addSpecialTokens });
      case 'decode':
        return requireModel().decode(request.ids);
      case 'countTokens':
        return requireModel().countTokens(request.prompt, request.templateVariables);
      case 'cachePrefix': {
        const controller = new AbortController();
        controllers.set(request.id, controller);
        const prefix = await requireModel().cachePrefix(request.prompt, {
          ...request.options,
          signal: controller.signal,
        });
        prefixes.set(request.id, prefix);
        return { tokenCount: prefix.tokenCount, source: prefix.source } satisfies PrefixInfo;
      }
      case 'releasePrefix': {
        const prefix = prefixes.get(request.prefix);
        prefixes.delete(request.prefix);
        await prefix?.release();
        return undefined;
      }
      case 'createSequence':
        // Synchronously, on arrival: the page may use the id in its very next message.
        sequences.set(request.sequence, requireModel().createSequence());
        return undefined;
      case 'restoreSequence':
        sequences.set(request.sequence, await requireModel().restoreSequence(request.snapshot));
        return undefined;
      case 'truncate':
        await requireSequence(request.sequence).truncate(request.length);
        return undefined;
      case 'fork':
        sequences.set(request.target, await requireSequence(request.sequence).fork());
        return undefined;
      case 'save':
        return requireSequence(request.sequence).save();
      case 'disposeSequence': {
        const sequence = sequences.get(request.sequence);
        sequences.delete(request.sequence);
        await sequence?.dispose();
        return undefined;
      }
      case 'dispose': {
        const current = model;
        model = undefined;
        await current?.dispose();
        // The model freed its sequences and prefixes.
        sequences.clear();
        prefixes.clear();
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

  const fail = (request: Request, error: unknown) =>
    post({ id: request.id, kind: 'error', error: postError(error), sequences: stateOf(request) });

  scope.addEventListener('message', (event: MessageEvent) => {
    const request = event.data;
    if (!isProtocolMessage<Request>(request)) return;
    if (request.kind === 'abort' || request.kind === 'cancel') {
      void handle(request);
      return;
    }
    handle(request)
      .then(
        (value) => {
          // A saved snapshot moves to the page instead of being copied.
          const transfer =
            request.kind === 'save' && value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : [];
          try {
            post({ id: request.id, kind: 'done', value, sequences: stateOf(request) }, transfer);
          } catch (error) {
            // The value could not be posted (DataCloneError): the page must still hear back.
            fail(request, error);
          }
        },
        (error) => fail(request, error),
      )
      .finally(() => {
        controllers.delete(request.id);
        cancelled.delete(request.id);
      });
  });
}
