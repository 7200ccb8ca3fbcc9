import type { Tensor } from 'onnxruntime-common';
import type { Backend } from './backend.js';
import type { DecoderSignature } from './decoder-io.js';
import { SlmkitError } from './errors.js';

type KvData = Float32Array | Uint16Array;

/**
 * The past keys and values of one batch: owns the tensors, knows how many positions they hold, can
 * be cut back to a prefix, and releases its tensors as soon as they are replaced or the cache is
 * released (so memory never holds more than one generation of the cache).
 */
export class KvCache {
  private tensors: Map<string, Tensor>;
  private released = false;
  /** Positions (tokens, including left padding) held per sequence. */
  length = 0;

  constructor(
    private readonly backend: Backend,
    private readonly signature: DecoderSignature,
    readonly batchSize: number,
  ) {
    this.tensors = new Map();
    const { numKeyValueHeads, headDim, kvType } = signature;
    const empty = kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    for (const layer of signature.kvLayers) {
      for (const name of [layer.pastKey, layer.pastValue]) {
        this.tensors.set(
          name,
          backend.createTensor(kvType, empty, [batchSize, numKeyValueHeads, 0, headDim]),
        );
      }
    }
  }

  /** Puts the past tensors into a run's feeds, keyed by input name. */
  addFeedsTo(feeds: Record<string, Tensor>): void {
    this.assertLive();
    for (const [name, tensor] of this.tensors) feeds[name] = tensor;
  }

  /** Takes a run's present.* outputs as the new past and frees the old past tensors. */
  update(outputs: Record<string, Tensor>, newLength: number): void {
    this.assertLive();
    this.disposeAll();
    for (const layer of this.signature.kvLayers) {
      this.tensors.set(layer.pastKey, outputs[layer.presentKey]);
      this.tensors.set(layer.pastValue, outputs[layer.presentValue]);
    }
    this.length = newLength;
  }

  /**
   * Keeps only the first `length` positions (for reusing a shared prefix). Async because a backend
   * may keep the cache where its session runs (see `RunOptions.residentOutputs`).
   */
  async truncate(length: number): Promise<void> {
    this.assertLive();
    if (length > this.length || length < 0) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `Cannot truncate a KV cache of ${this.length} positions to ${length}.`,
      );
    }
    if (length === this.length) return;
    const { numKeyValueHeads, headDim, kvType } = this.signature;
    const rows = this.batchSize * numKeyValueHeads;
    const names = [...this.tensors.keys()];
    // All at once: reading a resident tensor is a round trip to where the session runs.
    const sources = (await Promise.all([...this.tensors.values()].map((t) => t.getData()))) as KvData[];
    const next = new Map<string, Tensor>();
    for (const [i, name] of names.entries()) {
      const source = sources[i];
      const target =
        kvType === 'float16'
          ? new Uint16Array(rows * length * headDim)
          : new Float32Array(rows * length * headDim);
      for (let row = 0; row < rows; row++) {
        const from = row * this.length * headDim;
        target.set(source.subarray(from, from + length * headDim), row * length * headDim);
      }
      next.set(
        name,
        this.backend.createTensor(kvType, target, [this.batchSize, numKeyValueHeads, length, headDim]),
      );
    }
    this.disposeAll();
    this.tensors = next;
    this.length = length;
  }

  /** Frees every tensor. The cache cannot be used afterwards. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.disposeAll();
    this.tensors.clear();
    this.released = true;
  }

  private disposeAll(): void {
    for (const tensor of this.tensors.values()) tensor.dispose();
  }

  private assertLive(): void {
    if (this.released) throw new SlmkitError('DISPOSED', 'This KV cache was released.');
  }
}
