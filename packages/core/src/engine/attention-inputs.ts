/**
 * attention_mask and position_ids of a left-padded batch, kept up to date with work proportional to
 * the padding rather than the context: the mask lives in one buffer of ones, and each step only
 * moves the zeros of the padded positions to their new row offsets. The buffer grows with the
 * positions used, doubling (so a step costs O(1) amortized), up to the run's most positions: its
 * memory follows what is generated, not what a huge maxNewTokens or context window would allow.
 */
export class AttentionInputs {
  private mask = new BigInt64Array(0);
  /** The row length the zeros in `mask` are laid out for; -1 while it holds ones only. */
  private maskTotal = -1;
  private readonly positions: BigInt64Array;

  constructor(
    /** Left padding of each row. */
    private readonly padding: readonly number[],
    /** The most positions a row can reach in this run (prompt plus new tokens, within the window). */
    private readonly maxTotalLength: number,
  ) {
    this.positions = new BigInt64Array(padding.length);
  }

  /** The [batch, total] mask for a sequence of `total` positions. */
  maskFor(total: number): BigInt64Array {
    const rows = this.padding.length;
    if (rows * total > this.mask.length) {
      const doubled = Math.min(2 * (this.mask.length / rows), this.maxTotalLength);
      this.mask = new BigInt64Array(rows * Math.max(total, doubled)).fill(1n);
      this.maskTotal = -1;
    }
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
