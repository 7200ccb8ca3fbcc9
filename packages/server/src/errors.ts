// Error responses in OpenAI's shape: { error: { message, type, param, code } }.

/** The `error` member of every error response body. */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** A request that ends with an error response: its status, OpenAI-shaped body and extra headers. */
export class HttpError extends Error {
  readonly status: number;
  readonly param: string | null;
  readonly code: string | null;
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    details: {
      param?: string | null;
      code?: string | null;
      type?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.param = details.param ?? null;
    this.code = details.code ?? null;
    this.type = details.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.headers = details.headers ?? {};
  }

  /** The body OpenAI sends for this error. */
  toJSON(): { error: OpenAIErrorObject } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A JSON response with the given status. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** The response of an {@link HttpError}. */
export function errorResponse(error: HttpError): Response {
  return jsonResponse(error.status, error.toJSON(), error.headers);
}

/** What an SlmkitError looks like; checked by shape so an error of another copy of @slmkit/core counts too. */
interface SlmkitErrorLike {
  name: 'SlmkitError';
  code: string;
  message: string;
}

/** True for an SlmkitError (of any copy of @slmkit/core, or rebuilt after a worker boundary). */
export function isSlmkitErrorLike(error: unknown): error is SlmkitErrorLike {
  return (
    error instanceof Error &&
    error.name === 'SlmkitError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/** slmkit option names (as its messages begin) → the request field they came from. */
const OPTION_PARAMS: [prefix: string, param: string][] = [
  ['responseFormat', 'response_format'],
  ['logitBias', 'logit_bias'],
  ['templateVariables', 'chat_template_kwargs'],
  ['toolChoice', 'tool_choice'],
  ['tools', 'tools'],
  ['maxNewTokens', 'max_tokens'],
  ['temperature', 'temperature'],
  ['topP', 'top_p'],
  ['topK', 'top_k'],
  ['minP', 'min_p'],
  ['repetitionPenalty', 'repetition_penalty'],
  ['presencePenalty', 'presence_penalty'],
  ['frequencyPenalty', 'frequency_penalty'],
  ['seed', 'seed'],
  ['stop', 'stop'],
];

/**
 * The response status and body of an error thrown by a model: a bad option, bad input or a prompt
 * that does not fit is the caller's (400, slmkit's message, the field when the message names an
 * option); anything else is the server's (500).
 *
 * @param promptParam the field that holds the prompt ('messages' or 'prompt').
 */
export function fromModelError(error: unknown, promptParam: string): HttpError {
  if (error instanceof HttpError) return error;
  if (isSlmkitErrorLike(error)) {
    if (error.code === 'INVALID_OPTION') {
      const param =
        OPTION_PARAMS.find(([prefix]) => error.message.startsWith(prefix))?.[1] ??
        // A model whose template has no tool-call format refuses tools in a sentence of its own.
        (error.message.includes('has no tool-call format') ? 'tools' : null);
      return new HttpError(400, error.message, { param, code: 'invalid_value' });
    }
    if (error.code === 'INVALID_INPUT') {
      return new HttpError(400, error.message, { param: promptParam, code: 'invalid_value' });
    }
    if (error.code === 'CONTEXT_OVERFLOW') {
      return new HttpError(400, error.message, { param: promptParam, code: 'context_length_exceeded' });
    }
    return new HttpError(500, `The model failed (${error.code}): ${error.message}`, { code: error.code });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HttpError(500, `The server failed: ${message}`);
}
