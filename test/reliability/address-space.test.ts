import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

/** 8 GB of address space (`ulimit -v` counts KiB), as on many phones, containers and CI sandboxes. */
const LIMIT_KIB = 8_000_000;

interface ChildResult {
  greedy: number[];
  sampled: number[];
  /** Whether the child could make any WebAssembly memory (V8 with its trap handler reserves 10 GiB for one). */
  wasmMemory: boolean;
  /** Every WebAssembly memory asked for while generating (the SIMD logit kernels'), and whether it was made. */
  memories: { initial: number; maximum?: number; made: boolean }[];
}

/**
 * Runs address-space-child.ts in a fresh process, under `ulimit -v limitKiB` when given. Under the
 * limit, tsx's loader fails to make its own WebAssembly lexer in a promise nobody awaits;
 * `--unhandled-rejections=warn` lets it go on with its JavaScript lexer instead of ending the process.
 */
async function runChild(dir: string, limitKiB?: number): Promise<ChildResult> {
  const script = fileURLToPath(new URL('./address-space-child.ts', import.meta.url));
  const command = `${limitKiB ? `ulimit -v ${limitKiB} && ` : ''}exec "$0" --unhandled-rejections=warn --import tsx "$1" "$2"`;
  try {
    const { stdout } = await promisify(execFile)('bash', ['-c', command, process.execPath, script, dir], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    return JSON.parse(stdout);
  } catch (error) {
    // The child's stderr without its stack frames (Vitest would try to read their files' source maps).
    const stderr = String((error as { stderr?: string }).stderr ?? error);
    const lines = stderr.split('\n').filter((line) => line.trim() && !/^\s+at /.test(line));
    throw new Error(
      `the child failed${limitKiB ? ` under ulimit -v ${limitKiB}` : ''}:\n${lines.slice(-6).join('\n')}`,
    );
  }
}

describe.skipIf(process.platform !== 'linux')('under an address-space limit (ulimit -v 8 GB)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await ensureModel('tiny');
  });

  it('generate works on the plain loops, with the same tokens as the SIMD kernels give without the limit', async () => {
    const [limited, free] = await Promise.all([runChild(dir, LIMIT_KIB), runChild(dir)]);
    // Without the limit, the kernels made their memory (one, sized to the 32k row, kept for every
    // token): the SIMD path chose the tokens.
    expect(free.wasmMemory).toBe(true);
    const pages = free.memories[0]?.initial;
    expect(pages).toBeGreaterThan(0);
    expect(free.memories).toEqual([{ initial: pages, maximum: pages, made: true }]);
    // V8 with its trap handler (64-bit Linux) cannot make any wasm memory under the limit: the
    // kernels asked for the same memory once, were refused, declined every later row at once, and
    // the sampler's plain loops chose these tokens.
    expect(limited.wasmMemory).toBe(false);
    expect(limited.memories).toEqual([{ initial: pages, maximum: pages, made: false }]);
    expect(limited.greedy).toHaveLength(12);
    expect(limited.greedy).toEqual(free.greedy);
    expect(limited.sampled).toHaveLength(12);
    expect(limited.sampled).toEqual(free.sampled);
  });
});
