import { checkResponseFormat } from '../constraints/response-format.js';
import type { PipelineOptions } from '../logits/pipeline.js';
import type { SamplingParams } from '../logits/sampler.js';
import { GENERATION_CONFIG_FIELDS } from '../model/config.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type {
  CachePrefixOptions,
  EncodeOptions,
  GenerateOptions,
  ResponseFormat,
} from '../spec/generation.js';
import type { GenerationDefaults, ModelConfig } from '../spec/model-config.js';
import { type ResolvedTools, resolveTools } from '../tools/tool-options.js';

/** Options after defaults were applied and every value was checked. */
export interface ResolvedGenerateOptions extends PipelineOptions {
  /** Most tokens to generate. */
  readonly maxNewTokens: number;
  /** How the next token is chosen; greedy (`temperature: 0`) when sampling is off. */
  readonly sampling: SamplingParams;
  /** Seed of the sampler, or undefined for a random one. */
  readonly seed: number | undefined;
  /** Stop strings (a single `stop` string becomes a list of one). */
  readonly stop: readonly string[];
  /** Token ids that end generation. */
  readonly eosTokenIds: ReadonlySet<number>;
  /** The call's abort signal, if any. */
  readonly signal: AbortSignal | undefined;
  /** The format the output is constrained to, if any (checked, not compiled yet). */
  readonly responseFormat: ResponseFormat | undefined;
  /** The call's tools and tool choice, if it has tools (checked). */
  readonly tools: ResolvedTools | undefined;
  /** With `logprobs`: how many alternatives each token reports (its topLogprobs); undefined when off. */
  readonly logprobs: number | undefined;
}

/** Most alternatives `topLogprobs` may ask for (OpenAI's bound). */
const MAX_TOP_LOGPROBS = 20;

/** The resolved `logprobs` of `options` (see {@link ResolvedGenerateOptions.logprobs}); INVALID_OPTION for bad values. */
function resolveLogprobs(options: GenerateOptions): number | undefined {
  const { logprobs, topLogprobs } = options;
  if (logprobs !== undefined && typeof logprobs !== 'boolean')
    invalid(`logprobs must be true or false; got ${showValue(logprobs)}.`);
  if (topLogprobs !== undefined) {
    if (!isIntegerIn(topLogprobs, 0, MAX_TOP_LOGPROBS))
      invalid(`topLogprobs must be an integer in [0, ${MAX_TOP_LOGPROBS}]; got ${showValue(topLogprobs)}.`);
    if (logprobs !== true) invalid('topLogprobs needs logprobs: true.');
  }
  return logprobs ? (topLogprobs ?? 0) : undefined;
}

const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

function invalid(message: string): never {
  throw new SlmkitError('INVALID_OPTION', message);
}

const isInteger = (v: number) => Number.isInteger(v);

/** The options with a rule of their own: the numbers, and doSample. */
type RuledOption = keyof GenerationDefaults | 'presencePenalty' | 'frequencyPenalty' | 'seed';

/**
 * The one set of rules for these options: a call's options and the defaults a model's
 * generation_config.json gives them are both held to it. `rule` is what the value must be.
 */
