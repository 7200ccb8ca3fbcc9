import { SlmkitError } from '../spec/errors.js';
import { KERNEL_BLOCK, LogitKernels } from './kernels/logit-kernels.js';

/** How the next token is chosen. `temperature: 0` means greedy (argmax). */
export interface SamplingParams {
  /** Softmax temperature (0 = greedy). */
  readonly temperature: number;
  /** Keep only the k most likely tokens (0 = off). */
  readonly topK: number;
  /** Keep the smallest set of most likely tokens whose probability adds up to topP (1 = off). */
  readonly topP: number;
  /** Drop tokens less likely than minP × the most likely token's probability (0 = off). */
  readonly minP: number;
}

/** Rows at least this long go through the SIMD kernels (below, copying them in costs more than it saves). */
const KERNEL_MIN_LENGTH = 2048;

let kernels: LogitKernels | null | undefined;
/**
 * The SIMD kernels (created on first use) with `values` loaded; undefined where WebAssembly SIMD is
 * unavailable or its memory cannot be had (out of address space: the kernels remember that and
 * decline at once from then on), and the callers use their plain loops.
 */
function simdKernels(values: Float32Array): LogitKernels | undefined {
  if (kernels === undefined) kernels = LogitKernels.create() ?? null;
  return kernels?.load(values) ? kernels : undefined;
}

/** Index of the largest value (the first one on ties; NaN is never the largest; 0 when there is none). */
export function argmax(values: Float32Array): number {
  const simd = values.length >= KERNEL_MIN_LENGTH ? simdKernels(values) : undefined;
  if (simd) return simd.argmax();
  let best = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * Writes the indices of the `count` largest `values` into `out[0..count)`, largest first.
 *
 * On long rows the SIMD kernels first narrow the search: the `count`-th largest of the maxima of
 * blocks of 64 values is a lower bound for the `count`-th largest value (each of those blocks holds
 * a value at least that large), so only the values at or above it (a few times `count`, usually)
 * go through the heap.
 */
export function topIndices(values: Float32Array, count: number, out: Int32Array): void {
  const simd =
    values.length >= KERNEL_MIN_LENGTH && count * KERNEL_BLOCK <= values.length
      ? simdKernels(values)
      : undefined;
  let candidates: Int32Array | undefined;
  if (simd) {
    const maxima = simd.blockMaxima();
    heapTopIndices(maxima, undefined, count, out);
    const atLeast = simd.indicesAtLeast(maxima[out[count - 1]]);
    // Fewer only when whole blocks are NaN; then everything is scanned.
    if (atLeast.length >= count) candidates = atLeast;
  }
  heapTopIndices(values, candidates, count, out);
}

/**
 * The `count` largest of `values` (only at the indices in `candidates`, when given), largest
 * first, into `out`. A min-heap of size `count` costs about one comparison per value for the
 * usual small counts, so nothing ever sorts the whole vocabulary.
 */
function heapTopIndices(
  values: Float32Array,
  candidates: Int32Array | undefined,
  count: number,
  out: Int32Array,
): void {
  const heap = out;
  // NaN counts as the smallest value, so it never stays in the heap while a number could take its place.
  const less = (a: number, b: number) => {
    const x = values[heap[a]];
    const y = values[heap[b]];
    return x < y || (Number.isNaN(x) && !Number.isNaN(y));
  };
  const siftDown = (start: number, size: number) => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) return;
      const right = left + 1;
      const smallest = right < size && less(right, left) ? right : left;
      if (!less(smallest, i)) return;
      const t = heap[i];
      heap[i] = heap[smallest];
      heap[smallest] = t;
      i = smallest;
    }
  };
  /** The smallest value kept so far (-Infinity for NaN): most values are below it and cost one comparison. */
  const floor = () => {
    const value = values[heap[0]];
    return Number.isNaN(value) ? Number.NEGATIVE_INFINITY : value;
  };
  const total = candidates ? candidates.length : values.length;
  for (let i = 0; i < count; i++) heap[i] = candidates ? candidates[i] : i;
  for (let i = (count >> 1) - 1; i >= 0; i--) siftDown(i, count);
  let threshold = floor();
  for (let i = count; i < total; i++) {
    const index = candidates ? candidates[i] : i;
    if (values[index] > threshold) {
      heap[0] = index;
      siftDown(0, count);
      threshold = floor();
    }
  }
  // Heap sort in place: repeatedly move the smallest to the end, which leaves the order descending.
  for (let end = count - 1; end > 0; end--) {
    const t = heap[0];
    heap[0] = heap[end];
    heap[end] = t;
    siftDown(0, end);
  }
}

