// POST /v1/completions: a prompt continued as it is (no chat template).
import type { GenerationResult, ModelConfig, Prompt } from '@slmkit/core';
import {
  checkFields,
  checkN,
  invalidType,
  invalidValue,
  type JsonObject,
  missing,
  optionalBoolean,
  optionalInteger,
  streamFields,
  unsupported,
} from './params.js';
import { finishReasonOf, type Generation, type OutputFormat, usageOf } from './run.js';
import { IGNORED_FIELDS, maxTokensField, SAMPLING_FIELDS, samplingOptions } from './sampling.js';

/** OpenAI's default max_tokens of /v1/completions. */
const DEFAULT_MAX_TOKENS = 16;

const KNOWN = new Set([
  'model',
  'prompt',
  'stream',
  'stream_options',
  'n',
  'echo',
  'best_of',
  ...SAMPLING_FIELDS,
  ...IGNORED_FIELDS,
]);

const REFUSED: Record<string, (value: unknown) => string | undefined> = {
  logprobs: () => 'token log probabilities are not available yet.',
  suffix: (v) => (v === '' ? undefined : 'slmkit models continue a prompt; they do not fill in text.'),
};

/** A completion request as slmkit call options. */
export function completionGeneration(body: JsonObject, config: ModelConfig): Generation {
  checkFields(body, KNOWN, REFUSED);
  checkN(body);
  const bestOf = optionalInteger(body, 'best_of', { min: 1 });
  if (bestOf !== undefined && bestOf !== 1) {
    throw unsupported('best_of', 'this server generates one completion per request.');
  }
  if (optionalBoolean(body, 'echo')) {
    throw unsupported('echo', 'prepend the prompt yourself: the response holds the new text only.');
  }
  const prompt = promptField(body.prompt, config.vocabSize);
  const maxTokens = maxTokensField(body, 'max_tokens') ?? DEFAULT_MAX_TOKENS;
  const options = samplingOptions(body, config, maxTokens);
  return { prompt, options, ...streamFields(body), promptParam: 'prompt' };
}

/** One prompt: a string, or token ids (fed as they are), or an array holding one of them. */
function promptField(value: unknown, vocabSize: number): Prompt {
  if (value === undefined || value === null) throw missing('prompt');
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) throw invalidType('prompt', 'a string or an array of token ids', value);
  if (value.length === 1 && (typeof value[0] === 'string' || Array.isArray(value[0]))) {
    return promptField(value[0], vocabSize);
  }
  if (value.length === 0) throw invalidValue('prompt', 'expected a prompt, but got an empty array.');
  if (value.every((v) => typeof v === 'string' || Array.isArray(v))) {
    throw unsupported('prompt', `this server takes one prompt per request; got ${value.length}.`);
  }
  value.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw invalidValue(
        `prompt[${i}]`,
        `expected a token id in [0, ${vocabSize}), but got ${JSON.stringify(id)}.`,
      );
    }
  });
  return { inputIds: value as number[] };
}

/** The response bodies and stream chunks of one completion. */
export function completionFormat(model: string, includeUsage: boolean): OutputFormat {
  const id = `cmpl-${crypto.randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const body = (choices: unknown[], extra: object = {}) => ({
    id,
    object: 'text_completion',
    created,
    model,
    choices,
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const choice = (text: string, finishReason: string | null = null) => ({
    index: 0,
    text,
    logprobs: null,
    finish_reason: finishReason,
  });
  return {
    complete: (result: GenerationResult) => ({
      ...body([choice(result.text, finishReasonOf(result.finishReason))]),
      usage: usageOf(result.usage),
    }),
    opening: () => [],
    text: (text) => body([choice(text)]),
    finish: (result) => body([choice('', finishReasonOf(result.finishReason))]),
    usage: (result) => body([], { usage: usageOf(result.usage) }),
  };
}
