// The built packages (dist/, through their exports maps) load from plain Node ESM and CommonJS.
// `npm test` builds before running the suite.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const run = (args: string[]) =>
  execFileSync(process.execPath, args, { encoding: 'utf8', cwd: process.cwd() });

describe('built packages', () => {
  it('are built (run `npm run build`, or `npm test` which builds first)', () => {
    for (const pkg of ['core', 'node', 'web']) expect(existsSync(`packages/${pkg}/dist/index.js`)).toBe(true);
  });

  // Each entry point, with two functions it exports.
  const ENTRIES: [string, string, string][] = [
    ['@slmkit/core', 'SlmkitError', 'ChatSession'],
    ['@slmkit/core/backend', 'loadModel', 'wrapOrtSession'],
    ['@slmkit/core/testing', 'createTestModel', 'createTestModel'],
    ['@slmkit/node', 'SlmkitError', 'createModel'],
  ];
  for (const [pkg, a, b] of ENTRIES) {
    it(`${pkg} imports from ESM and requires from CJS`, () => {
      const esm = run([
        '--input-type=module',
        '-e',
        `const m = await import('${pkg}'); console.log(typeof m.${a}, typeof m.${b})`,
      ]);
      const cjs = run(['-e', `const m = require('${pkg}'); console.log(typeof m.${a}, typeof m.${b})`]);
      expect(esm.trim()).toBe('function function');
      expect(cjs.trim()).toBe('function function');
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

  it('@slmkit/web imports from ESM with its own createModel and the core API', () => {
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('@slmkit/web'); console.log(typeof m.createModel, typeof m.SlmkitError)`,
    ]);
    expect(esm.trim()).toBe('function function');
  });
});

describe('API reports', () => {
  it('api/*.api.md match the built declarations (after a change of the public surface: npm run build && npm run api)', async () => {
    const { apiReport } = await import('../scripts/api-report.js');
    expect(apiReport(true)).toEqual([]);
  }, 120_000);
});
