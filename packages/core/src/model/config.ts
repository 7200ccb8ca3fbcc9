import { SlmkitError } from '../spec/errors.js';
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

function idList(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number');
  return [];
}

function optionalNumber(source: Record<string, unknown>, key: string): number | undefined {
  const value = source[key];
  return typeof value === 'number' ? value : undefined;
}

/** Builds a {@link ModelConfig} from config.json (required) and generation_config.json (optional). */
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
  const required = (key: string, ...aliases: string[]): number => {
    for (const k of [key, ...aliases]) {
      const value = c[k];
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
    }
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `config.json in ${location} has no valid "${key}" (a positive number is required).`,
    );
  };
  const numHeads = required('num_attention_heads', 'n_head');
  const hidden = required('hidden_size', 'n_embd');
  const gen = generationConfig ?? {};
  const eos = new Set([...idList(c.eos_token_id), ...idList(gen.eos_token_id)]);
  const defaults: GenerationDefaults = {
    maxNewTokens: optionalNumber(gen, 'max_new_tokens'),
    doSample: typeof gen.do_sample === 'boolean' ? gen.do_sample : undefined,
    temperature: optionalNumber(gen, 'temperature'),
    topK: optionalNumber(gen, 'top_k'),
    topP: optionalNumber(gen, 'top_p'),
    minP: optionalNumber(gen, 'min_p'),
    repetitionPenalty: optionalNumber(gen, 'repetition_penalty'),
  };
  return {
    modelType: typeof c.model_type === 'string' ? c.model_type : 'unknown',
    vocabSize: required('vocab_size'),
    numLayers: required('num_hidden_layers', 'n_layer'),
    numKeyValueHeads: optionalNumber(c, 'num_key_value_heads') ?? numHeads,
    headDim: optionalNumber(c, 'head_dim') ?? hidden / numHeads,
    contextLength: optionalNumber(c, 'max_position_embeddings') ?? optionalNumber(c, 'n_positions') ?? 2048,
    bosTokenId: idList(gen.bos_token_id ?? c.bos_token_id)[0],
    eosTokenIds: [...eos],
    padTokenId: idList(gen.pad_token_id ?? c.pad_token_id)[0],
    generationDefaults: Object.fromEntries(Object.entries(defaults).filter(([, v]) => v !== undefined)),
    raw: config,
  };
}
