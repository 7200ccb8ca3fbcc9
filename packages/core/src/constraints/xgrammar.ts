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

/** True in Node (process.getBuiltinModule is there, from Node 20.16), not in browsers or workers. */
function isNode(): boolean {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  return typeof proc?.versions?.node === 'string' && typeof proc.getBuiltinModule === 'function';
}

const NODE_IMPORT = "await import('module')";
const NODE_INIT = 'binding = await Module();';

/**
 * What the engine wrote to its stderr since the last {@link xgrammarError} (in Node, where it is
 * captured; in browsers it goes to the console): the reason of a failure (`[FATAL] …/grammar_parser.cc:552: EBNF parser error at …`)
 * is printed there, and the error thrown says only "Aborted()".
 */
let engineOutput: string[] = [];
const captureEngineOutput = (...parts: unknown[]) => {
  engineOutput.push(parts.join(' '));
  if (engineOutput.length > 20) engineOutput = engineOutput.slice(-20);
};

/**
 * A SlmkitError for a failure of the engine (`cause`): `what` failed, with the engine's own reason
 * when it printed one, without its source path or "Aborted()". The raw error is kept as `cause`;
 * its frames are in the one-line 1 MB bundle, so it must not be what reaches a stack printer.
 */
export function xgrammarError(
  code: 'INVALID_OPTION' | 'RUNTIME_ERROR',
  what: string,
  cause: unknown,
): SlmkitError {
  const reasons = engineOutput
    .filter((line) => line.startsWith('[FATAL]'))
    .map((line) => line.replace(/^\[FATAL\] \S+?:\d+: /, '').trim());
  engineOutput = [];
  const raw = cause instanceof Error ? cause.message : String(cause);
  const reason = reasons.at(-1) ?? raw.replace(/\. Build with -sASSERTIONS for more info\.$/, '');
  return new SlmkitError(code, `${what} (xgrammar: ${reason.slice(0, 500)})`, { cause });
}

/** Evaluates the installed bundle as CommonJS, with its stderr captured (see {@link loadXgrammar}). */
async function loadInNode(): Promise<XgrammarModule> {
  const { createRequire } = process.getBuiltinModule('node:module');
  const { readFileSync } = process.getBuiltinModule('node:fs');
  const { dirname } = process.getBuiltinModule('node:path');
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  // Its one dynamic import (of node:module) becomes a require: code made by `new Function` may
  // have no import() where the host gives none (vitest's module runner, vm contexts).
  let source = readFileSync(file, 'utf8');
  for (const expected of [NODE_IMPORT, NODE_INIT]) {
    if (source.split(expected).length !== 2)
      throw new Error(`expected one ${expected} in ${file} (version 0.1.27)`);
  }
  // Its WebAssembly module prints failures with `printErr`: they are kept for xgrammarError. The
  // sourceURL names its frames in stack traces (the line numbers are the file's plus 2).
  source = source
    .replace(NODE_IMPORT, "require('module')")
    .replace(NODE_INIT, 'binding = await Module({ printErr: __slmkitPrintErr });');
  const module = { exports: {} as XgrammarModule };
  const run = new Function(
    'exports',
    'module',
    'require',
    '__filename',
    '__dirname',
    '__slmkitPrintErr',
    `${source}\n//# sourceURL=@mlc-ai/web-xgrammar@0.1.27/lib/index.js`,
  );
  run(module.exports, module, require, file, dirname(file), captureEngineOutput);
  return module.exports;
}

/** Imports the bundle and finds its exports where the bundler or the UMD wrapper put them. */
async function loadInBrowser(): Promise<XgrammarModule> {
  const imported = (await import('@mlc-ai/web-xgrammar')) as Partial<XgrammarModule> & {
    default?: Partial<XgrammarModule>;
  };
  const found = [imported, imported.default, (globalThis as { xgrammar?: Partial<XgrammarModule> }).xgrammar];
  const module = found.find((m) => typeof m?.GrammarCompiler?.createGrammarCompiler === 'function');
  if (!module) throw new Error('the module has no GrammarCompiler export');
  return module as XgrammarModule;
}
