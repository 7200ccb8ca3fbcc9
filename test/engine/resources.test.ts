import { loadModel } from '@slmkit/core/backend';
import { openLocalFolder } from '@slmkit/node';
import { describe, expect, it } from 'vitest';
import { AttentionInputs } from '../../packages/core/src/engine/attention-inputs.js';
import { ensureModel } from '../fixtures/models.js';
import { type RunLog, recordingBackend } from './helpers.js';

describe('resources', () => {
  const alive = (log: RunLog) => log.resident.filter((r) => !r.disposed);

  it('every KV tensor a run returns is freed by the end of the generation', async () => {
    const log: RunLog = { inputIds: [], resident: [], hostOutputs: 0 };
    // Without the prefix cache, which keeps the last cache on purpose (tested in prefix-cache.test.ts).
    const model = await loadModel(openLocalFolder(await ensureModel('tiny')), {
      backend: recordingBackend(log),
      prefixCache: false,
    });
    try {
      await model.generate('Once upon a time', { maxNewTokens: 30 });
      expect(log.hostOutputs).toBe(30); // the logits of each run
      expect(log.resident.length).toBe(30 * 4); // 2 layers × key/value, per run
      expect(alive(log)).toEqual([]);

      // Leaving a stream in the middle frees them too.
      log.resident.length = 0;
      let read = 0;
      for await (const _ of model.stream('Once upon a time', { maxNewTokens: 30 })) {
        if (++read === 5) break;
      }
      expect(log.resident.length).toBe(5 * 4);
      expect(alive(log)).toEqual([]);
    } finally {
      await model.dispose();
    }
  });

  it('during decoding only the current KV cache is alive', async () => {
    const log: RunLog = { inputIds: [], resident: [], hostOutputs: 0 };
    const model = await loadModel(openLocalFolder(await ensureModel('tiny')), {
      backend: recordingBackend(log),
    });
    const counts: number[] = [];
    try {
      await model.generate('Once upon a time', {
        maxNewTokens: 20,
        logitsProcessors: [() => void counts.push(alive(log).length)],
      });
      // While a token is chosen: this run's 4 present tensors, nothing older.
      expect(new Set(counts)).toEqual(new Set([4]));
    } finally {
      await model.dispose();
    }
  });
});

describe('attention inputs of a left-padded batch', () => {
  it('match a mask rebuilt from scratch at every step', () => {
    const padding = [0, 3, 1];
    const inputs = new AttentionInputs(padding, 12);
    for (let total = 5; total <= 12; total++) {
      const expected = padding.flatMap((pad) => Array.from({ length: total }, (_, j) => (j < pad ? 0n : 1n)));
      expect(Array.from(inputs.maskFor(total))).toEqual(expected);
      expect(Array.from(inputs.stepPositions(total - 1))).toEqual(
        padding.map((pad) => BigInt(total - 1 - pad)),
      );
    }
    expect(Array.from(inputs.prefillPositions(4, 0))).toEqual([
      0n,
      1n,
      2n,
      3n,
      1n,
      1n,
      1n,
      0n,
      1n,
      0n,
      1n,
      2n,
    ]);
  });
});
