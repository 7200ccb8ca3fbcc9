// One engine conformance suite, run over every backend (as Kysely runs its suite over every
// dialect): the float64 reference, onnxruntime-node on its session thread and in-process, and
// onnxruntime-web's wasm build in Node. Each must give the node worker's greedy tokens and the same
// sequence, prefix-cache and snapshot behaviour.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalLanguageModel, Sequence } from '@slmkit/core';
import { loadModel } from '@slmkit/core/backend';
import { createModel, openLocalFolder } from '@slmkit/node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebBackend, createModel as createWebModel } from '../../packages/web/src/index.js';
import { ensureModel } from '../fixtures/models.js';
import { createReferenceBackend } from '../reference/index.js';

type Loader = (dir: string) => Promise<LocalLanguageModel>;

const BACKENDS: Record<string, Loader> = {
  reference: (dir) => loadModel(openLocalFolder(dir), { backend: createReferenceBackend() }),
  'node (session thread)': (dir) => createModel(dir),
  'node (main thread)': (dir) => createModel(dir, { sessionThread: 'main' }),
  'web (onnxruntime-web wasm in Node)': (dir) => {
    // The web backend takes bytes (browsers have no file paths).
    const folder = openLocalFolder(dir);
    const reader = {
      ...folder,
      modelFile: async (path: string) => ({
        name: path,
        data: new Uint8Array(await readFile(join(dir, path))),
      }),
    };
    return createWebModel(reader, { backend: createWebBackend({ ort: ortWeb, device: 'wasm' }) });
  },
};

const GREEDY = { maxNewTokens: 8, temperature: 0 } as const;
const PROMPT = 'Once upon a time there was a';
const OTHER = 'The capital of France is';

let dir: string;
/** What the node backend (session thread) generates without any cache reuse: the expectation. */
const expected: Record<string, number[]> = {};

beforeAll(async () => {
  dir = await ensureModel('tiny');
  const model = await createModel(dir, { prefixCache: false });
  try {
    for (const prompt of [PROMPT, OTHER, `${PROMPT} king`]) {
      expected[prompt] = (await model.generate(prompt, GREEDY)).tokenIds;
    }
    const first = await model.generate(PROMPT, GREEDY);
    const continued = [...(await model.encode(PROMPT)), ...first.tokenIds];
    expected.continued = (await model.generate({ inputIds: continued }, GREEDY)).tokenIds;
    // Cut back into the generated tokens, then a different continuation (cut) and a fork's (forked).
    const kept = [...(await model.encode(PROMPT)), ...first.tokenIds.slice(0, 3)];
    expected.cut = (await model.generate({ inputIds: [...kept, 42, 43] }, GREEDY)).tokenIds;
    expected.forked = (await model.generate({ inputIds: [...kept, 7] }, GREEDY)).tokenIds;
    expected.copied = (await model.generate({ inputIds: [...kept.slice(0, -1), 9, 10] }, GREEDY)).tokenIds;
  } finally {
    await model.dispose();
  }
});

