import { toOrtSessionOptions } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

describe('session options', () => {
  it('map to onnxruntime options, with spinning off through config entries', () => {
    expect(
      toOrtSessionOptions({
        executionProviders: ['cpu'],
        intraOpNumThreads: 2,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'basic',
        allowSpinning: false,
        extra: { 'session.use_env_allocators': '1' },
      }),
    ).toEqual({
      executionProviders: ['cpu'],
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'basic',
      extra: {
        'session.use_env_allocators': '1',
        'session.intra_op.allow_spinning': '0',
        'session.inter_op.allow_spinning': '0',
      },
    });
    // Unset options are left out: onnxruntime-node rejects keys that are present but undefined.
    expect(toOrtSessionOptions({})).toEqual({
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      extra: {},
    });
  });

  it('reach onnxruntime-node: the same tokens with one thread, no spinning and basic optimisation', async () => {
    const folder = await ensureModel('tiny');
    const tuned = await createModel(folder, {
      sessionOptions: { intraOpNumThreads: 1, allowSpinning: false, graphOptimizationLevel: 'basic' },
    });
    const plain = await createModel(folder);
    try {
      const a = await tuned.generate('Once upon a time', { maxNewTokens: 8 });
      const b = await plain.generate('Once upon a time', { maxNewTokens: 8 });
      expect(a.tokenIds).toEqual(b.tokenIds);
    } finally {
      await tuned.dispose();
      await plain.dispose();
    }
  });

  it('an execution provider the runtime does not have is a clear error', async () => {
    const error = await createModel(await ensureModel('tiny'), {
      sessionOptions: { executionProviders: ['no-such-ep'] },
    }).catch((e) => e);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(
      /Execution provider "no-such-ep" is not available in onnxruntime-node; it knows cpu/,
    );
  });

  it('an aborted signal stops a load with ABORTED', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await createModel(await ensureModel('tiny'), { signal: controller.signal }).catch((e) => e);
    expect(error.code).toBe('ABORTED');
  });
});
