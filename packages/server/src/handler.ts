import type { LanguageModel } from '@slmkit/core';
import { SlmkitError } from '@slmkit/core';
import { chatFormat, chatGeneration } from './chat-completions.js';
import { completionFormat, completionGeneration } from './completions.js';
import { errorResponse, HttpError, jsonResponse } from './errors.js';
import { invalidValue, isObject, type JsonObject, modelField } from './params.js';
import { RequestQueue } from './queue.js';
import { runGeneration, type ServedModel } from './run.js';

/** A web-standard request handler: what `fetch` handlers of Hono, Bun, Deno and workers are. */
export type OpenAIHandler = (request: Request) => Promise<Response>;

/** Options of {@link createOpenAIHandler}. */
export interface OpenAIHandlerOptions {
  /**
   * The models to serve: one model, which answers whatever `model` a request names (and is listed
   * as 'default'), or models by the names requests give as `model` (another name is a 404).
   */
  models: LanguageModel | Readonly<Record<string, LanguageModel>>;
  /**
   * When set, every request but GET /health must send `Authorization: Bearer <apiKey>` (else 401).
   */
  apiKey?: string;
  /**
   * Requests that may wait for a model while it runs another one (default 16); one more gets a 429
   * at once. Each model runs one request at a time and has its own queue.
   */
  maxQueue?: number;
  /** Largest request body in bytes (default 1 MiB); a larger one gets a 413. */
  maxBodyBytes?: number;
  /**
   * Told of every error that is the server's (a 500), with the request it answered; default
   * `console.error`. Errors of the caller (4xx) are only sent to the caller.
   */
  onError?: (error: unknown, request: Request) => void;
}

const DEFAULT_MAX_QUEUE = 16;
const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** Paths and the methods they take. */
const ROUTES: Record<string, string> = {
  '/v1/chat/completions': 'POST',
  '/v1/completions': 'POST',
  '/v1/models': 'GET',
  '/health': 'GET',
};

/**
 * An OpenAI-compatible HTTP API over slmkit models, as a web-standard `(request) => Promise<Response>`
 * handler (run it on Node.js with `serve` of `@slmkit/server/node`, or in any runtime that speaks
 * Request/Response): POST /v1/chat/completions and /v1/completions (streamed as Server-Sent Events
 * with `stream: true`), GET /v1/models, /v1/models/{model} and /health. docs/server.md lists what
 * each endpoint takes and answers.
 *
 * A client that goes away (the request's `signal` aborts) stops its generation, or leaves the
 * queue if it was waiting. Throws SlmkitError 'INVALID_OPTION' for options it cannot use.
 *
 * @example
 * ```ts
 * import { createModel } from '@slmkit/node';
 * import { createOpenAIHandler } from '@slmkit/server';
 * import { serve } from '@slmkit/server/node';
 *
 * const model = await createModel('onnx-community/SmolLM2-135M-Instruct', { dtype: 'q4' });
 * const server = await serve(createOpenAIHandler({ models: { smollm2: model }, apiKey: process.env.API_KEY }), { port: 8080 });
 * console.log(`OpenAI-compatible API on ${server.url}/v1`);
 * ```
 */
export function createOpenAIHandler(options: OpenAIHandlerOptions): OpenAIHandler {
  const maxQueue = checkCount(options.maxQueue, 'maxQueue', DEFAULT_MAX_QUEUE, 0);
  const maxBodyBytes = checkCount(options.maxBodyBytes, 'maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 1);
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw new SlmkitError('INVALID_OPTION', 'apiKey must be a non-empty string, or left out for no key.');
  }
  const { lookup, list } = servedModels(options.models, maxQueue);
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const created = Math.floor(Date.now() / 1000);

  const route = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname.replace(/\/+$/, '') || '/';
    const modelPath = path.startsWith('/v1/models/')
      ? modelName(path.slice('/v1/models/'.length))
      : undefined;
    const method = modelPath === undefined ? ROUTES[path] : 'GET';
    if (!method) {
      throw new HttpError(
        404,
        `Invalid URL (${request.method} ${path}): this server has ${Object.keys(ROUTES).join(', ')}.`,
      );
    }
    if (request.method !== method) {
      throw new HttpError(405, `Method ${request.method} is not allowed on ${path}: use ${method}.`, {
        headers: { allow: method },
      });
    }
    if (path === '/health') return jsonResponse(200, { status: 'ok' });
    if (options.apiKey !== undefined) checkApiKey(request, options.apiKey);
    if (path === '/v1/models')
      return jsonResponse(200, { object: 'list', data: list.map((name) => modelObject(name, created)) });
    if (modelPath !== undefined) return jsonResponse(200, modelObject(lookup(modelPath).name, created));

    const body = await readJsonBody(request, maxBodyBytes);
    const served = lookup(modelField(body));
    if (path === '/v1/chat/completions') {
      const generation = chatGeneration(body, served.model.config);
      return runGeneration(
        served,
        generation,
        chatFormat(served.name, generation.includeUsage),
        request.signal,
        (error) => onError(error, request),
      );
    }
    const generation = completionGeneration(body, served.model.config);
    return runGeneration(
      served,
      generation,
      completionFormat(served.name, generation.includeUsage),
      request.signal,
      (error) => onError(error, request),
    );
  };

  return async (request) => {
    try {
      return await route(request);
    } catch (error) {
      // The client has gone (its generation was aborted, or it left the queue); nobody reads this.
      if (request.signal.aborted) return errorResponse(new HttpError(499, 'The client closed the request.'));
      if (error instanceof HttpError) {
        if (error.status >= 500) onError(error, request);
        return errorResponse(error);
      }
      onError(error, request);
      const message = error instanceof Error ? error.message : String(error);
      return errorResponse(new HttpError(500, `The server failed: ${message}`));
    }
  };
}

