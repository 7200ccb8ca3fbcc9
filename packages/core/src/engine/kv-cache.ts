import type { DecoderSignature } from '../model/decoder-signature.js';
import type { InferenceSession, ResidentTensor, SessionValue, TensorData } from '../spec/backend.js';
import { isResident } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import { sliceAlongAxis } from './slice-axis.js';

/** The sequence axis of a KV array, [batch, heads, sequence, headDim]. */
const SEQUENCE_AXIS = 2;

/** Bytes per element of the KV types decoders use. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = { float32: 4, float16: 2 };

/** Bytes of keys and values one position of one sequence takes, over all layers. */
export function kvBytesPerPosition(signature: DecoderSignature): number {
  const element = ELEMENT_BYTES[signature.kvType] ?? 4;
  return signature.kvLayers.length * 2 * signature.numKeyValueHeads * signature.headDim * element;
}

function allocate(signature: DecoderSignature, elements: number): Float32Array | Uint16Array {
  return signature.kvType === 'float16' ? new Uint16Array(elements) : new Float32Array(elements);
}

/** New KV values: resident ones of `session`, or host arrays (in layer order). */
type Sliced =
  | { readonly session: InferenceSession; readonly resident: readonly ResidentTensor[] }
  | { readonly host: readonly TensorData[] };

/**
 * The past keys and values of a batch: owns the values (host tensors, or resident ones the session
 * keeps where it runs), knows how many positions they hold, can be cut back to a prefix, copied, and
 * read out, and frees resident values as soon as they are replaced or the cache is released (so
 * memory never holds more than one generation of the cache). Cutting back and copying happen where
 * resident values live when their session can slice them there (`InferenceSession.sliceResident`),
 * else in this thread.
 */
export class KvCache {
  /** By past input name, in the signature's layer order (key, value per layer). */
  private values = new Map<string, SessionValue>();
  /** The session whose resident outputs `values` are, when they are (not host arrays). */
  private residentIn: InferenceSession | undefined;
  private released = false;
  /** Positions (tokens, including left padding) held per sequence. */
  length = 0;

  constructor(
    private readonly signature: DecoderSignature,
    readonly batchSize: number,
    /** Per past input, in layer order: `length` positions of keys or values, [batch, heads, length, headDim]. */
    host?: readonly TensorData[],
    length = 0,
  ) {
    this.replaceWithHost(host ?? this.names().map(() => allocate(signature, 0)), length);
  }

  /** Bytes the cache holds. */
  get bytes(): number {
    return this.length * this.batchSize * kvBytesPerPosition(this.signature);
  }

  /** Puts the past values into a run's feeds, keyed by input name. */
  addFeedsTo(feeds: Record<string, SessionValue>): void {
    this.assertLive();
    for (const [name, value] of this.values) feeds[name] = value;
  }

  /** Takes the present.* outputs of a run of `session` as the new past and frees the old past. */
  update(
    outputs: Readonly<Record<string, SessionValue>>,
    newLength: number,
    session: InferenceSession,
  ): void {
    this.assertLive();
    this.replace(
      this.signature.kvLayers.flatMap((layer) => [outputs[layer.presentKey], outputs[layer.presentValue]]),
      newLength,
      session,
    );
  }

  /**
   * Copies every past value to this thread, in layer order. Async because a resident value lives
   * where its session runs; all are read at once (each read is a round trip).
   */
  async read(): Promise<TensorData[]> {
    this.assertLive();
    try {
      return await Promise.all(
        [...this.values.values()].map((value) => (isResident(value) ? value.read() : value.data)),
      );
    } catch (cause) {
      if (cause instanceof SlmkitError) throw cause;
      throw new SlmkitError(
        'RUNTIME_ERROR',
        `Reading the KV cache from where the session keeps it failed: ${(cause as Error)?.message ?? cause}`,
        { cause },
      );
    }
  }

  /** Keeps only the first `length` positions of every sequence. */
  async truncate(length: number): Promise<void> {
    this.assertLive();
    if (!Number.isInteger(length) || length > this.length || length < 0) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `Cannot truncate a KV cache of ${this.length} positions to ${length}.`,
      );
    }
    if (length === this.length) return;
    this.take(await this.sliced(length), length);
  }

  /**
   * An independent copy of the first `length` positions (default: all): resident values of the same
   * session where it can slice them, else host values that the next run sends to the session once.
   */
  async copy(length = this.length): Promise<KvCache> {
    this.assertLive();
    if (!Number.isInteger(length) || length > this.length || length < 0) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `Cannot copy ${length} positions of a KV cache of ${this.length}.`,
      );
    }
    const copy = new KvCache(this.signature, this.batchSize);
    copy.take(await this.sliced(length), length);
    return copy;
  }

  /** Frees every value. The cache cannot be used afterwards. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.disposeAll();
    this.values.clear();
    this.released = true;
  }

  private names(): string[] {
    return this.signature.kvLayers.flatMap((layer) => [layer.pastKey, layer.pastValue]);
  }

  /**
   * New values holding the first `length` positions (a copy of all of them at `this.length`): sliced
   * by the session where resident values live when it can, in one call for all layers; else read
   * into this thread and sliced here, as host arrays.
   */
  private async sliced(length: number): Promise<Sliced> {
    const values = [...this.values.values()];
    const session = this.residentIn;
    if (session?.sliceResident && values.every(isResident)) {
      try {
        return { session, resident: await session.sliceResident(values, SEQUENCE_AXIS, length) };
      } catch (cause) {
        if (cause instanceof SlmkitError) throw cause;
        throw new SlmkitError(
          'RUNTIME_ERROR',
          `Slicing the KV cache where the session keeps it failed: ${(cause as Error)?.message ?? cause}`,
          { cause },
        );
      }
    }
    const dims = [this.batchSize, this.signature.numKeyValueHeads, this.length, this.signature.headDim];
    const data = await this.read();
    return { host: data.map((d) => sliceAlongAxis(d, dims, SEQUENCE_AXIS, length)) };
  }

  /** Frees the old values and takes what {@link sliced} gave. */
  private take(sliced: Sliced, length: number): void {
    if ('host' in sliced) this.replaceWithHost(sliced.host, length);
    else this.replace(sliced.resident, length, sliced.session);
  }

  private replaceWithHost(data: readonly TensorData[], length: number): void {
    const { numKeyValueHeads, headDim, kvType } = this.signature;
    const dims = [this.batchSize, numKeyValueHeads, length, headDim];
    this.replace(
      data.map((d) => ({ type: kvType, dims, data: d })),
      length,
      undefined,
    );
  }

  /** Frees the old values and takes `values` (in layer order), resident ones of `session`. */
  private replace(
    values: readonly SessionValue[],
    length: number,
    session: InferenceSession | undefined,
  ): void {
    this.disposeAll();
    this.names().forEach((name, i) => {
      this.values.set(name, values[i]);
    });
    this.residentIn = session;
    this.length = length;
  }

  private disposeAll(): void {
    for (const value of this.values.values()) if (isResident(value)) value.dispose();
  }

  private assertLive(): void {
    if (this.released) throw new SlmkitError('DISPOSED', 'This KV cache was released.');
  }
}
