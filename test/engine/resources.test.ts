import { loadModel } from '@slmkit/core';
import { openLocalFolder } from '@slmkit/node';
import { describe, expect, it } from 'vitest';
import { AttentionInputs } from '../../packages/core/src/attention-inputs.js';
import { ensureModel } from '../fixtures/models.js';
import { type RunLog, recordingBackend } from './helpers.js';

describe('resources', () => {
  it('every tensor a run returns is disposed by the end of the generation', async () => {
    const log: RunLog = { inputIds: [], outputs: [] };
    const { outputs } = log;
    // Without the prefix cache, which keeps the last cache on purpose (tested in prefix-cache.test.ts).
    const model = await loadModel(openLocalFolder(await ensureModel('tiny')), {
      backend: recordingBackend(log),
      prefixCache: false,
    });
    try {
      await model.generate('Once upon a time', { maxNewTokens: 30 });
      expect(outputs.length).toBe(30 * 5); // logits + 2 layers × key/value, per run
      expect(outputs.filter((t) => t.location !== 'none')).toEqual([]);

      // Breaking out of a stream frees them too.
      outputs.length = 0;
      for await (const chunk of model.stream('Once upon a time', { maxNewTokens: 30 })) {
        if (chunk.tokenId >= 0) break;
      }
      expect(outputs.length).toBeGreaterThan(0);
      expect(outputs.filter((t) => t.location !== 'none')).toEqual([]);
    } finally {
      await model.dispose();
    }
  });

  it('during decoding only the current KV cache is alive', async () => {
    const log: RunLog = { inputIds: [], outputs: [] };
    const { outputs } = log;
    const model = await loadModel(openLocalFolder(await ensureModel('tiny')), {
      backend: recordingBackend(log),
    });
    const alive: number[] = [];
    try {
      await model.generate('Once upon a time', {
        maxNewTokens: 20,
        logitsProcessors: [() => void alive.push(outputs.filter((t) => t.location !== 'none').length)],
      });
      // While a token is chosen: this run's logits and its 4 present tensors, nothing older.
      expect(new Set(alive)).toEqual(new Set([5]));
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
