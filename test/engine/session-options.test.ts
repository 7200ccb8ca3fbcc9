import { type SessionOptions, toOrtSessionOptions } from '@slmkit/core/backend';
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

  // The default backend runs each session on a thread of its own; 'main' runs it in this thread.
  for (const [thread, backendOptions] of [
    ['worker', {}],
    ['main', { sessionThread: 'main' }],
  ] as const) {
    it(`reach onnxruntime-node (${thread} thread): the same tokens with one thread, no spinning and basic optimisation`, async () => {
      const folder = await ensureModel('tiny');
      const tuned = await createModel(folder, {
        ...backendOptions,
        sessionOptions: { intraOpNumThreads: 1, allowSpinning: false, graphOptimizationLevel: 'basic' },
      });
      const plain = await createModel(folder, backendOptions);
      try {
        const a = await tuned.generate('Once upon a time', { maxNewTokens: 8 });
        const b = await plain.generate('Once upon a time', { maxNewTokens: 8 });
        expect(a.tokenIds).toEqual(b.tokenIds);
      } finally {
        await tuned.dispose();
        await plain.dispose();
      }
      // Same tokens would also come from options that never arrive, so make the runtime act on them.
      const load = async (sessionOptions: SessionOptions): Promise<string> => {
        try {
          await (await createModel(folder, { ...backendOptions, sessionOptions })).dispose();
          return 'loaded';
        } catch (error) {
          return (error as Error).message;
        }
      };
      const tunedOptions = { allowSpinning: false, graphOptimizationLevel: 'basic' } as const;
      // A config entry: ORT then parses our .onnx file as an ORT-format model, and says it is not one.
      expect(await load({ ...tunedOptions, extra: { 'session.load_model_format': 'ORT' } })).toMatch(
        /ORT model verification failed/,
      );
      // The thread count: two intra-op threads make a pool, whose affinity entry ORT parses (processor
      // ids start at 1); one thread makes no pool, so the same entry is never read (the default, one
      // thread per core, reads it on any machine with more than one core).
      const affinity = { 'session.intra_op_thread_affinities': '0' };
      expect(await load({ ...tunedOptions, intraOpNumThreads: 2, extra: affinity })).toMatch(
        /Processor id must start from 1: 0/,
      );
      expect(await load({ ...tunedOptions, intraOpNumThreads: 1, extra: affinity })).toBe('loaded');
    });
  }

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
