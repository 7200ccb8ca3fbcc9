import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Options } from 'tsup';

/** onnxruntime-web's runtime files the bundle loads at run time: wasm, and wasm + WebGPU/WebNN (JSEP). */
export const ORT_RUNTIME_FILES = [
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
];

/** The folder holding onnxruntime-web's dist files. */
export function ortDistDir(): string {
  const require = createRequire(join(process.cwd(), 'package.json'));
  return dirname(require.resolve('onnxruntime-web'));
}

/**
 * The self-contained browser bundle of @slmkit/web: `slmkit-web.js` (everything: core, tokenizers,
 * templates, onnxruntime-web's JS), `worker.js` (a ready model worker), chunks, and onnxruntime-web's
 * runtime files (`ort-wasm-simd-threaded[.jsep].{mjs,wasm}`) beside them, so a plain ES-module page serves one folder
 * and needs no CDN and no import map.
 */
export function webBrowserBundle(
  outDir = 'packages/web/dist/browser',
  extra: Partial<Options> = {},
): Options {
  return {
    name: '@slmkit/web browser bundle',
    entry: { 'slmkit-web': 'packages/web/src/index.ts', worker: 'packages/web/src/worker-entry.ts' },
    outDir,
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    sourcemap: true,
    clean: true,
    dts: false,
    // The root tsconfig maps @slmkit/core to its sources, which the bundle includes.
    tsconfig: 'tsconfig.json',
    noExternal: [/.*/],
    esbuildOptions(options) {
      // onnxruntime-web's build that loads its .mjs/.wasm runtime from beside the script (or wasmPaths)
      // instead of embedding it: pthread workers then load the small runtime, not the whole bundle.
      options.conditions = ['onnxruntime-web-use-extern-wasm', 'browser', 'module'];
      // @mlc-ai/web-xgrammar (responseFormat) requires these two only when it runs in Node.
      options.external = [...(options.external ?? []), 'url', 'module'];
    },
    async onSuccess() {
      await mkdir(outDir, { recursive: true });
      const from = ortDistDir();
      await Promise.all(ORT_RUNTIME_FILES.map((file) => copyFile(join(from, file), join(outDir, file))));
    },
    ...extra,
  };
}
