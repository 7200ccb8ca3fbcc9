import { SlmkitError } from '@slmkit/core';
import {
  type Backend,
  type InferenceSession,
  type ModelFile,
  type SessionOptions,
  toOrtSessionOptions,
  wrapOrtSession,
} from '@slmkit/core/backend';
import type * as OrtWeb from 'onnxruntime-web';

/** An onnxruntime-web module (`onnxruntime-web`, `onnxruntime-web/wasm`, ...). */
export type OrtWebModule = typeof OrtWeb;

// Two builds of onnxruntime-web, loaded on first use: the lean wasm-only one (its runtime,
// ort-wasm-simd-threaded.{mjs,wasm}, starts about twice as fast), and the JSEP one that adds WebGPU
// and WebNN (ort-wasm-simd-threaded.jsep.{mjs,wasm}).
const importWasmBuild = () => import('onnxruntime-web/wasm') as Promise<OrtWebModule>;
const importFullBuild = () => import('onnxruntime-web') as Promise<OrtWebModule>;

/**
 * Where a model runs in the browser.
 *
 * - `'auto'` (default): `'webgpu'` when `navigator.gpu.requestAdapter()` gives an adapter, else `'wasm'`.
 *   WebNN is never chosen automatically: it is still behind flags in most browsers.
 * - `'webgpu'` without an adapter runs on wasm at once, with a warning.
 * - `'wasm'`: CPU, multi-threaded when the page is cross-origin isolated (COOP/COEP headers), else one thread.
 * - `'webgpu'` / `'webnn'`: the GPU (or NPU) through that API; when it cannot be initialised the backend
 *   warns (see {@link WebBackendOptions.onWarning}) and runs on wasm instead.
 */
export type WebDevice = 'auto' | 'wasm' | 'webgpu' | 'webnn';

/** Options of {@link createWebBackend}. */
export interface WebBackendOptions {
  /**
   * Where to run (default `'auto'`). `sessionOptions.executionProviders`, when given, overrides it:
   * they are tried in order, one per session, with a warning for each that fails.
   */
  device?: WebDevice;
  /**
   * Threads of the wasm runtime (`env.wasm.numThreads`); `sessionOptions.intraOpNumThreads` sets the
   * same, and giving both with different counts is SlmkitError 'INVALID_OPTION'. Default:
   * onnxruntime-web's choice (half the logical cores, at most 4, when the page is cross-origin
   * isolated; otherwise 1). More than 1 needs cross-origin isolation.
   *
   * The runtime is global to the onnxruntime-web module in the page or worker and reads this only when
   * its first session is created: a later session asking for another count fails with
   * 'INVALID_OPTION' (load that model in a new Worker instead).
   */
  numThreads?: number;
  /**
   * Where onnxruntime-web's runtime files are served: a URL prefix ending in `/` under which
   * `ort-wasm-simd-threaded.{mjs,wasm}` (wasm) and `ort-wasm-simd-threaded.jsep.{mjs,wasm}` (WebGPU,
   * WebNN) are found. Default: beside the script that imported onnxruntime-web (the self-contained
   * bundle ships them beside itself), so apps self-host them without any CDN. The `{ mjs, wasm }` form
   * names the files of one build; use it together with `ort`.
   */
  wasmPaths?: string | { mjs?: string; wasm?: string };
  /** Receives warnings such as a WebGPU fallback (default `console.warn`). */
  onWarning?: (message: string) => void;
  /**
   * The onnxruntime-web module to use for every device. Default: `onnxruntime-web/wasm` when the
   * session runs on wasm, `onnxruntime-web` (JSEP) for WebGPU and WebNN, each imported on first use.
   */
  ort?: OrtWebModule;
}

/** What the runtime actually uses, known after the first session was created. */
export interface WebRuntimeInfo {
  /**
   * Execution provider of the latest session (`'wasm'`, `'webgpu'`, `'webnn'`), undefined before any:
   * the one provider onnxruntime-web created it with.
   */
  executionProvider: string | undefined;
  /** Threads of the wasm runtime (1 when the page is not cross-origin isolated). */
  numThreads: number | undefined;
  /** Whether the page (or worker) is cross-origin isolated, which multi-threaded wasm needs. */
  crossOriginIsolated: boolean;
}

/** The onnxruntime-web backend, with {@link WebRuntimeInfo} about what it chose. */
export interface WebBackend extends Backend {
  /** What the runtime uses now (execution provider, threads); a new object each call. */
  runtimeInfo(): WebRuntimeInfo;
}

/**
 * The execution providers `device` stands for. `'auto'` and `'webgpu'` ask WebGPU for an adapter
 * first; `'webgpu'` without one resolves to wasm with a `warning` (so the large WebGPU runtime is not
 * even downloaded).
 */
export async function resolveDevice(
  device: WebDevice = 'auto',
): Promise<{ executionProviders: string[]; warning?: string }> {
  if (device === 'auto') return { executionProviders: [(await hasWebGpuAdapter()) ? 'webgpu' : 'wasm'] };
  if (device === 'webgpu' && !(await hasWebGpuAdapter())) {
    return {
      executionProviders: ['wasm'],
      warning: 'slmkit: WebGPU is not available here (navigator.gpu gave no adapter); falling back to wasm.',
    };
  }
  if (device === 'wasm' || device === 'webgpu' || device === 'webnn') return { executionProviders: [device] };
  throw new SlmkitError(
    'INVALID_OPTION',
    `Unknown device ${JSON.stringify(device)}: use 'auto', 'wasm', 'webgpu' or 'webnn'.`,
  );
}

