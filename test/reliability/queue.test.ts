// The model's call queue under callers that give up: aborted while waiting, streams abandoned
// mid-way, dispose called twice.
import type { LocalLanguageModel } from '@slmkit/core';
import { type Backend, loadModel } from '@slmkit/core/backend';
import { createModel, createNodeBackend, openLocalFolder } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const GREEDY = { maxNewTokens: 8, temperature: 0 } as const;
let dir: string;
let model: LocalLanguageModel;
let expected: number[];

beforeAll(async () => {
  dir = await ensureModel('tiny');
  model = await createModel(dir);
  expected = (await model.generate('Once upon a time', GREEDY)).tokenIds;
});
afterAll(() => model?.dispose());

/** A long call that holds the model, and a promise that says whether it has finished. */
function longCall() {
  let done = false;
  const call = model
    .generate('Once upon a time', { maxNewTokens: 400, temperature: 0, eosTokenIds: [] })
    .finally(() => {
      done = true;
    });
  return { call, finished: () => done };
}

describe('queued calls', () => {
  it('an aborted call that waits behind another rejects with ABORTED at once', async () => {
    const long = longCall();
    const controller = new AbortController();
    const queued = model.generate('Hello', { ...GREEDY, signal: controller.signal });
    const stream = model.stream('Hello', { ...GREEDY, signal: controller.signal });
    const streamed = (async () => {
      for await (const _ of stream) {
        // Never reached: it is aborted before its turn.
      }
    })();
    const prefix = model.cachePrefix('A long profile text', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    for (const waiting of [queued, streamed, prefix]) {
      await expect(waiting).rejects.toMatchObject({
        code: 'ABORTED',
        message: expect.stringMatching(/waited/),
      });
    }
    await expect(stream.result).rejects.toMatchObject({ code: 'ABORTED' });
    expect(long.finished()).toBe(false);
    expect((await long.call).tokenIds).toHaveLength(400);
    // The aborted calls handed their turns on: later calls run and give the same tokens.
    expect((await model.generate('Once upon a time', GREEDY)).tokenIds).toEqual(expected);
  });

  it('a call aborted before it was made never takes a turn', async () => {
    const long = longCall();
    await expect(model.generate('Hello', { ...GREEDY, signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(long.finished()).toBe(false);
    await long.call;
  });
});

describe('abandoned streams and dispose', () => {
  it('dispose ends a stream its caller stopped reading, and settles', async () => {
    const own = await createModel(dir);
    const stream = own.stream('Once upon a time', { maxNewTokens: 50, temperature: 0 });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    // The caller goes away without reading on or leaving the loop; a later call waits behind it.
    const later = own.generate('Hello', GREEDY);
    await own.dispose();
    const result = await stream.result;
    expect(result.finishReason).toBe('cancelled');
    expect(result.tokenIds.length).toBeGreaterThanOrEqual(1);
    expect(result.tokenIds.length).toBeLessThan(50);
    // A call made before dispose still ran.
    expect((await later).tokenIds).toHaveLength(8);
    expect(() => own.stream('Hello')).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('a second dispose returns the same promise, which settles once the session is freed', async () => {
    let released = 0;
    const node = createNodeBackend();
    const backend: Backend = {
      ...node,
      async createSession(file, options) {
        const session = await node.createSession(file, options);
        return {
          ...session,
          async release() {
            await new Promise((resolve) => setTimeout(resolve, 50));
            await session.release();
            released++;
          },
        };
      },
    };
    const own = await loadModel(openLocalFolder(dir), { backend });
    await own.generate('Hello', GREEDY);
    const first = own.dispose();
    const second = own.dispose();
    expect(second).toBe(first);
    await second;
    expect(released).toBe(1);
  });
});