describe.each(Object.entries(BACKENDS))('engine conformance: %s', (_name, load) => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await load(dir);
  });
  afterAll(() => model?.dispose());

  it('greedy tokens equal the node backend, alone, in a batch and from the prefix cache', async () => {
    expect((await model.generate(PROMPT, GREEDY)).tokenIds).toEqual(expected[PROMPT]);
    const batch = await model.generate([PROMPT, OTHER], GREEDY);
    expect(batch.map((r) => r.tokenIds)).toEqual([expected[PROMPT], expected[OTHER]]);
    const again = await model.generate(`${PROMPT} king`, GREEDY);
    expect(again.usage.cachedPromptTokens).toBeGreaterThan(0);
    expect(again.tokenIds).toEqual(expected[`${PROMPT} king`]);
  });

  it('a sequence continues where it stopped, and is cut back where a prompt diverges', async () => {
    const sequence = model.createSequence();
    try {
      const first = await model.generate(PROMPT, { ...GREEDY, sequence });
      expect(first.tokenIds).toEqual(expected[PROMPT]);
      const promptIds = await model.encode(PROMPT);
      // The cache holds the prompt and every generated token but the last (fed by the next call).
      expect(sequence.tokenIds).toEqual([...promptIds, ...first.tokenIds.slice(0, -1)]);
      const next = await model.generate(
        { inputIds: [...promptIds, ...first.tokenIds] },
        { ...GREEDY, sequence },
      );
      expect(next.usage.cachedPromptTokens).toBe(promptIds.length + first.tokenIds.length - 1);
      expect(next.tokenIds).toEqual(expected.continued);
      const diverged = await model.generate(OTHER, { ...GREEDY, sequence });
      expect(diverged.tokenIds).toEqual(expected[OTHER]);
      const shared = (await model.encode(OTHER)).findIndex((id, i) => id !== promptIds[i]);
      expect(diverged.usage.cachedPromptTokens).toBe(shared);
    } finally {
      await sequence.dispose();
    }
  });

  it('fork gives independent continuations; truncate keeps a prefix', async () => {
    const base = model.createSequence();
    const forks: Sequence[] = [];
    try {
      await model.generate(PROMPT, { ...GREEDY, maxNewTokens: 1, sequence: base });
      const held = [...base.tokenIds];
      forks.push(await base.fork(), await base.fork());
      const a = await model.generate(OTHER, { ...GREEDY, sequence: forks[0] });
      const b = await model.generate(PROMPT, { ...GREEDY, sequence: forks[1] });
      expect(a.tokenIds).toEqual(expected[OTHER]);
      expect(b.tokenIds).toEqual(expected[PROMPT]);
      // All of it but the last prompt token, which runs again for the logits.
      expect(b.usage.cachedPromptTokens).toBe(held.length - 1);
      // The original was not touched by either fork.
      expect(base.tokenIds).toEqual(held);
      await base.truncate(3);
      expect(base.tokenIds).toEqual(held.slice(0, 3));
      const c = await model.generate(PROMPT, { ...GREEDY, sequence: base });
      expect(c.usage.cachedPromptTokens).toBe(3);
      expect(c.tokenIds).toEqual(expected[PROMPT]);
    } finally {
      for (const s of [base, ...forks]) await s.dispose();
    }
  });

  it('after truncate, fork and a prefix copied out of the prefix cache, greedy tokens equal a fresh model', async () => {
    const sequence = model.createSequence();
    const forks: Sequence[] = [];
    try {
      const first = await model.generate(PROMPT, { ...GREEDY, sequence });
      const kept = [...(await model.encode(PROMPT)), ...first.tokenIds.slice(0, 3)];
      // Into the generated part, where the cache holds what the session computed (resident values).
      await sequence.truncate(kept.length);
      expect(sequence.tokenIds).toEqual(kept);
      forks.push(await sequence.fork());
      const cut = await model.generate({ inputIds: [...kept, 42, 43] }, { ...GREEDY, sequence });
      expect(cut.usage.cachedPromptTokens).toBe(kept.length);
      expect(cut.tokenIds).toEqual(expected.cut);
      const forked = await model.generate({ inputIds: [...kept, 7] }, { ...GREEDY, sequence: forks[0] });
      expect(forked.usage.cachedPromptTokens).toBe(kept.length);
      expect(forked.tokenIds).toEqual(expected.forked);
      // A fork of a fork that ran, cut back again.
      forks.push(await forks[0].fork());
      await forks[1].truncate(kept.length - 1);
      const again = await model.generate(
        { inputIds: [...kept.slice(0, -1), 9, 10] },
        { ...GREEDY, sequence: forks[1] },
      );
      expect(again.tokenIds).toEqual(expected.copied);

      // The prefix cache's entry for this prompt goes on differently: the shared part is copied.
      await model.generate({ inputIds: kept }, GREEDY);
      const copied = await model.generate({ inputIds: [...kept.slice(0, -1), 9, 10] }, GREEDY);
      expect(copied.usage.cachedPromptTokens).toBe(kept.length - 1);
      expect(copied.tokenIds).toEqual(expected.copied);
    } finally {
      for (const s of [sequence, ...forks]) await s.dispose();
    }
  });

  it('save and restore give the same continuation; bad snapshots are refused and change nothing', async () => {
    const sequence = model.createSequence();
    try {
      await model.generate(PROMPT, { ...GREEDY, sequence });
      const snapshot = await sequence.save();
      const restored = await model.restoreSequence(snapshot);
      expect(restored.tokenIds).toEqual(sequence.tokenIds);
      const prompt = { inputIds: [...sequence.tokenIds, 42, 43] };
      const a = await model.generate(prompt, { ...GREEDY, sequence });
      const b = await model.generate(prompt, { ...GREEDY, sequence: restored });
      expect(b.tokenIds).toEqual(a.tokenIds);
      expect(b.usage.cachedPromptTokens).toBe(a.usage.cachedPromptTokens);
      await restored.dispose();

      const corrupt = snapshot.slice();
      corrupt[corrupt.length - 5] ^= 0xff;
      await expect(model.restoreSequence(corrupt)).rejects.toMatchObject({
        code: 'INVALID_SNAPSHOT',
        message: /corrupt/,
      });
      await expect(model.restoreSequence(snapshot.subarray(0, snapshot.length - 100))).rejects.toMatchObject({
        code: 'INVALID_SNAPSHOT',
        message: /truncated/,
      });
      expect((await model.generate(PROMPT, GREEDY)).tokenIds).toEqual(expected[PROMPT]);
    } finally {
      await sequence.dispose();
    }
  });

  it('a disposed sequence is DISPOSED, and a sequence of another model is refused', async () => {
    const sequence = model.createSequence();
    await sequence.dispose();
    expect(sequence.disposed).toBe(true);
    expect(() => model.stream(PROMPT, { sequence })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(sequence.save()).rejects.toMatchObject({ code: 'DISPOSED' });
    const other = await createModel(dir);
    try {
      const foreign = other.createSequence();
      expect(() => model.stream(PROMPT, { sequence: foreign })).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: expect.stringMatching(/sequence of this model/),
        }),
      );
    } finally {
      await other.dispose();
    }
  });
});

