import type { ChatMessage } from './chat-template.js';
import type { ModelConfig } from './config.js';
import { SlmkitError } from './errors.js';
import type { LogitsProcessor } from './logits-processors.js';
import type { SamplingParams } from './sampler.js';

/** Token ids given directly: no chat template and no encoding is applied. */
export interface TokenizedPrompt {
  inputIds: readonly number[];
}

/** What a model can be asked to continue: plain text, chat messages, or token ids. */
export type Prompt = string | readonly ChatMessage[] | TokenizedPrompt;

/** Options of one generate() or stream() call. Defaults come from the model's generation_config.json. */
export interface GenerateOptions {
  /** Most tokens to generate (default: generation_config's max_new_tokens, else 256). */
  maxNewTokens?: number;
  /** Sample (true) or pick the most likely token (false). Default: true when `temperature` > 0 is given, else generation_config's do_sample, else false. */
  doSample?: boolean;
  /** Softmax temperature; 0 means greedy. Default: generation_config's, else 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens; 0 turns it off. Default: generation_config's top_k, else 50 (as in Hugging Face). */
  topK?: number;
  /** Nucleus sampling: the smallest set of tokens whose probability reaches topP, in (0, 1]. Default 1 (off). */
  topP?: number;
  /** Drop tokens less likely than minP × the top token's probability, in [0, 1]. Default 0 (off). */
  minP?: number;
  /** Hugging Face repetition penalty over prompt and output (> 0; 1 = off). */
  repetitionPenalty?: number;
  /** OpenAI presence penalty: subtracted once from every token already generated. */
  presencePenalty?: number;
  /** OpenAI frequency penalty: subtracted per occurrence of a token already generated. */
  frequencyPenalty?: number;
  /** Added to the logits of the given token ids (use -Infinity to ban a token). */
  logitBias?: Readonly<Record<number, number>>;
  /** Your own processors, run after the built-in penalties and bias, before sampling. */
  logitsProcessors?: readonly LogitsProcessor[];
  /** Seed of the sampler: the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** Stop when the output contains one of these strings; the stop string is not part of the output. */
  stop?: string | readonly string[];
  /** Token ids that end generation (default: the model's eos_token_id list). */
  eosTokenIds?: readonly number[];
  /** Aborts the call: the promise rejects (or the stream throws) with SlmkitError code 'ABORTED'. */
  signal?: AbortSignal;
  /** Extra variables for the chat template (e.g. `{ enable_thinking: false }` for Qwen3). */
  templateVariables?: Readonly<Record<string, unknown>>;
}

/** Options after defaults were applied and every value was checked. */
export interface ResolvedGenerateOptions {
  readonly maxNewTokens: number;
  readonly sampling: SamplingParams;
  readonly repetitionPenalty: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly logitBias: Readonly<Record<number, number>> | undefined;
  readonly logitsProcessors: readonly LogitsProcessor[];
  readonly seed: number | undefined;
  readonly stop: readonly string[];
  readonly eosTokenIds: ReadonlySet<number>;
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
  if (options.logitsProcessors?.some((p) => typeof p !== 'function'))
    invalid('logitsProcessors must be functions.');

  const temperatureGiven = options.temperature !== undefined;
  const doSample =
    options.doSample ?? (temperatureGiven ? options.temperature! > 0 : (defaults.doSample ?? false));
  const temperature = options.temperature ?? defaults.temperature ?? 1;
  const greedy = !doSample || temperature === 0;
  return {
    maxNewTokens: options.maxNewTokens ?? defaults.maxNewTokens ?? 256,
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
    logitsProcessors: options.logitsProcessors ?? [],
    seed: options.seed,
    stop,
    eosTokenIds: new Set(eos),
    signal: options.signal,
  };
}
