import { defineConfig, type Options } from 'tsup';
import { webBrowserBundle } from './packages/web/tsup.browser.js';

// One build per workspace package: ESM + CJS + type declarations. Every dependency stays external,
// so @slmkit/node resolves @slmkit/core (and onnxruntime-node) from node_modules at run time.
function pkg(name: 'core' | 'node' | 'web' | 'server' | 'ai-sdk', extra: Partial<Options> = {}): Options {
  return {
    name: `@slmkit/${name}`,
    entry: { index: `packages/${name}/src/index.ts` },
    outDir: `packages/${name}/dist`,
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { paths: {} } },
    tsconfig: 'tsconfig.build.json',
    sourcemap: true,
    clean: true,
    target: 'es2022',
    skipNodeModulesBundle: true,
    external: [/^@slmkit\//, /^onnxruntime-/, /^@huggingface\//],
    ...extra,
  };
}

// The adapters' type declarations read @slmkit/core's built ones, so `npm run build` runs two
// stages: SLMKIT_BUILD_STAGE=core, then SLMKIT_BUILD_STAGE=adapters (unset builds everything at once).
const stage = process.env.SLMKIT_BUILD_STAGE;
const core = [
  pkg('core', {
    platform: 'neutral',
    // The CJS build gets import.meta.url (constraints/xgrammar.ts resolves @mlc-ai/web-xgrammar with it).
    shims: true,
    // `backend` is the entry for runtime adapters (@slmkit/core/backend); `testing` the test model
    // integrators use in their own tests (@slmkit/core/testing).
    entry: {
      index: 'packages/core/src/index.ts',
      backend: 'packages/core/src/backend.ts',
      testing: 'packages/core/src/testing.ts',
    },
  }),
];
const adapters = [
  pkg('node', {
    platform: 'node',
    // session-worker is the script of the worker thread sessions run on; `shims` gives the CJS build
    // the import.meta.url that locates it.
    entry: { index: 'packages/node/src/index.ts', 'session-worker': 'packages/node/src/session-worker.ts' },
    shims: true,
  }),
  pkg('web', {
    platform: 'browser',
    // dist/browser is the self-contained bundle, built alongside by webBrowserBundle().
    clean: ['!browser/**'],
    entry: { index: 'packages/web/src/index.ts', worker: 'packages/web/src/worker-entry.ts' },
  }),
  webBrowserBundle(),
  pkg('server', {
    // The handler (index) is runtime-neutral; `node` serves it with node:http.
    platform: 'neutral',
    entry: { index: 'packages/server/src/index.ts', node: 'packages/server/src/node.ts' },
    external: [/^@slmkit\//, /^node:/],
    // Kept as written: runtimes other than Node (Deno, Bun) need the prefix.
    removeNodeProtocol: false,
  }),
  // The AI SDK provider runs wherever the model does (Node, a page driving a Worker model).
  pkg('ai-sdk', { platform: 'neutral', external: [/^@slmkit\//, /^@ai-sdk\//] }),
];

export default defineConfig(
  stage === 'core' ? core : stage === 'adapters' ? adapters : [...core, ...adapters],
);
