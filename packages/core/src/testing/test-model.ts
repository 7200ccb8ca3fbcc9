import { loadModel } from '../engine/load-model.js';
import type { LocalLanguageModel, PrefixCacheOption } from '../engine/local-model.js';
import type { ModelSourceReader } from '../model/model-source.js';
import { Sha256 } from '../sources/sha256.js';
import type { Backend, InferenceSession, ModelFile, ValueInfo } from '../spec/backend.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import { LlamaForward } from './llama.js';
import { invFreq, type LlamaShape, weightDefs } from './llama-layout.js';
import { ReferenceSession } from './session.js';
import {
  BOS_TOKEN_ID,
  EOS_TOKEN_ID,
  TEST_VOCAB_SIZE,
  testTokenizerConfig,
  testTokenizerJson,
} from './tokenizer.js';
import { buildWeights } from './weights.js';

/**
 * Options of {@link createTestModel}. All are optional; the same options always give the same
 * model, down to the last bit of every logit.
 *
 * @example
 * ```ts
 * import { createTestModel } from '@slmkit/core/testing';
 *
 * // A model with a small context window, to test what your code does when a chat outgrows it.
 * const model = await createTestModel({ seed: 7, contextLength: 64, prefixCache: false });
 * ```
 */
export interface TestModelOptions {
  /**
   * Seed of the model's weights: an integer in [0, 2^32), default 1. Models with different seeds
   * generate different tokens; the same seed gives the same tokens, in every process and runtime.
   */
  seed?: number;
  /** The context window in tokens (prompt plus new tokens), default 2048, as `config.contextLength`. */
  contextLength?: number;
  /** The automatic prefix cache, as `loadModel`'s option of the same name (default: on, 256 MiB). */
  prefixCache?: PrefixCacheOption;
}

/** Bumped whenever the test model's numbers or tokenizer change: saved snapshots of older ones no longer restore. */
const TEST_MODEL_VERSION = 1;

/** @internal Everything that determines the test model (what the repository's tests build the ONNX twin from). */
export interface TestModelSpec extends LlamaShape {
  readonly seed: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly maxPositionEmbeddings: number;
}

function invalid(message: string): never {
  throw new SlmkitError('INVALID_OPTION', message);
}

/** @internal The spec of the model `options` describe, checked. */
export function testModelSpec(options: TestModelOptions = {}): TestModelSpec {
  const { seed = 1, contextLength = 2048 } = options;
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
    invalid(`seed must be an integer in [0, 2^32); got ${showValue(seed)}.`);
  }
  if (!(Number.isInteger(contextLength) && contextLength > 0)) {
    invalid(`contextLength must be a positive integer; got ${showValue(contextLength)}.`);
  }
  return {
    vocabSize: TEST_VOCAB_SIZE,
    hiddenSize: 64,
    intermediateSize: 128,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 16,
    tieWordEmbeddings: false,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    maxPositionEmbeddings: contextLength,
    seed,
  };
}

function configJson(s: TestModelSpec): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    bos_token_id: BOS_TOKEN_ID,
    eos_token_id: EOS_TOKEN_ID,
    head_dim: s.headDim,
    hidden_act: 'silu',
    hidden_size: s.hiddenSize,
    intermediate_size: s.intermediateSize,
    max_position_embeddings: s.maxPositionEmbeddings,
    num_attention_heads: s.numAttentionHeads,
    num_hidden_layers: s.numHiddenLayers,
    num_key_value_heads: s.numKeyValueHeads,
    rms_norm_eps: s.rmsNormEps,
    rope_theta: s.ropeTheta,
    tie_word_embeddings: s.tieWordEmbeddings,
    torch_dtype: 'float32',
    vocab_size: s.vocabSize,
  };
}

