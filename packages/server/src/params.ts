// Checks of request-body fields. Every failure is a 400 in OpenAI's error shape naming the field.
// `null` counts as absent, as in OpenAI's API (clients send `"stop": null`).
import { HttpError } from './errors.js';

/** A parsed JSON object of a request body (or a part of one). */
export type JsonObject = Record<string, unknown>;

/** How a value is named in messages: 'a string', 'an array', 'null', ... */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a non-finite number';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? `a ${typeof value}`
    : typeof value;
}

/** 400: the field has the wrong type. */
export function invalidType(param: string, expected: string, value: unknown): HttpError {
  return new HttpError(
    400,
    `Invalid type for '${param}': expected ${expected}, but got ${describeType(value)} instead.`,
    { param, code: 'invalid_type' },
  );
}

/** 400: the field has a value outside what is accepted (`why` says what is). */
export function invalidValue(param: string, why: string): HttpError {
  return new HttpError(400, `Invalid value for '${param}': ${why}`, { param, code: 'invalid_value' });
}

/** 400: a required field is missing. */
export function missing(param: string): HttpError {
  return new HttpError(400, `Missing required parameter: '${param}'.`, {
    param,
    code: 'missing_required_parameter',
  });
}

/** 400: a field this server does not implement (`why` says what to do instead). */
export function unsupported(param: string, why: string): HttpError {
  return new HttpError(400, `'${param}' is not supported by this server: ${why}`, {
    param,
    code: 'unsupported_parameter',
  });
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Refuses a field that is neither `known` (handled or deliberately ignored) nor in `refused` (fields
 * OpenAI has that this server cannot honour; their check returns why, or undefined when the value
 * is the default and harmless), as OpenAI refuses an unrecognized argument.
 */
export function checkFields(
  body: JsonObject,
  known: ReadonlySet<string>,
  refused: Readonly<Record<string, (value: unknown) => string | undefined>>,
  prefix = '',
): void {
  for (const [key, value] of Object.entries(body)) {
    if (known.has(key)) continue;
    const check = refused[key];
    if (!check) {
      throw new HttpError(400, `Unrecognized request argument supplied: ${prefix}${key}`, {
        param: `${prefix}${key}`,
        code: 'unknown_parameter',
      });
    }
    if (value === null || value === undefined) continue;
    const why = check(value);
    if (why !== undefined) throw unsupported(`${prefix}${key}`, why);
  }
}

/** Bounds of a number field. */
interface Range {
  min?: number;
  max?: number;
  /** `min` itself is refused. */
  minExclusive?: boolean;
}

/** A finite number field within `range`, or undefined when absent. */
export function optionalNumber(
  body: JsonObject,
  key: string,
  range: Range = {},
  param = key,
): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidType(param, 'a number', value);
  checkRange(param, value, range);
  return value;
}

/** An integer field within `range`, or undefined when absent. */
export function optionalInteger(
  body: JsonObject,
  key: string,
  range: Range = {},
  param = key,
): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  checkRange(param, value, range);
  return value;
}

function checkRange(param: string, value: number, { min, max, minExclusive }: Range): void {
  if (min !== undefined && (minExclusive ? value <= min : value < min)) {
    throw invalidValue(
      param,
      `expected a value ${minExclusive ? '>' : '>='} ${min}, but got ${value} instead.`,
    );
  }
  if (max !== undefined && value > max) {
    throw invalidValue(param, `expected a value <= ${max}, but got ${value} instead.`);
  }
}

/** A boolean field, or undefined when absent. */
export function optionalBoolean(body: JsonObject, key: string, param = key): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidType(param, 'a boolean', value);
  return value;
}

/** A string field, or undefined when absent. */
export function optionalString(body: JsonObject, key: string, param = key): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidType(param, 'a string', value);
  return value;
}

/** An object field, or undefined when absent. */
export function optionalObject(body: JsonObject, key: string, param = key): JsonObject | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalidType(param, 'an object', value);
  return value;
}

/** The `model` field: a non-empty string. */
export function modelField(body: JsonObject): string {
  const value = body.model;
  if (value === undefined || value === null) throw missing('model');
  if (typeof value !== 'string') throw invalidType('model', 'a string', value);
  if (value === '') throw invalidValue('model', 'expected a model name, but got an empty string.');
  return value;
}

/** `stop`: a string or an array of non-empty strings. */
export function stopField(body: JsonObject): string | string[] | undefined {
  const value = body.stop;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (!Array.isArray(value)) throw invalidType('stop', 'a string or an array of strings', value);
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw invalidType(`stop[${i}]`, 'a string', item);
    if (item === '') throw invalidValue(`stop[${i}]`, 'expected a non-empty string.');
  });
  return value as string[];
}

/** `logit_bias`: token id (as a string key) → bias in [-100, 100], ids below `vocabSize`. */
export function logitBiasField(body: JsonObject, vocabSize: number): Record<number, number> | undefined {
  const value = body.logit_bias;
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalidType('logit_bias', 'an object of token ids to numbers', value);
  const bias: Record<number, number> = {};
  for (const [key, item] of Object.entries(value)) {
    const id = /^(0|[1-9]\d*)$/.test(key) ? Number(key) : Number.NaN;
    if (!(id < vocabSize)) {
      throw invalidValue(
        'logit_bias',
        `keys must be token ids in [0, ${vocabSize}) as strings, but got ${JSON.stringify(key)}.`,
      );
    }
    if (typeof item !== 'number' || !Number.isFinite(item)) {
      throw invalidType(`logit_bias.${key}`, 'a number', item);
    }
    if (item < -100 || item > 100) {
      throw invalidValue(`logit_bias.${key}`, `expected a value in [-100, 100], but got ${item} instead.`);
    }
    bias[id] = item;
  }
  return bias;
}

/** `n`: only 1 (one choice per request). */
export function checkN(body: JsonObject): void {
  const n = optionalInteger(body, 'n', { min: 1 });
  if (n !== undefined && n !== 1) {
    throw unsupported('n', `this server returns one choice per request; send ${n} requests instead.`);
  }
}

/** `stream` and `stream_options`: whether to stream, and whether a usage chunk ends the stream. */
export function streamFields(body: JsonObject): { stream: boolean; includeUsage: boolean } {
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = optionalObject(body, 'stream_options');
  if (!options) return { stream, includeUsage: false };
  if (!stream) {
    throw invalidValue('stream_options', "stream_options is only allowed when 'stream' is true.");
  }
  checkFields(options, new Set(['include_usage', 'include_obfuscation']), {}, 'stream_options.');
  optionalBoolean(options, 'include_obfuscation', 'stream_options.include_obfuscation');
  return {
    stream,
    includeUsage: optionalBoolean(options, 'include_usage', 'stream_options.include_usage') ?? false,
  };
}
