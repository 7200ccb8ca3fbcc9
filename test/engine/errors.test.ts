import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalLanguageModel, SlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { GraphBuilder } from '../fixtures/onnx-graph.js';
import { DataType, onnx } from '../fixtures/onnx-proto.js';

/** A valid ONNX model that is not a language model: one Identity node. */
function writeNonLanguageModel(path: string): void {
  const g = new GraphBuilder();
  g.input('pixel_values', DataType.FLOAT, [1, 3]);
  g.output('embeddings', DataType.FLOAT, [1, 3]);
  g.op('Identity', '/Identity', ['pixel_values'], {}, 'embeddings');
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: g.graph('main_graph') };
  writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish());
}

/**
 * A decoder whose graph has the inputs and outputs slmkit needs, with `kv` KV cache and `logits`
 * element types (`logits` is input_ids cast, `present` the past: only the signature matters).
 */
function writeDecoder(path: string, kv: number, logits: number): void {
  const g = new GraphBuilder();
  g.input('input_ids', DataType.INT64, [1, 'sequence_length']);
  g.input('attention_mask', DataType.INT64, [1, 'total_sequence_length']);
  g.output('logits', logits, [1, 'sequence_length']);
  g.op('Cast', '/Cast', ['input_ids'], { to: logits }, 'logits');
  for (const kind of ['key', 'value']) {
    g.input(`past_key_values.0.${kind}`, kv, [1, 1, 'past_sequence_length', 4]);
    g.output(`present.0.${kind}`, kv, [1, 1, 'total_sequence_length', 4]);
    g.op('Identity', `/Identity_${kind}`, [`past_key_values.0.${kind}`], {}, `present.0.${kind}`);
  }
  const model = { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: g.graph('main_graph') };
  writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish());
}

async function expectCode(promise: Promise<unknown> | (() => unknown), code: string, text?: string | RegExp) {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SlmkitError);
  expect((error as SlmkitError).code).toBe(code);
  if (text) expect((error as SlmkitError).message).toMatch(text);
}

describe('model files', () => {
  let folder: string;
  const copies: string[] = [];
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'slmkit-broken-'));
    cpSync(folder, dir, { recursive: true });
    copies.push(dir);
    return dir;
  };
  beforeAll(async () => {
    folder = await ensureModel('tiny');
  });
  afterAll(() => {
    for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  });

  it('a missing folder', () =>
    expectCode(createModel('./no/such/model'), 'MODEL_FILE_MISSING', 'no/such/model'));

  for (const file of ['config.json', 'tokenizer.json']) {
    it(`a missing ${file}`, async () => {
      const dir = copy();
      unlinkSync(join(dir, file));
      await expectCode(createModel(dir), 'MODEL_FILE_MISSING', file);
    });
    it(`a malformed ${file}`, async () => {
      const dir = copy();
      writeFileSync(join(dir, file), '{ "vocab_size": ');
      await expectCode(createModel(dir), 'MODEL_FILE_INVALID', new RegExp(`${file}.*not valid JSON`));
    });
  }

  it('a config.json without the sizes a decoder needs', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    await expectCode(
      createModel(dir),
      'MODEL_FILE_INVALID',
      /config\.json.*has no valid "num_attention_heads"/,
    );
  });

  it('a tokenizer.json that is JSON but not a tokenizer', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ hello: 'world' }));
    await expectCode(createModel(dir), 'MODEL_FILE_INVALID', 'tokenizer.json');
  });

  it('a missing onnx file lists what is there', async () => {
    const dir = copy();
    unlinkSync(join(dir, 'onnx/model.onnx'));
    await expectCode(createModel(dir), 'MODEL_FILE_MISSING', /onnx\/model\.onnx.*no \.onnx files/);
  });

  it('an onnx file that is not a model', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'onnx/model.onnx'), 'not a protobuf at all');
    await expectCode(createModel(dir), 'MODEL_FILE_INVALID', /onnx\/model\.onnx.*could not be loaded/);
  });

  it('a graph that is not a causal LM', async () => {
    const dir = copy();
    writeNonLanguageModel(join(dir, 'onnx/model.onnx'));
    await expectCode(createModel(dir), 'UNSUPPORTED_MODEL', /input_ids.*logits.*pixel_values/);
  });

  // Anything but float32/float16 would be read as if it were one of them: wrong numbers, no error.
  for (const [what, kv, logits, message] of [
    ['double logits', DataType.FLOAT, DataType.DOUBLE, /float64 logits.*float32 or float16/],
    ['an int8 KV cache', DataType.INT8, DataType.FLOAT, /int8 KV cache.*float32 or float16/],
  ] as const) {
    it(`a graph with ${what}`, async () => {
      const dir = copy();
      writeDecoder(join(dir, 'onnx/model.onnx'), kv, logits);
      await expectCode(createModel(dir), 'UNSUPPORTED_MODEL', message);
    });
  }
});

