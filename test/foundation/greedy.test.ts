import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { type Dims, greedy, ortRunner, prompt, type Runner, readDims } from './harness.js';

describe('the tiny model is not degenerate', () => {
  let dims: Dims;
  let r: Runner;
  beforeAll(async () => {
    const dir = await ensureModel('tiny');
    dims = readDims(dir);
    r = await ortRunner(dir);
  });
  afterAll(async () => {
    await r?.release();
  });

  it('greedy continuations differ across prompts and are not one token repeated', async () => {
    const prompts = [[1, 22557, 1526], [1, 415, 2936, 9060], [1, 315, 737], prompt(6, 11), prompt(9, 12)];
    const runs = await Promise.all(prompts.map((p) => greedy(r, dims, p, 8)));
    const firsts = new Set(runs.map((t) => t[0]));
    expect(firsts.size).toBeGreaterThanOrEqual(4);
    expect(new Set(runs.map((t) => t.join())).size).toBe(prompts.length);
    for (const t of runs) expect(new Set(t).size).toBeGreaterThan(2);
    // The next token is not simply the last prompt token echoed back.
    expect(runs.filter((t, i) => t[0] === prompts[i].at(-1)).length).toBeLessThan(2);
  });
});