const RULES: Readonly<Record<RuledOption, { ok: (value: unknown) => boolean; rule: string }>> = (() => {
  const number = (ok: (v: number) => boolean, rule: string) => ({
    ok: (v: unknown) => typeof v === 'number' && !Number.isNaN(v) && ok(v),
    rule,
  });
  return {
    maxNewTokens: number((v) => isInteger(v) && v >= 0, 'an integer >= 0'),
    doSample: { ok: (v: unknown) => typeof v === 'boolean', rule: 'a boolean' },
    temperature: number((v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0'),
    topK: number((v) => isInteger(v) && v >= 0, 'an integer >= 0 (0 turns top-k off)'),
    topP: number((v) => v > 0 && v <= 1, 'in (0, 1]'),
    minP: number((v) => v >= 0 && v <= 1, 'in [0, 1]'),
    repetitionPenalty: number((v) => Number.isFinite(v) && v > 0, 'a finite number > 0 (1 = off)'),
    presencePenalty: number(Number.isFinite, 'a finite number'),
    frequencyPenalty: number(Number.isFinite, 'a finite number'),
    seed: number(isInteger, 'an integer'),
  };
})();

/** The maxNewTokens a call without one gets: generation_config's max_new_tokens, else 256. */
export function defaultMaxNewTokens(config: ModelConfig): number {
  return config.generationDefaults.maxNewTokens ?? 256;
}

/**
 * Checks generation_config.json's defaults with the rules of the call options they are defaults
 * of, and throws MODEL_FILE_INVALID naming the file, the field and the rule: a bad default would
 * otherwise break (or silently skew) every call that does not override it. Absent and null fields
 * are fine.
 */
export function checkGenerationDefaults(
  generationConfig: Readonly<Record<string, unknown>> | undefined,
  location: string,
): void {
  if (!generationConfig) return;
  for (const [name, field] of Object.entries(GENERATION_CONFIG_FIELDS) as [
    keyof GenerationDefaults,
    string,
  ][]) {
    const value = generationConfig[field];
    if (value === undefined || value === null || RULES[name].ok(value)) continue;
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `generation_config.json in ${location} has ${field}: ${showValue(value)}, but as the default of ${name} it must be ${RULES[name].rule}. Correct the field, or remove it to use slmkit's default.`,
    );
  }
}

/** Throws INVALID_OPTION unless `options[name]` is absent or keeps its rule. */
function check(options: GenerateOptions, name: RuledOption): void {
  const value = options[name];
  if (value !== undefined && !RULES[name].ok(value))
    invalid(`${name} must be ${RULES[name].rule}; got ${showValue(value)}.`);
}

/** An object that is not null or an array (a plain boolean: it must not narrow the option's own type). */
const isPlainObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An AbortSignal, also one of another realm (a worker's, a test environment's): checked by shape. */
const isAbortSignal = (value: unknown): value is AbortSignal =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AbortSignal).aborted === 'boolean' &&
  typeof (value as AbortSignal).addEventListener === 'function' &&
  typeof (value as AbortSignal).removeEventListener === 'function';

/**
 * Throws INVALID_OPTION unless `signal` is absent or an AbortSignal. Checked before a call is
 * queued: the queue listens to the signal while the call waits.
 */
export function checkSignal(signal: unknown): void {
  if (signal !== undefined && !isAbortSignal(signal))
    invalid(
      `signal must be an AbortSignal (e.g. AbortSignal.timeout(5000) or an AbortController's signal); got ${showValue(signal)}.`,
    );
}

/** Throws INVALID_OPTION unless `options` are `encode` options (absent, or an object with a boolean `addSpecialTokens`). */
export function checkEncodeOptions(options: unknown): asserts options is EncodeOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    invalid(`encode options must be an object (or left out); got ${showValue(options)}.`);
  }
  const { addSpecialTokens } = options as EncodeOptions;
  if (addSpecialTokens !== undefined && typeof addSpecialTokens !== 'boolean') {
    invalid(`addSpecialTokens must be true or false; got ${showValue(addSpecialTokens)}.`);
  }
}

/**
 * Throws INVALID_OPTION unless `options` are `cachePrefix` options: an object (or absent) with an
 * AbortSignal `signal`, a boolean `persist` and an object of `templateVariables`, each optional.
 * For every model implementation, so they refuse the same values with the same messages.
 */
export function checkCachePrefixOptions(options: unknown): asserts options is CachePrefixOptions | undefined {
  if (options === undefined) return;
  // `= {}` in a signature does not cover null.
  if (typeof options !== 'object' || options === null) {
    invalid(`cachePrefix options must be an object (or left out); got ${showValue(options)}.`);
  }
  const { signal, persist, templateVariables } = options as CachePrefixOptions;
  checkSignal(signal);
  if (persist !== undefined && typeof persist !== 'boolean') {
    invalid(`persist must be true or false; got ${showValue(persist)}.`);
  }
  checkTemplateVariables(templateVariables);
}

/**
 * Throws INVALID_OPTION unless `variables` (the chat template's extra variables) is absent or an
 * object. Shared by every call that renders messages.
 */
export function checkTemplateVariables(variables: unknown): void {
  if (variables !== undefined && !isPlainObject(variables)) {
    invalid(
      `templateVariables must be an object of variables for the chat template (e.g. { enable_thinking: false }); got ${showValue(variables)}.`,
    );
  }
}

