/** Machine-readable reason of a {@link SlmkitError}. */
export type SlmkitErrorCode =
  /** A model file is missing (config.json, tokenizer.json, an .onnx file, ...). */
  | 'MODEL_FILE_MISSING'
  /** A model file exists but cannot be parsed or has wrong contents. */
  | 'MODEL_FILE_INVALID'
  /** The ONNX graph is not a causal language model slmkit can drive. */
  | 'UNSUPPORTED_MODEL'
  /** An option has an invalid value. */
  | 'INVALID_OPTION'
  /** The input (prompt, messages, token ids) is invalid. */
  | 'INVALID_INPUT'
  /** The prompt does not fit the model's context window. */
  | 'CONTEXT_OVERFLOW'
  /** A saved sequence or chat cannot be restored here: another model, another snapshot version, truncated or corrupt. */
  | 'INVALID_SNAPSHOT'
  /** The operation was aborted through its AbortSignal. */
  | 'ABORTED'
  /** The model (or session) was used after dispose(). */
  | 'DISPOSED'
  /** The inference runtime failed. */
  | 'RUNTIME_ERROR'
  /** A network request failed (connection, HTTP status, unexpected response body). */
  | 'NETWORK_ERROR'
  /** Authentication is missing or was refused (HTTP 401/403). */
  | 'UNAUTHORIZED'
  /** A requested repository, revision or file does not exist (HTTP 404). */
  | 'NOT_FOUND'
  /** A downloaded or cached file failed size or hash verification. */
  | 'INTEGRITY_ERROR'
  /** A file is not in the cache and remote access is disabled. */
  | 'OFFLINE'
  /** Storage is full or refused a write. */
  | 'STORAGE_ERROR';

/**
 * The one error type slmkit throws. `code` says what went wrong; `message` says what to do about it.
 *
 * @example
 * ```ts
 * try { await model.generate(prompt, { temperature: -1 }); }
 * catch (e) { if (e instanceof SlmkitError && e.code === 'INVALID_OPTION') console.warn(e.message); }
 * ```
 */
export class SlmkitError extends Error {
  /** Always 'SlmkitError', so logs and `error.name` checks see the type. */
  override readonly name = 'SlmkitError';
  /** What went wrong, for code to branch on. */
  readonly code: SlmkitErrorCode;

  constructor(code: SlmkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `error` is a {@link SlmkitError}, optionally with the given code. */
export function isSlmkitError(error: unknown, code?: SlmkitErrorCode): error is SlmkitError {
  return error instanceof SlmkitError && (code === undefined || error.code === code);
}

/** The ABORTED error of `signal`: its own reason when that is one already. */
export function abortedError(signal: AbortSignal, what = 'The call was aborted.'): SlmkitError {
  const reason = signal.reason;
  if (reason instanceof SlmkitError && reason.code === 'ABORTED') return reason;
  return new SlmkitError('ABORTED', what, { cause: reason });
}

/** Longest text {@link showValue} gives; longer values are cut, with an ellipsis. */
const SHOWN_CHARACTERS = 200;

/**
 * A caller's value as error messages show it: strings quoted (so `"2"` and `2` are told apart),
 * numbers as JavaScript writes them (NaN, -0), BigInts with their `n`, objects of a class by its
 * name, functions and symbols by what they are, the rest as JSON; cut after 200 characters. It
 * never throws, whatever `value` is (a null-prototype object holding a BigInt, a revoked Proxy, a
 * getter that throws): a value it cannot describe is shown by its `Object.prototype.toString` tag,
 * else by its `typeof`.
 */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = describeValue(value);
  } catch {
    try {
      text = Object.prototype.toString.call(value);
    } catch {
      text = `a value of type ${typeof value}`;
    }
  }
  return text.length > SHOWN_CHARACTERS ? `${text.slice(0, SHOWN_CHARACTERS)}…` : text;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  // JSON would show NaN and the infinities as null, and -0 as 0.
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const name = value.constructor?.name;
    if (name && name !== 'Object') return `a ${name}`;
  }
  return JSON.stringify(value) ?? String(value);
}
