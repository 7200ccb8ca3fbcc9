import type { DecoderSignature } from '../model/decoder-signature.js';
import type { SessionValue, TensorData } from '../spec/backend.js';
import { isResident } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';

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

/**
 * The past keys and values of a batch: owns the values (host tensors, or resident ones the session
 * keeps where it runs), knows how many positions they hold, can be cut back to a prefix, copied, and
 * read out, and frees resident values as soon as they are replaced or the cache is released (so
 * memory never holds more than one generation of the cache).
 */
export class KvCache {
  /** By past input name, in the signature's layer order (key, value per layer). */
  private values = new Map<string, SessionValue>();
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
    const { numKeyValueHeads, headDim, kvType } = signature;
    let i = 0;
    for (const name of this.names()) {
      const data = host?.[i++] ?? allocate(signature, 0);
      this.values.set(name, { type: kvType, dims: [batchSize, numKeyValueHeads, length, headDim], data });
    }
    this.length = length;
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

  /** Takes a run's present.* outputs as the new past and frees the old past. */
  update(outputs: Readonly<Record<string, SessionValue>>, newLength: number): void {
    this.assertLive();
    this.disposeAll();
    for (const layer of this.signature.kvLayers) {
      this.values.set(layer.pastKey, outputs[layer.presentKey]);
      this.values.set(layer.pastValue, outputs[layer.presentValue]);
    }
    this.length = newLength;
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
    const cut = this.sliced(await this.read(), length);
    this.replaceWithHost(cut, length);
  }

  /**
   * An independent copy of the first `length` positions (default: all), as host values: the next
   * run sends them to the session once.
   */
  async copy(length = this.length): Promise<KvCache> {
    if (!Number.isInteger(length) || length > this.length || length < 0) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `Cannot copy ${length} positions of a KV cache of ${this.length}.`,
      );
    }
    const data = await this.read();
    const copies =
      length === this.length ? (data.map((d) => d.slice()) as TensorData[]) : this.sliced(data, length);
    return new KvCache(this.signature, this.batchSize, copies, length);
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

  /** The first `length` positions of each [batch, heads, this.length, headDim] array. */
  private sliced(sources: readonly TensorData[], length: number): TensorData[] {
    const { numKeyValueHeads, headDim } = this.signature;
    const rows = this.batchSize * numKeyValueHeads;
    return sources.map((source) => {
      const target = allocate(this.signature, rows * length * headDim);
      const from = source as Float32Array | Uint16Array;
      for (let row = 0; row < rows; row++) {
        const start = row * this.length * headDim;
        target.set(from.subarray(start, start + length * headDim) as never, row * length * headDim);
      }
      return target;
    });
  }

  private replaceWithHost(data: readonly TensorData[], length: number): void {
    const { numKeyValueHeads, headDim, kvType } = this.signature;
    this.disposeAll();
    this.names().forEach((name, i) => {
      this.values.set(name, {
        type: kvType,
        dims: [this.batchSize, numKeyValueHeads, length, headDim],
        data: data[i],
      });
    });
    this.length = length;
  }

  private disposeAll(): void {
    for (const value of this.values.values()) if (isResident(value)) value.dispose();
  }

  private assertLive(): void {
    if (this.released) throw new SlmkitError('DISPOSED', 'This KV cache was released.');
  }
}