/** The inputs and outputs of Optimum's decoder export (`model.onnx` with past key values), in its order. */
function decoderValues(s: TestModelSpec): { inputs: ValueInfo[]; outputs: ValueInfo[] } {
  const kv = (name: string, length: string): ValueInfo => ({
    name,
    type: 'float32',
    shape: ['batch_size', s.numKeyValueHeads, length, s.headDim],
  });
  const inputs: ValueInfo[] = [
    { name: 'input_ids', type: 'int64', shape: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', type: 'int64', shape: ['batch_size', 'total_sequence_length'] },
    { name: 'position_ids', type: 'int64', shape: ['batch_size', 'sequence_length'] },
  ];
  const outputs: ValueInfo[] = [
    { name: 'logits', type: 'float32', shape: ['batch_size', 'sequence_length', s.vocabSize] },
  ];
  for (let i = 0; i < s.numHiddenLayers; i++) {
    for (const kind of ['key', 'value']) {
      inputs.push(kv(`past_key_values.${i}.${kind}`, 'past_sequence_length'));
      outputs.push(kv(`present.${i}.${kind}`, 'total_sequence_length'));
    }
  }
  return { inputs, outputs };
}

/** The forward pass over the weights the seed gives (float32 weights, float64 arithmetic). */
function forwardPass(s: TestModelSpec): LlamaForward {
  const { entries } = buildWeights(weightDefs(s), s.seed);
  return new LlamaForward(
    {
      numLayers: s.numHiddenLayers,
      hiddenSize: s.hiddenSize,
      intermediateSize: s.intermediateSize,
      numHeads: s.numAttentionHeads,
      numKvHeads: s.numKeyValueHeads,
      headDim: s.headDim,
      vocabSize: s.vocabSize,
      // As an exported graph stores it (a float32 constant).
      rmsNormEps: Math.fround(s.rmsNormEps),
      tied: s.tieWordEmbeddings,
      kvDtype: 'float32',
      invFreq: invFreq(s.headDim, s.ropeTheta),
    },
    (name, dims) => {
      const entry = entries.get(name);
      if (!entry || entry.dims.join() !== dims.join())
        throw new Error(`test model: no weight ${name} [${dims}]`);
      return entry.values;
    },
  );
}

const MODEL_PATH = 'onnx/model.onnx';

/** The model's files, from memory; its content digest binds saved state to this exact model. */
function testModelSource(s: TestModelSpec): ModelSourceReader {
  const digest = new Sha256()
    .update(new TextEncoder().encode(JSON.stringify(['slmkit-test-model', TEST_MODEL_VERSION, s])))
    .hex();
  const files: Record<string, () => string> = {
    'config.json': () => JSON.stringify(configJson(s)),
    'generation_config.json': () =>
      JSON.stringify({ bos_token_id: BOS_TOKEN_ID, eos_token_id: EOS_TOKEN_ID }),
    'tokenizer.json': testTokenizerJson,
    'tokenizer_config.json': () => JSON.stringify(testTokenizerConfig(s.maxPositionEmbeddings)),
  };
  return {
    location: `test model (seed ${s.seed})`,
    readText: async (path) => files[path]?.(),
    modelFile: async (path): Promise<ModelFile | undefined> =>
      path === MODEL_PATH ? { name: MODEL_PATH } : undefined,
    listModelFiles: async () => [MODEL_PATH],
    contentDigest: async (path) => (path === MODEL_PATH ? `slmkit-test-model:${digest}` : undefined),
  };
}

/** A backend whose one graph is the test model's forward pass. */
function testModelBackend(s: TestModelSpec): Backend {
  return {
    name: 'slmkit-test-model',
    async createSession(): Promise<InferenceSession> {
      const { inputs, outputs } = decoderValues(s);
      return new ReferenceSession(forwardPass(s), inputs, outputs);
    },
  };
}

/**
 * A real language model for your tests: a tiny Llama-architecture decoder (2 layers, hidden size
 * 64, 4 attention heads over 2 KV heads, a 512-token byte-level BPE vocabulary) whose weights are
 * drawn from `options.seed`, computed in plain TypeScript in float64. It needs no ONNX Runtime, no
 * files and no network, runs in Node and in browsers, and takes milliseconds per token.
 *
 * It is the same {@link LocalLanguageModel} that `createModel` of @slmkit/node or @slmkit/web
 * returns, so everything works as with a downloaded model: generate and stream, batches, every
 * sampling and stopping option, logits processors, chats (it has a chat template: TinyLlama's),
 * sequences, snapshots (bound to the seed and options), prefix caching. Its weights are random, so
 * its text is gibberish, but it is deterministic: the same options and prompt give the same tokens,
 * and its logits are those an ONNX export of the same weights gives on ONNX Runtime. The tokenizer
 * encodes any text and decodes it back unchanged, except that `<s>`, `</s>` and `<unk>` in a text
 * are read as the special tokens. Greedy decoding is the default (no generation_config sampling).
 *
 * @param options - The seed of the weights, the context length, the prefix cache.
 * @returns The loaded model; `dispose()` it when done.
 * @throws SlmkitError 'INVALID_OPTION' when an option is out of range.
 *
 * @example
 * ```ts
 * import { createTestModel } from '@slmkit/core/testing';
 * import { expect, it } from 'vitest';
 *
 * it('my summarizer streams and stops at maxNewTokens', async () => {
 *   const model = await createTestModel({ seed: 1 });
 *   const result = await model.generate('Summarize: the sky is blue.', { maxNewTokens: 8 });
 *   expect(result.tokenIds).toHaveLength(8);
 *   expect(result.finishReason).toBe('length');
 *   await model.dispose();
 * });
 * ```
 */
export async function createTestModel(options: TestModelOptions = {}): Promise<LocalLanguageModel> {
  const spec = testModelSpec(options);
  return loadModel(testModelSource(spec), {
    backend: testModelBackend(spec),
    prefixCache: options.prefixCache,
  });
}
