import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureModel, ONNX_DATA_FILE, ONNX_FILE, PRESETS, resolveSpec } from '../fixtures/models.js';
import { LlamaReference, loadOnnxModel } from '../reference/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'slmkit-models-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('ensureModel', () => {
  it('builds once, atomically, also when called concurrently', async () => {
    const spec = { name: 'mini', numHiddenLayers: 1, vocabSize: 32000, seed: 3 };
    const dirs = await Promise.all([1, 2, 3].map(() => ensureModel(spec, { cacheDir: scratch })));
    expect(new Set(dirs).size).toBe(1);
    expect(readdirSync(scratch)).toEqual([dirs[0].split('/').at(-1)]); // no temporary folders left
    expect(readdirSync(dirs[0]).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(existsSync(join(dirs[0], ONNX_DATA_FILE))).toBe(false);
    expect(await ensureModel(spec, { cacheDir: scratch })).toBe(dirs[0]);
    // A different seed is a different folder.
    expect(await ensureModel(spec, { cacheDir: scratch, seed: 4 })).not.toBe(dirs[0]);
  });

  it('writes config.json that agrees with the graph', async () => {
    const dir = await ensureModel('tiny');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const spec = PRESETS.tiny;
    expect(config).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: spec.hiddenSize,
      num_hidden_layers: spec.numHiddenLayers,
      num_key_value_heads: spec.numKeyValueHeads,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'float32',
    });
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    expect(gen.do_sample).toBeUndefined();
    const ref = new LlamaReference(await loadOnnxModel({ name: ONNX_FILE, path: join(dir, ONNX_FILE) }));
    expect(ref.config).toMatchObject({
      numLayers: config.num_hidden_layers,
      hiddenSize: config.hidden_size,
      intermediateSize: config.intermediate_size,
      numHeads: config.num_attention_heads,
      numKvHeads: config.num_key_value_heads,
      headDim: config.head_dim,
      vocabSize: config.vocab_size,
      tied: config.tie_word_embeddings,
    });
    expect(ref.config.rmsNormEps).toBeCloseTo(config.rms_norm_eps, 12);
    expect(ref.config.invFreq[1]).toBeCloseTo(1 / config.rope_theta ** (2 / config.head_dim), 7);
  });

  it('rejects inconsistent specs', () => {
    expect(() => resolveSpec({ numAttentionHeads: 3 })).toThrow(/multiple/);
    expect(() => resolveSpec({ headDim: 15 })).toThrow(/even/);
  });
});
