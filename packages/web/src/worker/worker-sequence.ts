import type { Sequence } from '@slmkit/core';
import type { Connection } from './connection.js';
import { sequenceDisposedError } from './protocol.js';

/** What a {@link WorkerSequence} needs from its model. */
export interface SequenceHost {
  readonly connection: Connection;
  /** The model's live proxies by id; replies update their token ids through it. */
  readonly live: Map<number, WorkerSequence>;
  /** A fresh sequence id. */
  nextId(): number;
  /** Throws DISPOSED when the model was disposed. */
  assertUsable(): void;
}

/**
 * The page's handle on a {@link Sequence} that lives in the worker (its KV cache is on the worker's
 * backend), named by an id. `tokenIds` is what the worker reported with the last reply that
 * changed it: a stream on the sequence (also a cancelled or failed one), `truncate`, a restore.
 */
export class WorkerSequence implements Sequence {
  private tokens: readonly number[] = [];
  private isDisposed = false;

  constructor(
    private readonly host: SequenceHost,
    readonly id: number,
  ) {
    host.live.set(id, this);
  }

  get tokenIds(): readonly number[] {
    return this.tokens;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Whether this sequence belongs to `host`'s model. */
  belongsTo(host: SequenceHost): boolean {
    return this.host === host;
  }

  /** The tokens the worker's sequence now holds: the array of a reply, which this proxy now owns. */
  update(tokenIds: readonly number[]): void {
    this.tokens = Object.freeze(tokenIds);
  }

  async truncate(length: number): Promise<void> {
    this.assertLive();
    await this.host.connection.call<void>({ kind: 'truncate', sequence: this.id, length }).promise;
  }

  async fork(): Promise<Sequence> {
    this.assertLive();
    // Registered first: the fork's reply reports the copy's token ids.
    const copy = new WorkerSequence(this.host, this.host.nextId());
    try {
      await this.host.connection.call<void>({ kind: 'fork', sequence: this.id, target: copy.id }).promise;
    } catch (error) {
      copy.forget();
      throw error;
    }
    return copy;
  }

  /** The snapshot bytes, moved (not copied) from the worker. */
  async save(): Promise<Uint8Array> {
    this.assertLive();
    return this.host.connection.call<Uint8Array>({ kind: 'save', sequence: this.id }).promise;
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.forget();
    // After any generation still running on it (the worker's sequence waits for it).
    await this.host.connection.call<void>({ kind: 'disposeSequence', sequence: this.id }).promise;
  }

  /** Marks the proxy disposed without telling the worker (its sequence is gone or never was). */
  forget(): void {
    this.isDisposed = true;
    this.host.live.delete(this.id);
  }

  /** Throws DISPOSED when the sequence or its model was disposed. */
  assertLive(): void {
    this.host.assertUsable();
    if (this.isDisposed) throw sequenceDisposedError();
  }
}
