import type * as Xgrammar from '@mlc-ai/web-xgrammar';
import { SlmkitError } from '../spec/errors.js';

/** The module of @mlc-ai/web-xgrammar (its named exports). */
export type XgrammarModule = typeof Xgrammar;

let loading: Promise<XgrammarModule> | undefined;

/**
 * Loads @mlc-ai/web-xgrammar once per process (1.1 MB of JavaScript with its WebAssembly inlined),
 * on the first call that uses `responseFormat`. Its bundle is UMD published as `"type": "module"`:
 * in Node an `import` of it fails (it calls `require` and reads `__filename`), so there it is read
 * and evaluated as the CommonJS it is; in browsers and workers it is imported (a bundler wraps it
 * as CommonJS and gives its exports; a plain ES-module import sets `globalThis.xgrammar`).
 */
export function loadXgrammar(): Promise<XgrammarModule> {
  loading ??= (isNode() ? loadInNode() : loadInBrowser()).catch((cause) => {
    loading = undefined;
    throw new SlmkitError(
      'RUNTIME_ERROR',
      `@mlc-ai/web-xgrammar (the engine of responseFormat) could not be loaded: ${(cause as Error).message}`,
      { cause },
    );
  });
  return loading;
}

function isNode(): boolean {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  return typeof proc?.versions?.node === 'string' && typeof proc.getBuiltinModule === 'function';
}

const NODE_IMPORT = "await import('module')";

async function loadInNode(): Promise<XgrammarModule> {
  const { createRequire } = process.getBuiltinModule('node:module');
  const { readFileSync } = process.getBuiltinModule('node:fs');
  const { dirname } = process.getBuiltinModule('node:path');
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  // Its one dynamic import (of node:module) becomes a require: code made by `new Function` may
  // have no import() where the host gives none (vitest's module runner, vm contexts).
  const source = readFileSync(file, 'utf8').split(NODE_IMPORT);
  if (source.length !== 2) throw new Error(`expected one ${NODE_IMPORT} in ${file} (version 0.1.27)`);
  const module = { exports: {} as XgrammarModule };
  const run = new Function(
    'exports',
    'module',
    'require',
    '__filename',
    '__dirname',
    source.join("require('module')"),
  );
  run(module.exports, module, require, file, dirname(file));
  return module.exports;
}

async function loadInBrowser(): Promise<XgrammarModule> {
  const imported = (await import('@mlc-ai/web-xgrammar')) as Partial<XgrammarModule> & {
    default?: Partial<XgrammarModule>;
  };
  const found = [imported, imported.default, (globalThis as { xgrammar?: Partial<XgrammarModule> }).xgrammar];
  const module = found.find((m) => typeof m?.GrammarCompiler?.createGrammarCompiler === 'function');
  if (!module) throw new Error('the module has no GrammarCompiler export');
  return module as XgrammarModule;
}
