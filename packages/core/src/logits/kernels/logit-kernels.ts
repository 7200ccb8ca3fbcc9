import { LOGIT_KERNELS_WASM_BASE64 } from './logit-kernels-wasm.js';

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  argmax(n: number): number;
  blockMaxima(n: number, out: number): number;
  indicesAtLeast(n: number, threshold: number, out: number): number;
}

/** Values per block of `blockMaxima` (fixed in logit-kernels.wat). */
export const KERNEL_BLOCK = 64;

/**
 * WebAssembly SIMD scans over one row of logits (logit-kernels.wat). A plain JavaScript loop over a
 * 152k vocabulary takes 0.2–0.6 ms depending on how V8 optimised it; these take about a quarter of
 * that, copy included. One instance per thread; the row is copied into its memory by {@link load}.
 */
export class LogitKernels {
  private values = new Float32Array(0);
  private length = 0;
  /** Where the block maxima and the found indices go: after the row, 16-byte aligned. */
  private maximaOffset = 0;
  private indicesOffset = 0;

  private constructor(private readonly exports: KernelExports) {}

  /** The kernels, or undefined where WebAssembly SIMD is unavailable (callers use plain loops). */
  static create(): LogitKernels | undefined {
    if (typeof WebAssembly !== 'object') return undefined;
    const bytes = decodeBase64(LOGIT_KERNELS_WASM_BASE64);
    if (!WebAssembly.validate(bytes)) return undefined;
    // A 1.3 KB module: compiling synchronously is allowed everywhere, even on a browser's main thread.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    return new LogitKernels(instance.exports as unknown as KernelExports);
  }

  /** Copies `row` in; the other methods work on it until the next load. */
  load(row: Float32Array): void {
    this.length = row.length;
    this.maximaOffset = align(row.length * 4);
    this.indicesOffset = this.maximaOffset + align(Math.ceil(row.length / KERNEL_BLOCK) * 4);
    // Room for the row, its block maxima and (worst case) every index.
    const needed = this.indicesOffset + row.length * 4;
    const { memory } = this.exports;
    if (memory.buffer.byteLength < needed) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    }
    if (this.values.buffer !== memory.buffer) this.values = new Float32Array(memory.buffer);
    this.values.set(row);
  }

  /** Index of the largest value (first on ties, NaN never wins, 0 when there is none). */
  argmax(): number {
    return this.exports.argmax(this.length);
  }

  /** The largest value of each block of {@link KERNEL_BLOCK} values (NaN ignored). */
  blockMaxima(): Float32Array {
    const blocks = this.exports.blockMaxima(this.length, this.maximaOffset);
    return new Float32Array(this.exports.memory.buffer, this.maximaOffset, blocks);
  }

  /** Indices of the values >= `threshold`, ascending. Valid until the next call. */
  indicesAtLeast(threshold: number): Int32Array {
    const count = this.exports.indicesAtLeast(this.length, threshold, this.indicesOffset);
    return new Int32Array(this.exports.memory.buffer, this.indicesOffset, count);
  }
}

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
