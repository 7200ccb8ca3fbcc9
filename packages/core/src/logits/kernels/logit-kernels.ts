import { LOGIT_KERNELS_WASM_BASE64 } from './logit-kernels-wasm.js';

interface KernelExports {
  argmax(n: number): number;
  blockMaxima(n: number, out: number): number;
  indicesAtLeast(n: number, threshold: number, out: number): number;
}

/** Values per block of `blockMaxima` (fixed in logit-kernels.wat). */
export const KERNEL_BLOCK = 64;

const PAGE = 65536;

/**
 * Makes the kernels' memory of `pages` 64 KiB pages. It may throw (a RangeError when the engine
 * cannot reserve the address space); the kernels then decline the row and callers use plain loops.
 */
export type KernelMemoryFactory = (pages: number) => WebAssembly.Memory;

/**
 * A memory whose maximum is its initial size. An engine that bounds-checks in code (no trap handler:
 * 32-bit builds, `node --disable-wasm-trap-handler`) then reserves what the row needs (1.3 MB for a
 * 152k vocabulary) instead of the 4 GiB of an unbounded wasm32 memory. V8 with its trap handler
 * (64-bit desktop and server builds) reserves 10 GiB of address space for any wasm32 memory,
 * whatever its declared size: under `ulimit -v` 8 GB that fails, and the plain loops take over.
 */
const boundedMemory: KernelMemoryFactory = (pages) =>
  new WebAssembly.Memory({ initial: pages, maximum: pages });

/** Options of {@link LogitKernels.create}. */
export interface LogitKernelsOptions {
  /** Makes the memory for a row (default: one whose maximum is its initial size). Tests inject failures here. */
  readonly memory?: KernelMemoryFactory;
}

/**
 * WebAssembly SIMD scans over one row of logits (logit-kernels.wat). A plain JavaScript loop over a
 * 152k vocabulary takes 0.2–0.6 ms depending on how V8 optimised it; these take about a quarter of
 * that, copy included. One instance per thread; the row is copied into its memory by {@link load}.
 *
 * The memory is made on the first {@link load}, sized to the row, and made again (larger) for a
 * longer row. When the engine cannot make it, `load` returns false, and keeps returning false for
 * rows that long without trying again, so a caller falls back to its plain loops once per size,
 * not once per token.
 */
export class LogitKernels {
  private exports: KernelExports | undefined;
  private memory: WebAssembly.Memory | undefined;
  private values = new Float32Array(0);
  private length = 0;
  /** Where the block maxima and the found indices go: after the row, 16-byte aligned. */
  private maximaOffset = 0;
  private indicesOffset = 0;
  /** The smallest page count the engine refused: rows needing as many are declined at once. */
  private refusedPages = Number.POSITIVE_INFINITY;

  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly newMemory: KernelMemoryFactory,
  ) {}

  /**
   * The kernels, or undefined where WebAssembly SIMD is unavailable or compiling is not allowed (a
   * Content-Security-Policy without 'wasm-unsafe-eval'); callers then use plain loops.
   */
  static create(options: LogitKernelsOptions = {}): LogitKernels | undefined {
    if (typeof WebAssembly !== 'object') return undefined;
    const bytes = decodeBase64(LOGIT_KERNELS_WASM_BASE64);
    try {
      if (!WebAssembly.validate(bytes)) return undefined;
      // A 1.3 KB module: compiling synchronously is allowed everywhere, even on a browser's main thread.
      return new LogitKernels(new WebAssembly.Module(bytes), options.memory ?? boundedMemory);
    } catch {
      return undefined;
    }
  }

  /**
   * Copies `row` in; the other methods work on it until the next load. Returns false (and loads
   * nothing) when no memory for a row this long can be had; the other methods must not be called then.
   */
  load(row: Float32Array): boolean {
    const maximaOffset = align(row.length * 4);
    const indicesOffset = maximaOffset + align(Math.ceil(row.length / KERNEL_BLOCK) * 4);
    // Room for the row, its block maxima and (worst case) every index.
    const needed = indicesOffset + row.length * 4;
    if (!this.memory || this.memory.buffer.byteLength < needed) {
      const pages = Math.max(1, Math.ceil(needed / PAGE));
      if (pages >= this.refusedPages || !this.instantiate(pages)) return false;
    }
    this.length = row.length;
    this.maximaOffset = maximaOffset;
    this.indicesOffset = indicesOffset;
    this.values.set(row);
    return true;
  }

  /** Index of the largest value (first on ties, NaN never wins, 0 when there is none). */
  argmax(): number {
    return this.kernels().argmax(this.length);
  }

  /** The largest value of each block of {@link KERNEL_BLOCK} values (NaN ignored). */
  blockMaxima(): Float32Array {
    const blocks = this.kernels().blockMaxima(this.length, this.maximaOffset);
    return new Float32Array(this.values.buffer, this.maximaOffset, blocks);
  }

  /** Indices of the values >= `threshold`, ascending. Valid until the next call. */
  indicesAtLeast(threshold: number): Int32Array {
    const count = this.kernels().indicesAtLeast(this.length, threshold, this.indicesOffset);
    return new Int32Array(this.values.buffer, this.indicesOffset, count);
  }

  /** A memory of `pages` and an instance on it; false (remembered) when the engine cannot make them. */
  private instantiate(pages: number): boolean {
    try {
      const memory = this.newMemory(pages);
      const instance = new WebAssembly.Instance(this.module, { env: { memory } });
      this.exports = instance.exports as unknown as KernelExports;
      this.memory = memory;
      this.values = new Float32Array(memory.buffer);
      return true;
    } catch {
      // Out of address space (RangeError), or an engine that refuses for its own reasons: the
      // previous memory, if any, still serves shorter rows.
      this.refusedPages = Math.min(this.refusedPages, pages);
      return false;
    }
  }

  private kernels(): KernelExports {
    if (!this.exports) throw new Error('LogitKernels: load() a row first.');
    return this.exports;
  }
}

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
