// The built packages (dist/, through their exports maps) load from plain Node ESM and CommonJS.
// `npm test` builds before running the suite.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const run = (args: string[]) =>
  execFileSync(process.execPath, args, { encoding: 'utf8', cwd: process.cwd() });

describe('built packages', () => {
  it('are built (run `npm run build`, or `npm test` which builds first)', () => {
    for (const pkg of ['core', 'node', 'web', 'server', 'ai-sdk'])
      expect(existsSync(`packages/${pkg}/dist/index.js`)).toBe(true);
  });

  /** What an entry point's module prints: its export names, sorted, with the type of each. */
  const listExports = (m: string) =>
    `console.log(JSON.stringify(Object.keys(${m}).sort().map((k) => [k, typeof ${m}[k]])))`;
  /** An entry point's exports exactly (names, sorted, each a function unless listed in `others`). */
  const exported = (names: string[], others: Record<string, string> = {}) =>
    [...names, ...Object.keys(others)]
      .sort()
      .map((name): [string, string] => [name, others[name] ?? 'function']);
  const CORE = ['ChatSession', 'SlmkitError', 'isSlmkitError', 'restoreChatSession'];
  // Each entry point with exactly what it exports: a missing or an extra export fails.
  const ENTRIES: [string, [string, string][]][] = [
    ['@slmkit/core', exported(CORE)],
    [
      '@slmkit/core/backend',
      exported(
        [
          'abortedError',
          'checkCachePrefixOptions',
          'checkEncodeOptions',
          'checkSequenceOption',
          'createModelFromSource',
          'dataFilesIn',
          'describeOrtValues',
          'isMessageList',
          'isResident',
          'loadModel',
          'openRemoteSource',
          'parseHubStorageKey',
          'queuedStream',
          'resolveGenerateOptions',
          'sampledFileDigest',
          'slicedDims',
          'snapshotChecksum',
          'splitStorageKey',
          'storageKeyParts',
          'toOrtSessionOptions',
          'wrapOrtSession',
        ],
        { DEFAULT_HUB_ENDPOINT: 'string' },
      ),
    ],
    ['@slmkit/core/testing', exported(['createTestModel'])],
    [
      '@slmkit/node',
      exported([
        ...CORE,
        'acquireFileLock',
        'createFsStorage',
        'createModel',
        'createNodeBackend',
        'defaultCacheDir',
        'hfHubCacheDir',
        'isLocalFolder',
        'nodeSourceDefaults',
        'openLocalFolder',
        'withHfHubCache',
      ]),
    ],
    ['@slmkit/server', exported(['createOpenAIHandler'])],
    ['@slmkit/server/node', exported(['createNodeListener', 'serve'])],
    ['@slmkit/ai-sdk', exported(['SlmkitLanguageModel', 'createSlmkit', 'slmkit'])],
  ];
  for (const [pkg, expected] of ENTRIES) {
    it(`${pkg} imports from ESM and requires from CJS, with exactly its exports`, () => {
      const esm = run(['--input-type=module', '-e', `const m = await import('${pkg}'); ${listExports('m')}`]);
      const cjs = run(['-e', `const m = require('${pkg}'); ${listExports('m')}`]);
      expect(JSON.parse(esm)).toEqual(expected);
      expect(JSON.parse(cjs)).toEqual(expected);
    });
  }

  it('@slmkit/node from dist generates with the tiny model', async () => {
    const { ensureModel } = await import('./fixtures/models.js');
    const folder = await ensureModel('tiny');
    const script = `const { createModel } = require('@slmkit/node');
      (async () => { const m = await createModel(${JSON.stringify(folder)});
      const r = await m.generate('Hello', { maxNewTokens: 3 }); console.log(r.tokenIds.length, r.finishReason); await m.dispose(); })();`;
    expect(run(['-e', script]).trim()).toBe('3 length');
  });

  it("@slmkit/ai-sdk from dist drives the AI SDK's generateText, from ESM and CJS, the same text", async () => {
    const { ensureModel } = await import('./fixtures/models.js');
    const folder = JSON.stringify(await ensureModel('tiny'));
    const body = `const m = await createModel(${folder});
      const r = await generateText({ model: slmkit(m), prompt: 'Hi', maxOutputTokens: 4, temperature: 0 });
      console.log(r.finishReason, r.usage.outputTokens, JSON.stringify(r.text)); await m.dispose();`;
    // ESM through import() from a CJS script: the session thread cannot inherit --input-type.
    const esm = run([
      '-e',
      `(async () => { const { createModel } = await import('@slmkit/node'); const { slmkit } = await import('@slmkit/ai-sdk'); const { generateText } = await import('ai'); ${body} })();`,
    ]);
    const cjs = run([
      '-e',
      `const { createModel } = require('@slmkit/node'); const { slmkit } = require('@slmkit/ai-sdk'); const { generateText } = require('ai'); (async () => { ${body} })();`,
    ]);
    expect(esm.trim()).toMatch(/^length 4 ".+"$/);
    expect(cjs.trim()).toBe(esm.trim());
  });

  it('@slmkit/core/testing from dist generates from ESM and CJS, the same tokens', () => {
    const body = `const m = await createTestModel({ seed: 3 });
      const r = await m.generate('Hello', { maxNewTokens: 4, eosTokenIds: [] });
      console.log(r.tokenIds.length, r.finishReason, r.tokenIds.join()); await m.dispose();`;
    const esm = run([
      '--input-type=module',
      '-e',
      `import { createTestModel } from '@slmkit/core/testing'; ${body}`,
    ]);
    const cjs = run([
      '-e',
      `const { createTestModel } = require('@slmkit/core/testing'); (async () => { ${body} })();`,
    ]);
    expect(esm.trim()).toMatch(/^4 length \d+(,\d+){3}$/);
    expect(cjs.trim()).toBe(esm.trim());
  });

  it('@slmkit/web imports from ESM with its own createModel and the core API, with exactly its exports', () => {
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('@slmkit/web'); ${listExports('m')}`,
    ]);
    expect(JSON.parse(esm)).toEqual(
      exported([
        ...CORE,
        'createCacheStorage',
        'createModel',
        'createOpfsStorage',
        'createWebBackend',
        'createWorkerModel',
        'isPickedFiles',
        'isQuotaError',
        'openPickedFiles',
        'resolveDevice',
        'resolveWebStorage',
        'serveModelWorker',
        'yieldToEventLoop',
      ]),
    );
  });
});

describe('API reports', () => {
  it('api/*.api.md match the built declarations (after a change of the public surface: npm run build && npm run api)', async () => {
    const { apiReport } = await import('../scripts/api-report.js');
    expect(apiReport(true)).toEqual([]);
  }, 120_000);
});
