import type { DecoderSignature } from '../model/decoder-signature.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { Sequence } from '../spec/sequence.js';
import type { CallQueue } from './call-queue.js';
import { KvCache } from './kv-cache.js';
import { decodeSequenceSnapshot, encodeSequenceSnapshot } from './sequence-snapshot.js';

/** What a sequence needs from the model it belongs to. */
export interface SequenceHost {
  readonly signature: DecoderSignature;
  /** The model's call queue: a sequence's own operations wait for running generations. */
  readonly queue: CallQueue;
  /** The graph's identity, for snapshots. */
  fingerprint(): Promise<string>;
  /** Throws DISPOSED when the model was disposed. */
  assertUsable(): void;
  /** Called when a sequence is created and when it is disposed (the model frees live ones at dispose). */
  track(sequence: LocalSequence, live: boolean): void;
}

/** A {@link Sequence} of an in-process model: a batch-of-one KV cache and the token ids it holds. */
export class LocalSequence implements Sequence {
  private tokens: number[];
  private isDisposed = false;

  constructor(
    private readonly host: SequenceHost,
    /** @internal The cache; the engine runs on it and replaces nothing but its contents. */
    readonly cache: KvCache = new KvCache(host.signature, 1),
    tokens: readonly number[] = [],
  ) {
    this.tokens = [...tokens];
    host.track(this, true);
  }

  get tokenIds(): readonly number[] {
    return this.tokens;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** @internal Whether this sequence belongs to `host`'s model. */
  belongsTo(host: SequenceHost): boolean {
    return this.host === host;
  }

  /** @internal After a run: the tokens the cache now holds. */
  setTokens(tokens: readonly number[]): void {
    this.tokens = [...tokens];
  }

  async truncate(length: number): Promise<void> {
    await this.exclusive(async () => {
      if (!Number.isInteger(length) || length < 0 || length > this.tokens.length) {
        throw new SlmkitError(
          'INVALID_INPUT',
          `truncate(${showValue(length)}): the sequence holds ${this.tokens.length} tokens; pass an integer from 0 to ${this.tokens.length}.`,
        );
      }
      await this.cache.truncate(length);
      this.tokens.length = length;
    });
  }

  async fork(): Promise<Sequence> {
    return this.exclusive(async () => new LocalSequence(this.host, await this.cache.copy(), this.tokens));
  }

  async save(): Promise<Uint8Array> {
    return this.exclusive(() => encodeSequenceSnapshot(this.host, this.cache, this.tokens));
  }

  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.host.track(this, false);
    // After any generation still running on it.
    await this.host.queue.run(async () => this.cache.release());
  }

  /** @internal Frees the cache at once (the model is being disposed). */
  releaseNow(): void {
    this.isDisposed = true;
    this.cache.release();
  }

  /** Throws DISPOSED when the sequence or its model was disposed. */
  assertLive(): void {
    this.host.assertUsable();
    if (this.isDisposed) {
      throw new SlmkitError(
        'DISPOSED',
        'This sequence was disposed; create a new one with model.createSequence().',
      );
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.assertLive();
    return this.host.queue.run(async () => {
      this.assertLive();
      return work();
    });
  }
}

/** Turns `sequence.save()` bytes back into a sequence of the model `host` belongs to. */
export async function restoreSequence(host: SequenceHost, snapshot: Uint8Array): Promise<LocalSequence> {
  host.assertUsable();
  const { cache, tokens } = await decodeSequenceSnapshot(host, snapshot);
  return new LocalSequence(host, cache, tokens);
}
