import type { PipelineOptions } from '../logits/pipeline.js';
import type { SamplingParams } from '../logits/sampler.js';
import { SlmkitError } from '../spec/errors.js';
import type { GenerateOptions } from '../spec/generation.js';
import type { ModelConfig } from '../spec/model-config.js';

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
}

function invalid(message: string): never {
  throw new SlmkitError('INVALID_OPTION', message);
}

function check(name: string, value: number | undefined, ok: (v: number) => boolean, rule: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value))
    invalid(`${name} must be ${rule}; got ${String(value)}.`);
}

const isInteger = (v: number) => Number.isInteger(v);

/** The maxNewTokens a call without one gets: generation_config's max_new_tokens, else 256. */
export function defaultMaxNewTokens(config: ModelConfig): number {
  return config.generationDefaults.maxNewTokens ?? 256;
}

/** Applies the model's defaults to `options` and throws INVALID_OPTION for any invalid value. */
export function resolveGenerateOptions(
  options: GenerateOptions,
  config: ModelConfig,
): ResolvedGenerateOptions {
  const defaults = config.generationDefaults;
  check('maxNewTokens', options.maxNewTokens, (v) => isInteger(v) && v >= 0, 'an integer >= 0');
  check('temperature', options.temperature, (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
  check('topK', options.topK, (v) => isInteger(v) && v >= 0, 'an integer >= 0 (0 turns top-k off)');
  check('topP', options.topP, (v) => v > 0 && v <= 1, 'in (0, 1]');
  check('minP', options.minP, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  check(
    'repetitionPenalty',
    options.repetitionPenalty,
    (v) => Number.isFinite(v) && v > 0,
    'a finite number > 0 (1 = off)',
  );
  check('presencePenalty', options.presencePenalty, Number.isFinite, 'a finite number');
  check('frequencyPenalty', options.frequencyPenalty, Number.isFinite, 'a finite number');
  check('seed', options.seed, isInteger, 'an integer');
  if (options.doSample !== undefined && typeof options.doSample !== 'boolean')
    invalid('doSample must be a boolean.');
  const stop =
    options.stop === undefined ? [] : typeof options.stop === 'string' ? [options.stop] : [...options.stop];
  for (const s of stop)
    if (typeof s !== 'string' || s.length === 0) invalid('stop strings must be non-empty strings.');
  const eos = options.eosTokenIds ?? config.eosTokenIds;
  for (const id of eos) {
    if (!isInteger(id) || id < 0 || id >= config.vocabSize)
      invalid(`eosTokenIds must be token ids in [0, ${config.vocabSize}); got ${id}.`);
  }
  if (options.logitBias) {
    for (const [key, value] of Object.entries(options.logitBias)) {
      const id = Number(key);
      if (!isInteger(id) || id < 0 || id >= config.vocabSize)
        invalid(`logitBias keys must be token ids in [0, ${config.vocabSize}); got ${key}.`);
      if (typeof value !== 'number' || Number.isNaN(value) || value === Number.POSITIVE_INFINITY) {
        invalid(
          `logitBias values must be finite numbers or -Infinity; got ${String(value)} for token ${key}.`,
        );
      }
    }
  }
  const processors = options.logitsProcessors ?? [];
  if (!Array.isArray(processors)) invalid('logitsProcessors must be an array.');
  for (const p of processors) {
    const ok =
      typeof p === 'function' || (typeof p === 'object' && p !== null && typeof p.process === 'function');
    if (!ok) invalid('logitsProcessors must be functions or objects with a process(logits, context) method.');
  }

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
  };
}