async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * The thread count asked for when slmkit first created a session on an onnxruntime-web module
 * (undefined: its default): the module's wasm runtime starts then and never reads it again.
 */
const startedRuntimes = new WeakMap<OrtWebModule, { threads: number | undefined }>();

/**
 * The onnxruntime-web backend: wasm, WebGPU or WebNN, in a page or a Worker.
 *
 * @example
 * ```ts
 * const backend = createWebBackend({ device: 'wasm', numThreads: 4, wasmPaths: '/ort/' });
 * const model = await createModel('https://example.com/models/SmolLM2-135M/', { backend });
 * console.log(backend.runtimeInfo()); // { executionProvider: 'wasm', numThreads: 4, ... }
 * ```
 */
export function createWebBackend(options: WebBackendOptions = {}): WebBackend {
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  // The first session fixes the module (its wasm runtime and WebGPU device are global to it).
  let ort: OrtWebModule | undefined = options.ort;
  let executionProvider: string | undefined;
  const moduleFor = async (provider: string, threads: number | undefined): Promise<OrtWebModule> => {
    ort ??= await (provider === 'wasm' || provider === 'cpu' ? importWasmBuild() : importFullBuild());
    const started = startedRuntimes.get(ort);
    if (!started) {
      if (threads !== undefined) ort.env.wasm.numThreads = threads;
      startedRuntimes.set(ort, { threads });
    } else if (threads !== undefined && threads !== started.threads && threads !== ort.env.wasm.numThreads) {
      throw new SlmkitError(
        'INVALID_OPTION',
        `onnxruntime-web's wasm runtime already runs with ${ort.env.wasm.numThreads} thread(s): its thread count (numThreads, sessionOptions.intraOpNumThreads: ${threads}) is read only when its first session is created. Load this model in a new Worker to run it with another count.`,
      );
    }
    if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
    return ort;
  };

  // onnxruntime-web drops a listed provider it cannot initialise (WebGPU without an adapter, WebNN
  // without navigator.ml) and runs on the next one, telling only the console. So each session is given
  // one provider: the one it was created with is the one it runs on.
  const create = async (
    runtime: OrtWebModule,
    model: ModelFile,
    session: SessionOptions,
    provider: string,
  ): Promise<InferenceSession> => {
    const source = model.data ?? model.path;
    if (source === undefined) {
      throw new SlmkitError('MODEL_FILE_MISSING', `${model.name} has neither data nor a URL to load.`);
    }
    const externalData = model.externalData?.map((file) => ({ path: file.path, data: file.data }));
    // On WebGPU every output stays on the GPU: the KV cache (core's resident outputs) is fed back
    // from there each step, and only the logits are downloaded. On wasm everything is on the CPU.
    const created = await runtime.InferenceSession.create(source as Uint8Array, {
      ...toOrtSessionOptions(
        { ...session, executionProviders: [provider] },
        { gpuOutputs: provider === 'webgpu' },
      ),
      externalData,
    });
    executionProvider = provider;
    const wrapped = wrapOrtSession(created, runtime.Tensor);
    const run = wrapped.run;
    // onnxruntime-web's runs settle through microtasks only, so a generation loop would never let the
    // page render or a worker receive messages; one macrotask turn per run keeps both responsive.
    const yieldingRun: InferenceSession['run'] = async (feeds, runOptions) => {
      await yieldToEventLoop();
      return run(feeds, runOptions);
    };
    return { ...wrapped, run: yieldingRun };
  };

  /** The providers to try in order: the session's own, else `device`'s with wasm after it. */
  const providersFor = async (session: SessionOptions): Promise<readonly string[]> => {
    if (session.executionProviders?.length) return session.executionProviders;
    const { executionProviders, warning } = await resolveDevice(options.device);
    if (warning) warn(warning);
    return executionProviders[0] === 'wasm' ? executionProviders : [...executionProviders, 'wasm'];
  };

  return {
    name: 'onnxruntime-web',
    async createSession(model, session) {
      const threads = session.intraOpNumThreads ?? options.numThreads;
      if (options.numThreads !== undefined && threads !== options.numThreads) {
        throw new SlmkitError(
          'INVALID_OPTION',
          `numThreads (${options.numThreads}) and sessionOptions.intraOpNumThreads (${threads}) both set the threads of onnxruntime-web's wasm runtime: give one of them.`,
        );
      }
      const providers = await providersFor(session);
      // Before any provider is tried: a thread count that cannot apply is an error, not a fallback.
      const runtime = await moduleFor(providers[0], threads);
      for (let i = 0; ; i++) {
        try {
          return await create(runtime, model, session, providers[i]);
        } catch (error) {
          if (i === providers.length - 1) throw error;
          warn(
            `slmkit: the ${providers[i]} execution provider could not run ${model.name} (${(error as Error)?.message ?? error}); falling back to ${providers[i + 1]}.`,
          );
        }
      }
    },
    runtimeInfo: () => ({
      executionProvider,
      numThreads: executionProvider && ort ? ort.env.wasm.numThreads : undefined,
      crossOriginIsolated: Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated),
    }),
  };
}

/** One macrotask turn (MessageChannel: no setTimeout clamping), so queued events and rendering can run. */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