describe('snapshots across backends', () => {
  it('a sequence saved on one backend restores on every other one, with the same continuation', async () => {
    const source = await createModel(dir);
    const sequence = source.createSequence();
    await source.generate(PROMPT, { ...GREEDY, sequence });
    const snapshot = await sequence.save();
    const prompt = { inputIds: [...sequence.tokenIds, 7, 8, 9] };
    const want = (await source.generate(prompt, { ...GREEDY, sequence })).tokenIds;
    await source.dispose();
    for (const load of Object.values(BACKENDS)) {
      const model = await load(dir);
      try {
        const restored = await model.restoreSequence(snapshot);
        expect((await model.generate(prompt, { ...GREEDY, sequence: restored })).tokenIds).toEqual(want);
      } finally {
        await model.dispose();
      }
    }
  });

  it('a snapshot of another model names the mismatch', async () => {
    const other = await createModel(await ensureModel({ name: 'other', seed: 7 }));
    const model = await createModel(dir);
    try {
      const sequence = other.createSequence();
      await other.generate(PROMPT, { ...GREEDY, maxNewTokens: 1, sequence });
      await expect(model.restoreSequence(await sequence.save())).rejects.toMatchObject({
        code: 'INVALID_SNAPSHOT',
        message: /saved by another model/,
      });
      const fp16 = await createModel(await ensureModel({ name: 'tiny-fp16kv', kvDtype: 'float16' }));
      try {
        const s16 = fp16.createSequence();
        await fp16.generate(PROMPT, { ...GREEDY, maxNewTokens: 1, sequence: s16 });
        await expect(model.restoreSequence(await s16.save())).rejects.toMatchObject({
          code: 'INVALID_SNAPSHOT',
        });
      } finally {
        await fp16.dispose();
      }
    } finally {
      await other.dispose();
      await model.dispose();
    }
  });
});
