import { Worker } from 'node:worker_threads';
import type { LocalLanguageModel } from '@slmkit/core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createModel } from '../../packages/node/src/create-model.js';
import { ensureModel } from '../fixtures/models.js';

const GREEDY = { maxNewTokens: 6, temperature: 0 } as const;
/** What every call on a model whose session thread died must fail with. */
const threadDied = (what: RegExp) => ({
  name: 'SlmkitError',
  code: 'RUNTIME_ERROR',
  message: expect.stringMatching(
    new RegExp(
      `^The session thread of this model \\(onnxruntime-node on a worker thread\\) ${what.source}\\. .*the KV caches it held went with it.*dispose it and load the model again with createModel\\(\\)\\.$`,
    ),
  ),
});
const terminated = threadDied(/exited with code 1/);

/**
 * The worker threads the sessions run on, seen through their first message: the session is
 * created by a request to the thread it has just started.
 */
const threads: Worker[] = [];
const postMessage = Worker.prototype.postMessage;

/** A model on the tiny test model, and its session thread. */
async function loadModel(folder: string): Promise<{ model: LocalLanguageModel; thread: Worker }> {
  const before = threads.length;
  const model = await createModel(folder);
  expect(threads.length).toBe(before + 1);
  return { model, thread: threads[before] };
}

describe('a model whose session thread died', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await ensureModel('tiny');
    vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (
      this: Worker,
      ...args: Parameters<Worker['postMessage']>
    ) {
      if (!threads.includes(this)) threads.push(this);
      return postMessage.apply(this, args);
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('says so, and that the model must be loaded again, for generate, stream, the prefix cache and sequence operations; dispose() resolves', async () => {
    const { model, thread } = await loadModel(folder);
    const other = await loadModel(folder);
    // A sequence and a prefix-cache entry whose KV caches live on the thread.
    const sequence = model.createSequence();
    await model.generate('Once upon a time there was', { ...GREEDY, sequence });
    const held = [...sequence.tokenIds];
    await model.generate('The little dog ran to the', GREEDY);
    await model.generate('A cat sat on the mat and', GREEDY);
    expect(model.prefixCache.size).toBe(2);

    await thread.terminate();

    await expect(model.generate('Hello', GREEDY)).rejects.toMatchObject(terminated);
    // The prefix cache: copying the part a prompt shares with an entry (a read of the entry's
    // cache), and taking over an entry the prompt extends (a run on it).
    await expect(model.generate('The little dog ran home', GREEDY)).rejects.toMatchObject(terminated);
    await expect(model.generate('A cat sat on the mat and then', GREEDY)).rejects.toMatchObject(terminated);
    const stream = model.stream('Hello', GREEDY);
    await expect(
      (async () => {
        for await (const _ of stream) {
          // No chunk comes.
        }
      })(),
    ).rejects.toMatchObject(terminated);
    await expect(stream.result).rejects.toMatchObject(terminated);
    // Sequence operations that read the cache where it lived, and a generation on the sequence.
    await expect(sequence.truncate(2)).rejects.toMatchObject(terminated);
    await expect(sequence.fork()).rejects.toMatchObject(terminated);
    await expect(sequence.save()).rejects.toMatchObject(terminated);
    await expect(
      model.generate('Once upon a time there was a', { ...GREEDY, sequence }),
    ).rejects.toMatchObject(terminated);
    expect(sequence.tokenIds).toEqual(held);

    // Another model, on a thread of its own, is not affected.
    expect((await other.model.generate('Hello', GREEDY)).tokenIds).toHaveLength(GREEDY.maxNewTokens);

    await expect(sequence.dispose()).resolves.toBeUndefined();
    await expect(model.dispose()).resolves.toBeUndefined();
    await expect(model.dispose()).resolves.toBeUndefined();
    await expect(model.generate('Hello', GREEDY)).rejects.toMatchObject({ code: 'DISPOSED' });
    await other.model.dispose();
  });

  it('dispose() resolves, with sequences and cached prefixes of the model still holding caches there', async () => {
    const { model, thread } = await loadModel(folder);
    const sequence = model.createSequence();
    await model.generate('Once upon a time', { ...GREEDY, sequence });
    await model.generate('The little dog ran to the', GREEDY);
    await model.cachePrefix('A cat sat on the mat and');
    await thread.terminate();
    await expect(model.dispose()).resolves.toBeUndefined();
    expect(sequence.disposed).toBe(true);
  });

  it('in the middle of a stream: the next step fails with it, and the model can be disposed', async () => {
    const { model, thread } = await loadModel(folder);
    const chunks: string[] = [];
    const stream = model.stream('Once upon a time', { maxNewTokens: 200, temperature: 0 });
    await expect(
      (async () => {
        for await (const chunk of stream) {
          chunks.push(chunk.text);
          if (chunks.length === 3) await thread.terminate();
        }
      })(),
    ).rejects.toMatchObject(terminated);
    expect(chunks).toHaveLength(3);
    await expect(stream.result).rejects.toMatchObject(terminated);
    await expect(model.dispose()).resolves.toBeUndefined();
  });

  it('when the thread crashes (an error nothing on it catches), the error names what it threw', async () => {
    const { model, thread } = await loadModel(folder);
    const sequence = model.createSequence();
    await model.generate('Once upon a time', { ...GREEDY, sequence });
    const crashed = new Promise((resolve) => thread.once('error', resolve));
    // A message the thread's handler cannot take: it throws on the thread, outside any call.
    postMessage.call(thread, { op: 'free' });
    await crashed;
    const died = threadDied(/crashed \(TypeError: .*\)/);
    await expect(model.generate('Hello', GREEDY)).rejects.toMatchObject(died);
    await expect(sequence.fork()).rejects.toMatchObject(died);
    await expect(model.dispose()).resolves.toBeUndefined();
  });
});

describe('a failure of the runtime on the session thread outside a run', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reaches the caller as a SlmkitError RUNTIME_ERROR (copying a shared prefix out of the prefix cache)', async () => {
    const folder = await ensureModel('tiny');
    const model = await createModel(folder);
    try {
      await model.generate('The little dog ran to the park', GREEDY);
      // The thread answers a slice of the kept cache as it answers any failure of onnxruntime-node
      // or of its memory (say, no memory for the copy): a message, no code.
      vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (
        this: Worker,
        ...args: Parameters<Worker['postMessage']>
      ) {
        const message = args[0] as { op: string; id: number };
        if (message.op !== 'slice') return postMessage.apply(this, args);
        setImmediate(() =>
          this.emit('message', { id: message.id, ok: false, message: 'Array buffer allocation failed' }),
        );
      });
      // Shares "The little dog ran" with the entry and goes on differently: the shared part is copied.
      const failure = model.generate('The little dog ran home', GREEDY);
      await expect(failure).rejects.toMatchObject({
        name: 'SlmkitError',
        code: 'RUNTIME_ERROR',
        message: expect.stringMatching(
          /^Slicing resident outputs on the session thread failed in onnxruntime-node: Error: Array buffer allocation failed$/,
        ),
      });
      vi.restoreAllMocks();
      // The session itself is fine.
      expect((await model.generate('Hello', GREEDY)).tokenIds).toHaveLength(GREEDY.maxNewTokens);
    } finally {
      await model.dispose();
    }
  });
});
