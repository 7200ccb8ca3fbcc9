// @slmkit/web in a real browser: the tiny generated model loads from a local server, and greedy
// output equals the node backend's token for token, single- and multi-threaded; a second load is
// served from the Cache API without model requests.
import { describe, expect, it } from 'vitest';
import { ortDistDir } from '../../packages/web/tsup.browser.js';
import {
  hasChromium,
  MAX_NEW_TOKENS,
  openTestPage,
  PROMPTS,
  type SlmkitGlobal,
  type StaticServer,
  useBrowserSuite,
} from './harness.js';

interface PageRun {
  tokens: number[][];
  runtime: { executionProvider?: string; numThreads?: number; crossOriginIsolated: boolean };
  progress: { phase: string; file?: string; cached?: boolean }[];
  warnings: string[];
  ticks: number;
  generationMs: number;
}

/** Runs in the page: load the model from `modelUrl` and generate greedily for every prompt. */
async function runInPage(args: {
  modelUrl: string;
  prompts: number[][];
  maxNewTokens: number;
  device?: string;
  numThreads?: number;
  wasmPaths?: string;
}): Promise<PageRun> {
  const web = (globalThis as unknown as { slmkit: SlmkitGlobal }).slmkit;
  const warnings: string[] = [];
  const progress: PageRun['progress'] = [];
  const backend = web.createWebBackend({
    device: args.device as 'auto' | 'wasm' | 'webgpu' | 'webnn' | undefined,
    numThreads: args.numThreads,
    wasmPaths: args.wasmPaths,
    onWarning: (m) => warnings.push(m),
  });
  const model = await web.createModel(args.modelUrl, {
    backend,
    onProgress: (p) =>
      progress.push({
        phase: p.phase,
        file: 'file' in p ? p.file : undefined,
        cached: 'cached' in p ? p.cached : undefined,
      }),
  });
  const tokens: number[][] = [];
  // A 5 ms timer on the page keeps firing while the model generates on the main thread.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const start = performance.now();
  for (const inputIds of args.prompts) {
    tokens.push(
      (await model.generate({ inputIds }, { maxNewTokens: args.maxNewTokens, temperature: 0 })).tokenIds,
    );
  }
  const generationMs = performance.now() - start;
  clearInterval(timer);
  await model.dispose();
  return { tokens, runtime: backend.runtimeInfo(), progress, warnings, ticks, generationMs };
}

