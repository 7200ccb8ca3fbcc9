/**
 * How often each token occurs, kept incrementally for the penalties: a count per vocabulary entry,
 * the list of distinct tokens seen (what a penalty touches each step), and the accepted tokens in
 * order, so the last ones can be taken back (rollback).
 */
export class TokenCounts {
  readonly counts: Uint32Array;
  /** Distinct tokens with a count above 0, in no particular order. */
  readonly distinct: number[] = [];
  /** Where each token stands in `distinct` (valid while its count is above 0). */
  private readonly slot: Int32Array;
  /** Tokens added by `accept`, in order (the prompt's are not taken back). */
  private readonly accepted: number[] = [];

  constructor(private readonly vocabSize: number) {
    this.counts = new Uint32Array(vocabSize);
    this.slot = new Int32Array(vocabSize);
  }

  /** Counts `id` (ids outside the vocabulary are ignored); `undoable` ones can be rolled back. */
  add(id: number, undoable: boolean): void {
    if (!(id >= 0 && id < this.vocabSize)) return;
    if (this.counts[id]++ === 0) {
      this.slot[id] = this.distinct.length;
      this.distinct.push(id);
    }
    if (undoable) this.accepted.push(id);
  }

  /** Takes back the last `count` undoable tokens. */
  rollback(count: number): void {
    for (let i = 0; i < count && this.accepted.length > 0; i++) {
      const id = this.accepted.pop()!;
      if (--this.counts[id] === 0) {
        // Swap-remove from the distinct list.
        const last = this.distinct.pop()!;
        if (last !== id) {
          this.distinct[this.slot[id]] = last;
          this.slot[last] = this.slot[id];
        }
      }
    }
  }
}