/**
 * Applies the model's defaults to `options` and throws INVALID_OPTION for any invalid value,
 * including `options` itself when it is not an object (or undefined).
 */
export function resolveGenerateOptions(
  options: GenerateOptions,
  config: ModelConfig,
): ResolvedGenerateOptions {
  if (options === undefined) return resolveGenerateOptions({}, config);
  if (!isPlainObject(options)) invalid(`options must be an object (or left out); got ${showValue(options)}.`);
  const defaults = config.generationDefaults;
  for (const name of Object.keys(RULES) as RuledOption[]) check(options, name);
  const stopOption: unknown = options.stop;
  if (stopOption !== undefined && typeof stopOption !== 'string' && !Array.isArray(stopOption))
    invalid(`stop must be a string or an array of strings; got ${showValue(stopOption)}.`);
  const stop: string[] =
    stopOption === undefined ? [] : typeof stopOption === 'string' ? [stopOption] : [...stopOption];
  for (const s of stop)
    if (typeof s !== 'string' || s.length === 0)
      invalid(`stop strings must be non-empty strings; got ${showValue(s)}.`);
  const eosOption: unknown = options.eosTokenIds;
  if (eosOption !== undefined && !Array.isArray(eosOption))
    invalid(`eosTokenIds must be an array of token ids; got ${showValue(eosOption)}.`);
  const eos = (eosOption as readonly number[] | undefined) ?? config.eosTokenIds;
  for (const id of eos) {
    if (typeof id !== 'number' || !isInteger(id) || id < 0 || id >= config.vocabSize)
      invalid(`eosTokenIds must be token ids in [0, ${config.vocabSize}); got ${showValue(id)}.`);
  }
  if (options.logitBias !== undefined) {
    if (!isPlainObject(options.logitBias))
      invalid(`logitBias must be an object of { tokenId: bias }; got ${showValue(options.logitBias)}.`);
    for (const [key, value] of Object.entries(options.logitBias)) {
      const id = Number(key);
      if (!isInteger(id) || id < 0 || id >= config.vocabSize)
        invalid(`logitBias keys must be token ids in [0, ${config.vocabSize}); got ${key}.`);
      if (typeof value !== 'number' || Number.isNaN(value) || value === Number.POSITIVE_INFINITY) {
        invalid(
          `logitBias values must be finite numbers or -Infinity; got ${showValue(value)} for token ${key}.`,
        );
      }
    }
  }
  const processors = options.logitsProcessors ?? [];
  if (!Array.isArray(processors)) invalid(`logitsProcessors must be an array; got ${showValue(processors)}.`);
  for (const p of processors) {
    const ok =
      typeof p === 'function' || (typeof p === 'object' && p !== null && typeof p.process === 'function');
    if (!ok) invalid('logitsProcessors must be functions or objects with a process(logits, context) method.');
  }
  checkSignal(options.signal);
  checkTemplateVariables(options.templateVariables);
  checkResponseFormat(options.responseFormat);
  const tools = resolveTools(options);
  const logprobs = resolveLogprobs(options);

  const temperatureGiven = options.temperature !== undefined;
  const doSample =
    options.doSample ?? (temperatureGiven ? options.temperature! > 0 : (defaults.doSample ?? false));
  const temperature = options.temperature ?? defaults.temperature ?? 1;
  const greedy = !doSample || temperature === 0;
  return {
    maxNewTokens: options.maxNewTokens ?? defaultMaxNewTokens(config),
    sampling: greedy
      ? { temperature: 0, topK: 0, topP: 1, minP: 0 }
      : {
          temperature,
          topK: options.topK ?? defaults.topK ?? 50,
          topP: options.topP ?? defaults.topP ?? 1,
          minP: options.minP ?? defaults.minP ?? 0,
        },
    repetitionPenalty: options.repetitionPenalty ?? defaults.repetitionPenalty ?? 1,
    presencePenalty: options.presencePenalty ?? 0,
    frequencyPenalty: options.frequencyPenalty ?? 0,
    logitBias: options.logitBias,
    logitsProcessors: processors,
    seed: options.seed,
    stop,
    eosTokenIds: new Set(eos),
    signal: options.signal,
    responseFormat: options.responseFormat,
    tools,
    logprobs,
  };
}
