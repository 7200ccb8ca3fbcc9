import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createModel } from '../../packages/node/src/create-model.js';
import { ensureModel } from '../fixtures/models.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./exit-child.mjs', import.meta.url));

/**
 * @slmkit/node (with core) from the current sources as one plain ES module plus its session-worker.js,
 * in a folder under .cache/ (so that onnxruntime-node and the other dependencies resolve from the
 * repository's node_modules). A child process starts in about half the time it takes through tsx
 * (whose worker thread loads tsx again), and it runs what the sources say, built or not.
 */
async function bundleNodePackage(): Promise<{ entry: string; folder: string }> {
  const folder = mkdtempSync(join(ROOT, '.cache', 'process-exit-'));
  await build({
    absWorkingDir: ROOT,
    entryPoints: {
      index: 'packages/node/src/index.ts',
      'session-worker': 'packages/node/src/session-worker.ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: folder,
    tsconfig: 'tsconfig.json',
    external: ['onnxruntime-*', '@huggingface/*'],
    logLevel: 'error',
  });
  return { entry: pathToFileURL(join(folder, 'index.js')).href, folder };
}

/** One try: how the child exits, when, and the exit code it must end with. */
interface Try {
  /**
   * A code: process.exit(code) from the child; 'sigint': its SIGINT handler calls process.exit(130);
   * 'throw': an exception nothing catches.
   */
  readonly how: number | 'sigint' | 'throw';
  /** During a long prefill (its first run asked for), or just after the first token of a short prompt stream. */
  readonly when: 'prefill' | 'decode';
  readonly code: number;
}

interface Ended extends Try {
  /** The exit code, or the signal that ended the child (SIGABRT: it aborted). */
  readonly ended: number | string;
  /**
   * What the child saw just before it exited (its "exiting:" line): the runs its stream had asked the
   * session thread for, the replies to them it had received, and the tokens streamed; undefined
   * when it printed none, or printed "finished".
   */
  readonly seen?: { readonly asked: number; readonly answered: number; readonly tokens: number };
  readonly stderr: string;
}

/**
 * Runs exit-child.mjs (a long generation on the session thread) until it ends. For 'sigint', this
 * process sends the real signal when the child says "exit now".
 */
function runChild(attempt: Try, entry: string, folder: string): Promise<Ended> {
  const args = [CHILD, entry, folder, String(attempt.how), attempt.when];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (attempt.how !== 'sigint' || signalled || !stdout.includes('exit now\n')) return;
    signalled = true;
    child.kill('SIGINT');
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  // A child that neither exits nor aborts (a hang) is ended after a while, and shows as SIGKILL.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        ...attempt,
        ended: code ?? signal ?? 'unknown',
        seen: seenBeforeExit(stdout),
        stderr: stderr.slice(-400),
      });
    });
  });
}

function seenBeforeExit(stdout: string): Ended['seen'] {
  const line = /^exiting: (\d+) (\d+) (\d+)$/m.exec(stdout);
  if (!line || stdout.includes('finished\n')) return undefined;
  const [asked, answered, tokens] = line.slice(1).map(Number);
  return { asked, answered, tokens };
}

/**
 * Whether the child exited in the phase it was meant to: during the prefill, the prefill's run was
 * asked for and not answered yet, and no token was streamed (so neither before the generation
 * started nor after the prefill); while decoding, after at least one token.
 */
function inPhase({ when, seen }: Ended): boolean {
  if (!seen) return false;
  if (when === 'decode') return seen.tokens >= 1;
  return seen.tokens === 0 && seen.asked === 1 && seen.answered === 0;
}

describe('exiting the process during a generation on the session thread', () => {
  let folder: string;
  let bundle: { entry: string; folder: string } | undefined;
  beforeAll(async () => {
    folder = await ensureModel('tiny');
    bundle = await bundleNodePackage();
  });
  afterAll(() => {
    if (bundle) rmSync(bundle.folder, { recursive: true, force: true });
  });

  it('exits with the requested code, 20 of 20 tries: process.exit(0), process.exit(3), and process.exit(130) from a SIGINT handler', async () => {
    // Before the exit guard, every exit during the prefill and some of those while decoding (2 of 10
    // in one run, up to half in others) aborted: "terminate called after throwing an instance of
    // 'Napi::Error'", SIGABRT (exit code 134 from a shell).
    const kinds: Try[] = [];
    for (const when of ['prefill', 'decode'] as const) {
      kinds.push({ how: 0, when, code: 0 }, { how: 3, when, code: 3 }, { how: 'sigint', when, code: 130 });
    }
    const tries = Array.from({ length: 20 }, (_, i) => kinds[i % kinds.length]);
    const ended: Ended[] = [];
    // In pairs: two cores, and each child has two busy threads of its own at times.
    for (let i = 0; i < tries.length; i += 2) {
      const pair = tries.slice(i, i + 2).map((attempt) => runChild(attempt, bundle!.entry, folder));
      ended.push(...(await Promise.all(pair)));
    }
    const wrong = ended.filter((e) => e.ended !== e.code || !inPhase(e));
    expect(wrong, `${ended.length - wrong.length} of ${ended.length} exited as requested`).toEqual([]);
  }, 90_000);

  it('exits with code 1 after an uncaught exception (before the exit guard, it aborted too)', async () => {
    const tries: Try[] = [
      { how: 'throw', when: 'prefill', code: 1 },
      { how: 'throw', when: 'decode', code: 1 },
    ];
    const ended = await Promise.all(tries.map((attempt) => runChild(attempt, bundle!.entry, folder)));
    expect(ended.filter((e) => e.ended !== e.code || !inPhase(e))).toEqual([]);
    expect(ended.map((e) => e.stderr)).toEqual([
      expect.stringContaining('uncaught, on purpose'),
      expect.stringContaining('uncaught, on purpose'),
    ]);
  });
});

describe('what the exit guard costs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('sends no message of its own: one request per step, as before', async () => {
    const folder = await ensureModel('tiny');
    const model = await createModel(folder, { prefixCache: false });
    try {
      await model.generate('Once upon a time', { maxNewTokens: 4, temperature: 0 });
      const posted: string[] = [];
      const post = Worker.prototype.postMessage;
      vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (
        this: Worker,
        ...args: Parameters<Worker['postMessage']>
      ) {
        posted.push((args[0] as { op: string }).op);
        return post.apply(this, args);
      });
      const { tokenIds } = await model.generate('Once upon a time', { maxNewTokens: 40, temperature: 0 });
      vi.restoreAllMocks();
      // Freed caches ride along with the next run; the last step's ones may go alone afterwards.
      const runs = posted.filter((op) => op === 'run').length;
      expect(runs).toBe(tokenIds.length);
      expect(posted.length - runs).toBeLessThanOrEqual(1);
    } finally {
      await model.dispose();
    }
  });
});
