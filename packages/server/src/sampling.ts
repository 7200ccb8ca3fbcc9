// The sampling fields both /v1/chat/completions and /v1/completions take, as slmkit GenerateOptions.
import type { GenerateOptions, ModelConfig } from '@slmkit/core';
import {
  invalidValue,
  type JsonObject,
  logitBiasField,
  optionalInteger,
  optionalNumber,
  stopField,
} from './params.js';

/** Fields of both endpoints that the server reads (besides model, stream, n and the prompt). */
export const SAMPLING_FIELDS = [
  'max_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  // Extensions of vLLM's OpenAI server, for the sampling OpenAI does not have:
  'top_k',
  'min_p',
  'repetition_penalty',
];

/** Fields OpenAI defines that change nothing about the output: accepted and ignored. */
export const IGNORED_FIELDS = ['user', 'metadata', 'store', 'service_tier', 'safety_identifier'];

/**
 * slmkit options of the sampling fields. A field left out keeps slmkit's default (the model's
 * generation_config.json), except top-k: OpenAI has none, so it is off unless `top_k` or
 * generation_config gives one.
 *
 * @param maxTokens the output limit, read by the endpoint (max_tokens / max_completion_tokens).
 */
export function samplingOptions(
  body: JsonObject,
  config: ModelConfig,
  maxTokens: number | undefined,
): GenerateOptions {
  const topK = optionalInteger(body, 'top_k', { min: -1 });
  const options: GenerateOptions = {
    maxNewTokens: maxTokens,
    temperature: optionalNumber(body, 'temperature', { min: 0, max: 2 }),
    topP: optionalNumber(body, 'top_p', { min: 0, max: 1, minExclusive: true }),
    // -1 is vLLM's "off".
    topK: topK === undefined ? (config.generationDefaults.topK ?? 0) : Math.max(topK, 0),
    minP: optionalNumber(body, 'min_p', { min: 0, max: 1 }),
    repetitionPenalty: optionalNumber(body, 'repetition_penalty', { min: 0, minExclusive: true }),
    presencePenalty: optionalNumber(body, 'presence_penalty', { min: -2, max: 2 }),
    frequencyPenalty: optionalNumber(body, 'frequency_penalty', { min: -2, max: 2 }),
    logitBias: logitBiasField(body, config.vocabSize),
    seed: optionalInteger(body, 'seed', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    stop: stopField(body),
  };
  return withoutUndefined(options);
}

/** `max_tokens` (or `key`): an integer >= 1, or undefined when absent. */
export function maxTokensField(body: JsonObject, key: string): number | undefined {
  const value = optionalInteger(body, key);
  if (value !== undefined && value < 1) {
    throw invalidValue(key, `expected a value >= 1, but got ${value} instead.`);
  }
  return value;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
