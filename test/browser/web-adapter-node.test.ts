// A fast check of the web adapter without a browser: onnxruntime-web's Node build behind
// createWebBackend, against the node backend, token for token. (The browser tests remain the real check.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalFolder } from '../../packages/node/src/local-folder.js';
import { createModel, createWebBackend, type LanguageModel } from '../../packages/web/src/index.js';
import { ensureModel } from '../fixtures/models.js';
import { MAX_NEW_TOKENS, nodeReference, PROMPTS } from './harness.js';

describe('web adapter on onnxruntime-web in Node', () => {
  let reference: number[][];
  let model: LanguageModel;
  const backend = createWebBackend({ ort: ortWeb, device: 'wasm' });

  beforeAll(async () => {
    const dir = await ensureModel('tiny');
    reference = await nodeReference(dir);
    // The web backend takes bytes (browsers have no file paths).
    const folder = openLocalFolder(dir);
    const reader = {
      ...folder,
      modelFile: async (path: string) => ({
        name: path,
        data: new Uint8Array(await readFile(join(dir, path))),
      }),
    };
    model = await createModel(reader, { backend });
  });
  afterAll(() => model?.dispose());

  it('greedy output equals the node backend', async () => {
    const out: number[][] = [];
    for (const inputIds of PROMPTS) {
      out.push(
        (await model.generate({ inputIds }, { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 })).tokenIds,
      );
    }
    expect(out).toEqual(reference);
    expect(backend.runtimeInfo().executionProvider).toBe('wasm');
  });

  it('a batch of prompts gives each prompt its own greedy continuation', async () => {
    const results = await model.generate(
      PROMPTS.map((inputIds) => ({ inputIds })),
      { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 },
    );
    expect(results.map((r) => r.tokenIds)).toEqual(reference);
  });
});
