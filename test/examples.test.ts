// The examples users copy must run. They use the generated tiny model when given no folder.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const tsx = (script: string) => exec('npx', ['tsx', script], { encoding: 'utf8', timeout: 120_000 });

describe('examples', () => {
  it('node-demo streams a chat reply with a usage line', async () => {
    const { stdout } = await tsx('examples/node-demo.ts');
    expect(stdout).toMatch(/^model: .*\nuser: .*\nassistant: /);
    expect(stdout).toMatch(
      /\[length\] prompt \d+ tokens, 64 new tokens, first token after \d+ ms, [\d.]+ tokens\/s/,
    );
  });

  it('generation-tour runs every step', async () => {
    const { stdout } = await tsx('examples/generation-tour.ts');
    expect(stdout).toContain('same seed, same tokens: true');
    expect(stdout).toContain('stream ended: cancelled');
    expect(stdout).toContain('batch: [ 8, 8 ]');
    expect(stdout).toContain('no token twice: true');
    expect(stdout).toContain('aborted: ABORTED');
    expect(stdout).toContain('INVALID_OPTION: topP must be in (0, 1]; got 2.');
  });
});