/**
 * Samples token ids from logits with temperature, top-k, top-p and min-p, in Hugging Face's order
 * (temperature, then top-k, top-p, min-p). Scratch buffers are allocated once per sampler.
 */
export class TokenSampler {
  /** Scratch buffers, sized to the logits on first use (a graph may have more logits than vocab_size says). */
  private probs = new Float32Array(0);
  private order = new Int32Array(0);
  /**
   * The last draw's distribution: the `keptCount` most likely tokens (every truncation keeps a
   * prefix of the tokens in order of their logits), with unnormalised probabilities in `probs`
   * adding up to `keptMass`.
   */
  private keptCount = 0;
  private keptMass = 0;
  private topScratch = new Int32Array(0);

  constructor(
    private readonly params: SamplingParams,
    private readonly random: () => number,
  ) {}

  sample(logits: Float32Array): number {
    const { temperature, topK, topP, minP } = this.params;
    if (temperature === 0) {
      // Greedy has nothing to choose either when no logit is a number above -Infinity.
      const best = argmax(logits);
      this.checkedMax(logits[best]);
      return best;
    }
    const vocab = logits.length;
    if (this.probs.length !== vocab) {
      this.probs = new Float32Array(vocab);
      this.order = new Int32Array(vocab);
    }
    const { probs, order } = this;
    let count: number;
    let total = 0;
    if (topK > 0 && topK < vocab) {
      // Top-k first, on the logits themselves (exp keeps their order): one comparison per token, and
      // exponentials only for the k kept, instead of for the whole vocabulary.
      count = topK;
      topIndices(logits, count, order);
      const max = this.checkedMax(logits[order[0]]);
      for (let i = 0; i < count; i++) {
        const id = order[i];
        probs[id] = Math.exp((logits[id] - max) / temperature);
        total += probs[id];
      }
    } else {
      const max = this.checkedMax(logits[argmax(logits)]);
      // Unnormalised probabilities; the most likely token has exactly 1, which makes min-p a plain threshold.
      for (let i = 0; i < vocab; i++) {
        // A NaN logit gets probability 0: it is never drawn and adds nothing to the mass.
        const p = Math.exp((logits[i] - max) / temperature) || 0;
        probs[i] = p;
        total += p;
      }
      if (topP >= 1) return this.drawAll(probs, minP);
      // Top-p alone: the nucleus is usually a few tokens, found among the 64 most likely; when it
      // is not (a flat distribution), a selection by mass finds it in time linear in the vocabulary.
      count = Math.min(vocab, 64);
      topIndices(probs, count, order);
      let mass = 0;
      for (let i = 0; i < count; i++) mass += probs[order[i]];
      if (mass < topP * total) {
        count = nucleusIndices(probs, topP * total, order);
        return this.draw(probs, order, minP > 0 ? keepAtLeast(probs, order, count, minP) : count);
      }
    }
    let keep = count;
    if (topP < 1) {
      const target = topP * total;
      let cumulative = 0;
      for (let i = 0; i < count; i++) {
        cumulative += probs[order[i]];
        if (cumulative >= target) {
          keep = i + 1;
          break;
        }
      }
    }
    if (minP > 0) keep = keepAtLeast(probs, order, keep, minP);
    return this.draw(probs, order, keep);
  }