/** The models by name, and how a request's `model` finds one. */
function servedModels(
  models: OpenAIHandlerOptions['models'],
  maxQueue: number,
): { lookup: (name: string) => ServedModel; list: string[] } {
  if (isModel(models)) {
    const queue = new RequestQueue(maxQueue);
    return { lookup: (name) => ({ name, model: models, queue }), list: ['default'] };
  }
  if (!isObject(models) || Object.keys(models).length === 0) {
    throw new SlmkitError(
      'INVALID_OPTION',
      'models must be a LanguageModel or an object of LanguageModels by name, with at least one model.',
    );
  }
  const byName = new Map<string, ServedModel>();
  for (const [name, model] of Object.entries(models)) {
    if (!isModel(model)) {
      throw new SlmkitError(
        'INVALID_OPTION',
        `models.${name} must be a LanguageModel (e.g. from createModel).`,
      );
    }
    byName.set(name, { name, model, queue: new RequestQueue(maxQueue) });
  }
  return {
    lookup: (name) => {
      const served = byName.get(name);
      if (served) return served;
      throw new HttpError(
        404,
        `The model \`${name}\` does not exist. This server has: ${[...byName.keys()].join(', ')}.`,
        { param: 'model', code: 'model_not_found' },
      );
    },
    list: [...byName.keys()],
  };
}

function isModel(value: unknown): value is LanguageModel {
  return (
    isObject(value) &&
    typeof (value as { generate?: unknown }).generate === 'function' &&
    typeof (value as { stream?: unknown }).stream === 'function' &&
    isObject((value as { config?: unknown }).config)
  );
}

/** The model name of a /v1/models/{name} path (as written when it is not valid percent-encoding). */
function modelName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function modelObject(id: string, created: number) {
  return { id, object: 'model', created, owned_by: 'slmkit' };
}

function checkCount(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SlmkitError('INVALID_OPTION', `${name} must be an integer >= ${min}; got ${String(value)}.`);
  }
  return value;
}

/** 401 unless the request carries `Authorization: Bearer <key>`. */
function checkApiKey(request: Request, key: string): void {
  const header = request.headers.get('authorization');
  const given = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  if (given === undefined) {
    throw new HttpError(401, 'Missing API key: send it as `Authorization: Bearer <key>`.', {
      code: 'invalid_api_key',
    });
  }
  if (!sameText(given, key)) {
    throw new HttpError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
  }
}

/** String equality in time that does not depend on where the strings differ. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The request's body as a JSON object: 400 unless it is one, 413 past `maxBytes`. */
async function readJsonBody(request: Request, maxBytes: number): Promise<JsonObject> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type.trim())) {
    throw new HttpError(
      400,
      `The request body must be JSON with Content-Type: application/json; got ${type ? `'${type}'` : 'no Content-Type'}.`,
      { code: 'invalid_content_type' },
    );
  }
  const tooLarge = () =>
    new HttpError(413, `The request body is larger than this server's limit of ${maxBytes} bytes.`, {
      code: 'request_too_large',
    });
  const length = Number(request.headers.get('content-length') ?? Number.NaN);
  if (length > maxBytes) throw tooLarge();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      parts.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new HttpError(
      400,
      `We could not parse the JSON body of your request (${why}). Send a JSON object.`,
      {
        code: 'invalid_json',
      },
    );
  }
  if (!isObject(body)) throw invalidValue('body', 'the request body must be a JSON object.');
  return body;
}
