import { SlmkitError, showValue } from '../spec/errors.js';
import type { GenerationDefaults, ModelConfig } from '../spec/model-config.js';
import type { ModelSourceReader } from './model-source.js';

/** Reads and parses a JSON file of the model; `required` files throw MODEL_FILE_MISSING when absent. */
export async function readJsonFile(
  reader: ModelSourceReader,
  path: string,
  required: boolean,
): Promise<Record<string, unknown> | undefined> {
  const text = await reader.readText(path);
  if (text === undefined) {
    if (!required) return undefined;
    throw new SlmkitError('MODEL_FILE_MISSING', `${path} not found in ${reader.location}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `${path} in ${reader.location} is not valid JSON (${(cause as Error).message}).`,
      { cause },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SlmkitError('MODEL_FILE_INVALID', `${path} in ${reader.location} must hold a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The generation_config.json field behind each of {@link GenerationDefaults}: the default of the
 * call option of the same name. engine/resolve-options.ts checks them with the options' own rules.
 */
export const GENERATION_CONFIG_FIELDS: Readonly<Record<keyof GenerationDefaults, string>> = {
  maxNewTokens: 'max_new_tokens',
  doSample: 'do_sample',
  temperature: 'temperature',
  topK: 'top_k',
  topP: 'top_p',
  minP: 'min_p',
  repetitionPenalty: 'repetition_penalty',
};

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;

/**
 * The largest context window a model may declare: 2^31 - 1 positions. Sequence lengths are int32 in
 * ONNX Runtime's attention operators (GroupQueryAttention's seqlens_k and total_sequence_length)
 * and in sequence snapshots; a window past that could not be filled, only mis-sized.
 */
const MAX_CONTEXT_LENGTH = 2 ** 31 - 1;

/**
 * Builds a {@link ModelConfig} from config.json (required) and generation_config.json (optional),
 * checking every field it uses: sizes are positive integers, token ids are integers in
 * [0, vocab_size). Throws MODEL_FILE_INVALID naming the file and field. The generation defaults
 * are taken as they are: `checkGenerationDefaults` (engine/resolve-options.ts, the call options'
 * rules) has checked generation_config.json before.
 */
export function parseModelConfig(
  config: Record<string, unknown>,
  generationConfig: Record<string, unknown> | undefined,
  location: string,
): ModelConfig {
  // Some multimodal exports nest the language model's settings under text_config.
  const text = (typeof config.text_config === 'object' && config.text_config) as
    | Record<string, unknown>
    | false;
  const c = text ? { ...config, ...text } : config;
  const invalid = (file: string, message: string): never => {
    throw new SlmkitError('MODEL_FILE_INVALID', `${file} in ${location} ${message}`);
  };
  const required = (key: string, ...aliases: string[]): number => {
    for (const k of [key, ...aliases]) {
      if (isPositiveInteger(c[k])) return c[k];
    }
    return invalid('config.json', `has no valid "${key}" (a positive integer is required).`);
  };
  /** A size that may be absent (undefined or null), and is a positive integer when given. */
  const optionalSize = (key: string): number | undefined => {
    const value = c[key];
    if (value === undefined || value === null) return undefined;
    if (isPositiveInteger(value)) return value;
    return invalid(
      'config.json',
      `has ${key}: ${showValue(value)}, but it must be a positive integer. Correct it, or remove it to use the default.`,
    );
  };
  /** The context window of `key`, if given: a positive integer up to {@link MAX_CONTEXT_LENGTH}. */
  const contextSize = (key: string): number | undefined => {
    const size = optionalSize(key);
    if (size !== undefined && size > MAX_CONTEXT_LENGTH) {
      invalid(
        'config.json',
        `has ${key}: ${showValue(size)}, but a context window can be at most ${MAX_CONTEXT_LENGTH} positions (2^31 - 1: sequence lengths are int32 in ONNX Runtime's attention). Set it to the model's real window.`,
      );
    }
    return size;
  };
  const numHeads = required('num_attention_heads', 'n_head');
  const hidden = required('hidden_size', 'n_embd');
  const vocabSize = required('vocab_size');
  /** Token ids of a field: absent, one id, or a list of ids, each an integer in [0, vocab_size). */
  const tokenIds = (file: string, source: Record<string, unknown>, key: string): number[] => {
    const value = source[key];
    if (value === undefined || value === null) return [];
    // Some older exports write pad_token_id -1 for "none"; batches then pad with the first EOS id.
    if (key === 'pad_token_id' && typeof value === 'number' && value < 0) return [];
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
        invalid(
          file,
          `has ${key}: ${showValue(value)}, but it must be a token id (an integer in [0, ${vocabSize}), below vocab_size) or a list of them; ${showValue(id)} is not. Correct or remove the field.`,
        );
      }
    }
    return ids as number[];
  };
  const gen = generationConfig ?? {};
  const eos = new Set([
    ...tokenIds('config.json', c, 'eos_token_id'),
    ...tokenIds('generation_config.json', gen, 'eos_token_id'),
  ]);
  const bos = tokenIds('config.json', c, 'bos_token_id');
  const pad = tokenIds('config.json', c, 'pad_token_id');
  const genBos = tokenIds('generation_config.json', gen, 'bos_token_id');
  const genPad = tokenIds('generation_config.json', gen, 'pad_token_id');
  const defaults: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(GENERATION_CONFIG_FIELDS)) {
    // null is how Python writes "not set".
    if (gen[field] !== undefined && gen[field] !== null) defaults[name] = gen[field];
  }
  // The graph's own past_key_values shape wins over this where it declares one (decoder-signature.ts).
  const headDim = optionalSize('head_dim') ?? hidden / numHeads;
  return {
    modelType: typeof c.model_type === 'string' ? c.model_type : 'unknown',
    vocabSize,
    numLayers: required('num_hidden_layers', 'n_layer'),
    numKeyValueHeads: optionalSize('num_key_value_heads') ?? numHeads,
    headDim,
    contextLength: contextSize('max_position_embeddings') ?? contextSize('n_positions') ?? 2048,
    bosTokenId: (genBos.length > 0 ? genBos : bos)[0],
    eosTokenIds: [...eos],
    padTokenId: (genPad.length > 0 ? genPad : pad)[0],
    generationDefaults: defaults as GenerationDefaults,
    raw: config,
  };
}