describe.skipIf(!hasChromium)('@slmkit/web in Chromium', () => {
  // /ort/: onnxruntime-web's runtime files, self-hosted apart from the bundle (the wasmPaths option).
  const suite = useBrowserSuite({ servers: ['plain', 'isolated'], mounts: { '/ort/': ortDistDir() } });

  const args = (server: StaticServer) => ({
    modelUrl: `${server.url}/models/tiny/`,
    prompts: PROMPTS,
    maxNewTokens: MAX_NEW_TOKENS,
  });

  it('single-threaded wasm (page not cross-origin isolated) matches node token for token', async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const run = await page.evaluate(runInPage, { ...args(suite.plain), device: 'wasm', numThreads: 2 });
    expect(run.tokens).toEqual(suite.reference);
    // Two threads were asked for, but without cross-origin isolation onnxruntime-web runs one.
    expect(run.runtime).toEqual({ executionProvider: 'wasm', numThreads: 1, crossOriginIsolated: false });
    // Generation on the main thread yields a macrotask before each run, so timers (and rendering) get
    // turns during generation; without it they would not run at all until it ends.
    const generated = run.tokens.flat().length;
    expect(run.ticks).toBeGreaterThan(generated / 4);
    expect(run.progress.at(-1)).toEqual({ phase: 'ready', file: undefined, cached: undefined });
    expect(
      run.progress.some((p) => p.phase === 'download' && p.file === 'onnx/model.onnx' && !p.cached),
    ).toBe(true);
    expect(suite.browser.foreignRequests).toEqual([]);
    await page.close();
  });

  it('multi-threaded wasm (cross-origin isolated page, runtime from wasmPaths) matches node token for token', async () => {
    const page = await openTestPage(suite.browser, suite.isolated);
    const run = await page.evaluate(runInPage, {
      ...args(suite.isolated),
      device: 'wasm',
      numThreads: 2,
      wasmPaths: '/ort/',
    });
    const wasm = suite.isolated
      .requests('')
      .filter((r) => r.path.endsWith('.wasm'))
      .map((r) => r.path);
    expect(wasm).toEqual(['/ort/ort-wasm-simd-threaded.wasm']);
    expect(run.runtime).toEqual({ executionProvider: 'wasm', numThreads: 2, crossOriginIsolated: true });
    expect(run.tokens).toEqual(suite.reference);
    expect(suite.browser.foreignRequests).toEqual([]);
    await page.close();
  });

  it('sessionOptions.intraOpNumThreads sets the wasm threads before the first session; another count later, or one contradicting numThreads, is INVALID_OPTION', async () => {
    const page = await openTestPage(suite.browser, suite.isolated);
    const run = await page.evaluate(
      async ({ modelUrl, prompt, maxNewTokens }) => {
        const web = (globalThis as unknown as { slmkit: SlmkitGlobal }).slmkit;
        const load = (intraOpNumThreads: number, numThreads?: number) => {
          const backend = web.createWebBackend({ device: 'wasm', numThreads });
          return web
            .createModel(modelUrl, { backend, sessionOptions: { intraOpNumThreads } })
            .then((model) => ({ model, runtime: backend.runtimeInfo() }));
        };
        const refused = (work: Promise<unknown>) =>
          work.then(
            () => ({ code: 'none', message: 'did not throw' }),
            (e) => ({ code: (e as { code?: string }).code, message: (e as Error).message }),
          );
        // Not onnxruntime-web's default (half the logical cores, at most 4), so the option shows.
        const wanted = Math.min(4, Math.ceil(navigator.hardwareConcurrency / 2)) === 2 ? 3 : 2;
        const first = await load(wanted);
        const { tokenIds } = await first.model.generate(
          { inputIds: prompt },
          { maxNewTokens, temperature: 0 },
        );
        // The same count again is fine: it is what the runtime runs with.
        const again = await load(wanted);
        await again.model.dispose();
        const other = await refused(load(1));
        const contradicting = await refused(load(wanted, 1));
        await first.model.dispose();
        return {
          wanted,
          runtime: first.runtime,
          tokenIds,
          again: again.runtime.numThreads,
          other,
          contradicting,
        };
      },
      { modelUrl: `${suite.isolated.url}/models/tiny/`, prompt: PROMPTS[0], maxNewTokens: MAX_NEW_TOKENS },
    );
    expect(run.runtime).toEqual({
      executionProvider: 'wasm',
      numThreads: run.wanted,
      crossOriginIsolated: true,
    });
    expect(run.tokenIds).toEqual(suite.reference[0]);
    expect(run.again).toBe(run.wanted);
    expect(run.other.code).toBe('INVALID_OPTION');
    expect(run.other.message).toMatch(
      /already runs with \d thread.*read only when its first session is created/,
    );
    expect(run.contradicting.code).toBe('INVALID_OPTION');
    expect(run.contradicting.message).toMatch(
      /numThreads \(1\) and sessionOptions\.intraOpNumThreads \(\d\)/,
    );
    await page.close();
  });

  it("a second page load is served from the Cache API (no model-file requests); device 'auto' picks wasm without a WebGPU adapter", async () => {
    const before = suite.plain.requests('/models/').length;
    expect(before).toBeGreaterThan(0);
    const page = await openTestPage(suite.browser, suite.plain);
    const run = await page.evaluate(runInPage, { ...args(suite.plain), device: 'auto' });
    expect(suite.plain.requests('/models/').slice(before)).toEqual([]);
    expect(run.runtime.executionProvider).toBe('wasm');
    expect(run.warnings).toEqual([]);
    expect(run.tokens).toEqual(suite.reference);
    const downloads = run.progress.filter((p) => p.phase === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads.every((p) => p.cached)).toBe(true);
    await page.close();
  });

  it("device 'webgpu' without an adapter falls back to wasm with a warning, not a crash", async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const gpu = await page.evaluate(runInPage, {
      ...args(suite.plain),
      prompts: PROMPTS.slice(0, 1),
      device: 'webgpu',
    });
    expect(gpu.runtime.executionProvider).toBe('wasm');
    expect(gpu.warnings).toHaveLength(1);
    expect(gpu.warnings[0]).toMatch(/WebGPU is not available.*no adapter.*falling back to wasm/);
    // The large WebGPU runtime was not even fetched.
    expect(suite.plain.requests('/slmkit/ort-wasm-simd-threaded.jsep')).toEqual([]);
    expect(gpu.tokens).toEqual(suite.reference.slice(0, 1));
    await page.close();
  });
});
