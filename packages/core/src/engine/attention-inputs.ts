/**
 * attention_mask and position_ids of a left-padded batch, kept up to date with work proportional to
 * the padding rather than the context: the mask lives in one preallocated buffer of ones, and each
 * step only moves the zeros of the padded positions to their new row offsets.
 */
export class AttentionInputs {
  private readonly mask: BigInt64Array;
  private maskTotal = -1;
  private readonly positions: BigInt64Array;

  constructor(
    /** Left padding of each row. */
    private readonly padding: readonly number[],
    maxTotalLength: number,
  ) {
    this.mask = new BigInt64Array(padding.length * maxTotalLength).fill(1n);
    this.positions = new BigInt64Array(padding.length);
  }

  /** The [batch, total] mask for a sequence of `total` positions. */
  maskFor(total: number): BigInt64Array {
    const rows = this.padding.length;
    if (this.maskTotal !== -1) {
      for (let b = 0; b < rows; b++)
        this.mask.fill(1n, b * this.maskTotal, b * this.maskTotal + this.padding[b]);
    }
    for (let b = 0; b < rows; b++) this.mask.fill(0n, b * total, b * total + this.padding[b]);
    this.maskTotal = total;
    return this.mask.subarray(0, rows * total);
  }

  /** [batch, length] position ids for the prompt (padded positions get 1, as Hugging Face does). */
  prefillPositions(length: number, pastLength: number): BigInt64Array {
    const rows = this.padding.length;
    const ids = new BigInt64Array(rows * length);
    for (let b = 0; b < rows; b++) {
      for (let j = 0; j < length; j++) {
        const absolute = pastLength + j - this.padding[b];
        ids[b * length + j] = BigInt(absolute < 0 ? 1 : absolute);
      }
    }
    return ids;
  }

  /** [batch, 1] position ids of the token at absolute index `index` (counting padding). */
  stepPositions(index: number): BigInt64Array {
    for (let b = 0; b < this.padding.length; b++) this.positions[b] = BigInt(index - this.padding[b]);
    return this.positions;
  }
}
