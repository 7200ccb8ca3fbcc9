import { SlmkitError } from '@slmkit/core';
import { abortedError } from '@slmkit/core/backend';
import {
  type DistributiveOmit,
  isProtocolMessage,
  PROTOCOL,
  type Reply,
  type Request,
  reviveError,
  type SequenceState,
} from './protocol.js';

/** The part of `Worker` slmkit uses (a `MessagePort` works too). */
export interface WorkerLike {
  /** Posts a request; `transfer` moves buffers (snapshot bytes the page made) instead of copying them. */
  postMessage(message: unknown, transfer?: Transferable[]): void;
  /** Listens for replies (`message`) and for the worker failing (`error`, `messageerror`). */
  addEventListener(type: string, listener: (event: Event) => void): void;
}

export type Handler = (reply: Reply) => void;

/** Options of one {@link Connection.call}. */
interface CallOptions {
  /** Aborts the request: the worker is told, and the promise rejects with ABORTED. */
  signal?: AbortSignal;
  /** Sees progress, warnings and chunks. */
  onEvent?: Handler;
  /** Buffers moved to the worker with the request. */
  transfer?: Transferable[];
  /**
   * After an abort, settle with the worker's reply instead of at once: the request is over only when
   * the worker says so (it reports the sequence's token ids, or keeps or frees what it made).
   */
  settleInWorker?: boolean;
}

/** Request/reply plumbing over one worker. */
export class Connection {
  private nextId = 1;
  private readonly handlers = new Map<number, Handler>();
  private failure: Error | undefined;
  /** Sees the sequence states of every final reply, before its request settles. */
  onSequences: ((states: readonly SequenceState[]) => void) | undefined;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (event) => {
      const reply = (event as MessageEvent).data;
      if (!isProtocolMessage<Reply>(reply)) return;
      if ((reply.kind === 'done' || reply.kind === 'error') && reply.sequences)
        this.onSequences?.(reply.sequences);
      this.handlers.get(reply.id)?.(reply);
    });
    const fail = (event: Event) => {
      const detail = (event as ErrorEvent).message;
      this.failure = new SlmkitError(
        'RUNTIME_ERROR',
        `The model worker failed${detail ? `: ${detail}` : ' (its script could not be loaded or threw at start)'}.`,
      );
      for (const [id, handler] of this.handlers) {
        handler({
          protocol: PROTOCOL,
          id,
          kind: 'error',
          error: { name: 'SlmkitError', message: this.failure.message, code: 'RUNTIME_ERROR' },
        });
      }
    };
    worker.addEventListener('error', fail);
    worker.addEventListener('messageerror', fail);
  }

  send(message: DistributiveOmit<Request, 'protocol'>, transfer: Transferable[] = []): void {
    this.worker.postMessage({ protocol: PROTOCOL, ...message }, transfer);
  }

  /** Sends a request; the promise settles with the worker's done/error reply. */
  call<T>(
    message: DistributiveOmit<Request, 'protocol' | 'id'>,
    options: CallOptions = {},
  ): { id: number; promise: Promise<T> } {
    const id = this.nextId++;
    const { signal, onEvent, transfer, settleInWorker } = options;
    const promise = new Promise<T>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      if (signal?.aborted) return reject(abortedError(signal, 'The operation was aborted.'));
      let aborted = false;
      const finish = () => {
        this.handlers.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        this.send({ id, kind: 'abort' });
        aborted = true;
        if (settleInWorker) return;
        finish();
        reject(abortedError(signal!, 'The operation was aborted.'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.handlers.set(id, (reply) => {
        if (reply.kind === 'done') {
          finish();
          resolve(reply.value as T);
        } else if (reply.kind === 'error') {
          finish();
          // The page's own abort reason, as when it rejects at once.
          reject(
            aborted && reply.error.code === 'ABORTED'
              ? abortedError(signal!, 'The operation was aborted.')
              : reviveError(reply.error),
          );
        } else {
          onEvent?.(reply);
        }
      });
      this.send({ ...message, id } as DistributiveOmit<Request, 'protocol'>, transfer);
    });
    return { id, promise };
  }
}
