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

  for (const pkg of ['@slmkit/core', '@slmkit/node']) {
    it(`${pkg} imports from ESM and requires from CJS`, () => {
      const esm = run([
        '--input-type=module',
        '-e',
        `const m = await import('${pkg}'); console.log(typeof m.SlmkitError, typeof m.loadModel)`,
      ]);
      const cjs = run([
        '-e',
        `const m = require('${pkg}'); console.log(typeof m.SlmkitError, typeof m.loadModel)`,
      ]);
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

  it('@slmkit/web imports from ESM with its own createModel and the core API', () => {
    const esm = run([
      '--input-type=module',
      '-e',
      `const m = await import('@slmkit/web'); console.log(typeof m.createModel, typeof m.SlmkitError)`,
    ]);
    expect(esm.trim()).toBe('function function');
  });
});