describe('calls', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await createModel(await ensureModel('tiny'));
  });
  afterAll(() => model.dispose());

  const invalidOptions: [string, object, RegExp][] = [
    ['negative temperature', { temperature: -0.5 }, /temperature must be a finite number >= 0/],
    ['topP of 0', { topP: 0, temperature: 1 }, /topP must be in \(0, 1\]/],
    ['topP above 1', { topP: 1.5, temperature: 1 }, /topP/],
    ['negative maxNewTokens', { maxNewTokens: -1 }, /maxNewTokens must be an integer >= 0/],
    ['fractional topK', { topK: 2.5 }, /topK/],
    ['minP above 1', { minP: 2 }, /minP/],
    ['zero repetitionPenalty', { repetitionPenalty: 0 }, /repetitionPenalty/],
    ['NaN presencePenalty', { presencePenalty: Number.NaN }, /presencePenalty/],
    ['fractional seed', { seed: 1.5 }, /seed/],
    ['empty stop string', { stop: [''] }, /stop strings/],
    ['eos id out of the vocabulary', { eosTokenIds: [99999] }, /eosTokenIds/],
    ['logitBias on a token that does not exist', { logitBias: { 32000: 1 } }, /logitBias keys/],
    ['logitBias of +Infinity', { logitBias: { 5: Number.POSITIVE_INFINITY } }, /logitBias values/],
  ];
  for (const [name, options, message] of invalidOptions) {
    it(`rejects ${name}`, () => expectCode(model.generate('Hi', options), 'INVALID_OPTION', message));
  }

  it('stream() throws invalid options at once', () => {
    expect(() => model.stream('Hi', { temperature: -1 })).toThrow(SlmkitError);
  });

  it('rejects bad inputs', async () => {
    await expectCode(model.generate({ inputIds: [] }), 'INVALID_INPUT', /non-empty/);
    await expectCode(model.generate({ inputIds: [1, 50000] }), 'INVALID_INPUT', /50000/);
    await expectCode(model.generate({ inputIds: [1, 2.5] }), 'INVALID_INPUT', /2\.5/);
    await expectCode(model.generate([]), 'INVALID_INPUT', /empty/);
    await expectCode(model.generate(42 as never), 'INVALID_INPUT', /string/);
  });

  it('rejects a prompt longer than the context window', async () => {
    const ids = Array.from({ length: 2048 }, (_, i) => 100 + (i % 1000));
    await expectCode(
      model.generate({ inputIds: ids }),
      'CONTEXT_OVERFLOW',
      /2048 tokens.*context window is 2048/,
    );
  });

  it('stays usable after every error above', async () => {
    const a = await model.generate('Hello', { maxNewTokens: 5 });
    const b = await model.generate('Hello', { maxNewTokens: 5 });
    expect(a.tokenIds).toHaveLength(5);
    expect(b.tokenIds).toEqual(a.tokenIds);
  });

  it('refuses calls after dispose, and a stream created before dispose', async () => {
    const other = await createModel(await ensureModel('tiny'));
    const early = other.stream('Hi', { maxNewTokens: 2 });
    await other.dispose();
    await expectCode(other.generate('Hi'), 'DISPOSED', /disposed/);
    expect(() => other.stream('Hi')).toThrow(/disposed/);
    await expectCode(async () => {
      for await (const _ of early) {
        // never reached
      }
    }, 'DISPOSED');
    await other.dispose(); // twice is fine
  });

  it('dispose waits for a running generation to finish', async () => {
    const other = await createModel(await ensureModel('tiny'));
    const running = other.generate('Once upon a time', { maxNewTokens: 20 });
    await other.dispose();
    expect((await running).tokenIds).toHaveLength(20);
  });
});