  /**
   * Log-probabilities of `tokenId` (the token just sampled from `logits`) and of the `top` most
   * likely tokens, in the distribution it was drawn from: with sampling, the temperature-scaled
   * softmax renormalised over what top-k, top-p and min-p kept (the alternatives are kept tokens
   * only); greedy, the softmax of the logits (temperature 1, nothing cut). Alternatives of
   * probability 0 are left out. Call right after
   * {@link TokenSampler.sample} on the same logits.
   */
  logprobs(tokenId: number, logits: Float32Array, top: number): { logprob: number; top: [number, number][] } {
    let logprob: (id: number) => number;
    let available = logits.length;
    if (this.params.temperature === 0) {
      const max = logits[argmax(logits)];
      let total = 0;
      for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i] - max) || 0;
      const logTotal = Math.log(total);
      logprob = (id) => logits[id] - max - logTotal;
    } else {
      const { probs, keptMass } = this;
      logprob = (id) => Math.log(probs[id] / keptMass);
      available = this.keptCount;
    }
    const count = Math.min(top, available);
    if (this.topScratch.length < count) this.topScratch = new Int32Array(count);
    if (count > 0) topIndices(logits, count, this.topScratch);
    const alternatives: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const id = this.topScratch[i];
      const value = logprob(id);
      // Tokens of probability 0 (masked, banned) are no alternatives.
      if (value > Number.NEGATIVE_INFINITY) alternatives.push([id, value]);
    }
    return { logprob: logprob(tokenId), top: alternatives };
  }

  /** Draws one of `order[0..keep)` in proportion to `probs`. */
  private draw(probs: Float32Array, order: Int32Array, keep: number): number {
    let mass = 0;
    for (let i = 0; i < keep; i++) mass += probs[order[i]];
    this.keptCount = keep;
    this.keptMass = mass;
    let u = this.random() * mass;
    for (let i = 0; i < keep - 1; i++) {
      u -= probs[order[i]];
      if (u < 0) return order[i];
    }
    return order[keep - 1];
  }

  /** `max` (the largest logit), after checking that there is something to sample. */
  private checkedMax(max: number): number {
    if (!(max > Number.NEGATIVE_INFINITY)) {
      throw new SlmkitError(
        'INVALID_INPUT',
        'Every token has a logit of -Infinity or NaN: nothing can be chosen (check logitBias and logits processors).',
      );
    }
    return max;
  }

  /** Draws from the whole distribution, minus tokens under the min-p threshold. */
  private drawAll(probs: Float32Array, minP: number): number {
    let mass = 0;
    let kept = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] >= minP) {
        mass += probs[i];
        kept++;
      }
    }
    this.keptCount = kept;
    this.keptMass = mass;
    let u = this.random() * mass;
    let last = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] < minP) continue;
      last = i;
      u -= probs[i];
      if (u < 0) return i;
    }
    return last;
  }
}

/**
 * Keeps the tokens of `order[0..count)` at least `minP` likely (probabilities relative to the most
 * likely token's 1, which always stays), in their order; returns how many.
 */
function keepAtLeast(probs: Float32Array, order: Int32Array, count: number, minP: number): number {
  let kept = 0;
  for (let i = 0; i < count; i++) if (probs[order[i]] >= minP) order[kept++] = order[i];
  return kept;
}

/**
 * Writes into `out` the smallest set of most likely tokens whose `probs` add up to `target` (in no
 * particular order) and returns its size: a quickselect by mass, which partitions around a pivot
 * and keeps only the side where the boundary lies, so it takes time linear in the vocabulary where
 * ordering the tokens would not.
 */
function nucleusIndices(probs: Float32Array, target: number, out: Int32Array): number {
  const n = probs.length;
  for (let i = 0; i < n; i++) out[i] = i;
  // out[0..lo) is in the nucleus, out[lo..hi) undecided, out[hi..n) out of it.
  let lo = 0;
  let hi = n;
  let need = target;
  while (lo < hi && need > 0) {
    const pivot = medianOfThree(probs[out[lo]], probs[out[(lo + hi) >> 1]], probs[out[hi - 1]]);
    // Three-way partition of the undecided: [> pivot | = pivot | < pivot].
    let gt = lo;
    let i = lo;
    let lt = hi;
    let above = 0;
    while (i < lt) {
      const id = out[i];
      const p = probs[id];
      if (p > pivot) {
        out[i++] = out[gt];
        out[gt++] = id;
        above += p;
      } else if (p < pivot) {
        out[i] = out[--lt];
        out[lt] = id;
      } else i++;
    }
    if (above >= need) {
      hi = gt;
      continue;
    }
    need -= above;
    // Tokens of probability 0 are never drawn: the nucleus ends before them.
    if (!(pivot > 0)) return gt;
    const equal = lt - gt;
    if (equal * pivot >= need) return gt + Math.min(equal, Math.ceil(need / pivot));
    need -= equal * pivot;
    lo = lt;
  }
  return Math.max(lo, 1);
}

function medianOfThree(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}
