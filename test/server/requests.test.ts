// The OpenAI-compatible server's handling of bad requests, disconnects and load, over raw HTTP on
// 127.0.0.1 (and the official client where it has a typed error), with the generated tiny model
// on onnxruntime-node.
import { request as httpRequest } from 'node:http';
import type { GenerationStream, LanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIHandler } from '../../packages/server/src/index.js';
import { type NodeServer, serve } from '../../packages/server/src/node.js';
import { ensureModel } from '../fixtures/models.js';

let model: LanguageModel;
let server: NodeServer;
/** How each generation the server started ended: finishReason, or the error code. */
const ended: { outcome: string; at: number }[] = [];

/**
 * The real model, with each stream's end recorded (`result` is read only once the server has begun
 * iterating, as reading it first would consume the stream).
 */
function recorded(inner: LanguageModel): LanguageModel {
  const stream = ((prompt: never, options: never) => {
    const s = inner.stream(prompt, options) as GenerationStream<unknown>;
    return {
      [Symbol.asyncIterator]() {
        const iterator = s[Symbol.asyncIterator]();
        s.result.then(
          (r) => ended.push({ outcome: (r as { finishReason: string }).finishReason, at: performance.now() }),
          (e) => ended.push({ outcome: e.code, at: performance.now() }),
        );
        return iterator;
      },
      get result() {
        return s.result;
      },
    };
  }) as LanguageModel['stream'];
  return new Proxy(inner, {
    get: (target, key) => (key === 'stream' ? stream : Reflect.get(target, key, target)),
  });
}

beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
  server = await serve(createOpenAIHandler({ models: { tiny: recorded(model) }, maxBodyBytes: 20_000 }), {
    port: 0,
  });
});

afterAll(async () => {
  server?.server.closeAllConnections();
  await server?.close();
  await model?.dispose();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}, url = server.url) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const chat = { model: 'tiny', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 };

/** The error of a response: its status and OpenAI-shaped body. */
async function errorOf(response: Response) {
  const body = await response.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return { status: response.status, ...body.error };
}

/** A long generation (end-of-sequence banned) for the tests that need the model busy. */
const LONG = {
  model: 'tiny',
  messages: [{ role: 'user', content: 'Talk for a long time.' }],
  max_tokens: 1500,
  temperature: 0,
  logit_bias: { '2': -100 },
  stream: true,
};

describe('malformed requests', () => {
  it('refuses a body that is not JSON, not an object, or not sent as application/json', async () => {
    expect(await errorOf(await post('/v1/chat/completions', '{"model": "tiny", '))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_json',
      param: null,
    });
    expect(await errorOf(await post('/v1/chat/completions', '[1, 2]'))).toMatchObject({
      status: 400,
      param: 'body',
      message: "Invalid value for 'body': the request body must be a JSON object.",
    });
    const text = await post('/v1/chat/completions', JSON.stringify(chat), { 'content-type': 'text/plain' });
    expect(await errorOf(text)).toMatchObject({
      status: 400,
      code: 'invalid_content_type',
      message: "The request body must be JSON with Content-Type: application/json; got 'text/plain'.",
    });
    const bytes = new Uint8Array([0x7b, 0xff, 0x7d]);
    const notUtf8 = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bytes,
    });
    expect((await errorOf(notUtf8)).code).toBe('invalid_json');
  });

  // Each field with a wrong value → 400 naming it.
  const CHAT_CASES: [string, Record<string, unknown>, string][] = [
    ['model missing', { model: undefined }, 'model'],
    ['model not a string', { model: 5 }, 'model'],
    ['messages missing', { messages: undefined }, 'messages'],
    ['messages not an array', { messages: 'Hi' }, 'messages'],
    ['messages empty', { messages: [] }, 'messages'],
    ['a message not an object', { messages: ['Hi'] }, 'messages[0]'],
    ['a role not a string', { messages: [{ role: 5, content: 'Hi' }] }, 'messages[0].role'],
    ['an unknown role', { messages: [{ role: 'wizard', content: 'Hi' }] }, 'messages[0].role'],
    ['content a number', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    ['user content missing', { messages: [{ role: 'user' }] }, 'messages[0].content'],
    [
      'an image part',
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
      'messages[0].content[0].type',
    ],
    [
      'a part text not a string',
      { messages: [{ role: 'user', content: [{ type: 'text', text: 1 }] }] },
      'messages[0].content[0].text',
    ],
    [
      'an unknown message field',
      { messages: [{ role: 'user', content: 'Hi', mood: 'x' }] },
      'messages[0].mood',
    ],
    [
      'a tool message without tool_call_id',
      { messages: [{ role: 'tool', content: '1' }] },
      'messages[0].tool_call_id',
    ],
    ['temperature a string', { temperature: 'hot' }, 'temperature'],
    ['temperature above 2', { temperature: 2.5 }, 'temperature'],
    ['top_p 0', { top_p: 0 }, 'top_p'],
    ['top_k below -1', { top_k: -2 }, 'top_k'],
    ['min_p above 1', { min_p: 1.5 }, 'min_p'],
    ['repetition_penalty 0', { repetition_penalty: 0 }, 'repetition_penalty'],
    ['max_tokens not an integer', { max_tokens: 1.5 }, 'max_tokens'],
    ['max_tokens 0', { max_tokens: 0 }, 'max_tokens'],
    ['max_completion_tokens negative', { max_completion_tokens: -1 }, 'max_completion_tokens'],
    ['seed a string', { seed: '7' }, 'seed'],
    ['stop a number', { stop: 3 }, 'stop'],
    ['a stop not a string', { stop: ['a', 1] }, 'stop[1]'],
    ['presence_penalty above 2', { presence_penalty: 3 }, 'presence_penalty'],
    ['frequency_penalty a string', { frequency_penalty: 'x' }, 'frequency_penalty'],
    ['logit_bias a list', { logit_bias: [1] }, 'logit_bias'],
    ['logit_bias key not a token id', { logit_bias: { abc: 1 } }, 'logit_bias'],
    ['logit_bias key past the vocabulary', { logit_bias: { '32000': 1 } }, 'logit_bias'],
    ['logit_bias value above 100', { logit_bias: { '5': 101 } }, 'logit_bias.5'],
    ['n 2', { n: 2 }, 'n'],
    ['stream a string', { stream: 'yes' }, 'stream'],
    ['stream_options without stream', { stream_options: { include_usage: true } }, 'stream_options'],
    [
      'include_usage a string',
      { stream: true, stream_options: { include_usage: 'y' } },
      'stream_options.include_usage',
    ],
    ['response_format type unknown', { response_format: { type: 'xml' } }, 'response_format.type'],
    [
      'response_format json_schema missing',
      { response_format: { type: 'json_schema' } },
      'response_format.json_schema',
    ],
    [
      'response_format schema not an object',
      { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: 'object' } } },
      'response_format.json_schema.schema',
    ],
    ['logprobs not a boolean', { logprobs: 'yes' }, 'logprobs'],
    ['top_logprobs without logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['top_logprobs over 20', { logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    ['audio output', { modalities: ['text', 'audio'] }, 'modalities'],
    // The tiny model's template (TinyLlama's) has no tool-call format: slmkit refuses tools.
    [
      'tools on a template without a tool-call format',
      { tools: [{ type: 'function', function: { name: 'f' } }] },
      'tools',
    ],
    ['tool_choice without tools', { tool_choice: 'required' }, 'tool_choice'],
    ['an unrecognized field', { best_guess: true }, 'best_guess'],
    ['chat_template_kwargs a list', { chat_template_kwargs: [] }, 'chat_template_kwargs'],
  ];
  it.each(CHAT_CASES.map(([name, change, param]) => [name, param, change] as const))(
    'chat: %s → 400 naming %s',
    async (_, param, change) => {
      const error = await errorOf(await post('/v1/chat/completions', { ...chat, ...change }));
      expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
      expect(error.message).toContain(`${param}`);
    },
  );

  const COMPLETION_CASES: [string, Record<string, unknown>, string][] = [
    ['prompt missing', { prompt: undefined }, 'prompt'],
    ['prompt a number', { prompt: 5 }, 'prompt'],
    ['a token id past the vocabulary', { prompt: [1, 32000] }, 'prompt[1]'],
    ['several prompts', { prompt: ['a', 'b'] }, 'prompt'],
    ['echo', { echo: true }, 'echo'],
    ['suffix', { suffix: 'end' }, 'suffix'],
    ['best_of 3', { best_of: 3 }, 'best_of'],
    ['logprobs', { logprobs: 2 }, 'logprobs'],
    ['messages (a chat field)', { messages: [] }, 'messages'],
  ];
  it.each(COMPLETION_CASES.map(([name, change, param]) => [name, param, change] as const))(
    'completions: %s → 400 naming %s',
    async (_, param, change) => {
      const body = { model: 'tiny', prompt: 'Hi', max_tokens: 2, ...change };
      const error = await errorOf(await post('/v1/completions', body));
      expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
      expect(error.message).toContain(param);
    },
  );

  it('words the errors as OpenAI does', async () => {
    const type = await errorOf(await post('/v1/chat/completions', { ...chat, temperature: 'hot' }));
    expect(type).toEqual({
      status: 400,
      message: "Invalid type for 'temperature': expected a number, but got a string instead.",
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'invalid_type',
    });
    const value = await errorOf(await post('/v1/chat/completions', { ...chat, temperature: 2.5 }));
    expect(value.message).toBe(
      "Invalid value for 'temperature': expected a value <= 2, but got 2.5 instead.",
    );
    const missing = await errorOf(await post('/v1/chat/completions', { model: 'tiny' }));
    expect(missing).toMatchObject({
      message: "Missing required parameter: 'messages'.",
      code: 'missing_required_parameter',
    });
    const unknown = await errorOf(await post('/v1/chat/completions', { ...chat, best_guess: true }));
    expect(unknown.message).toBe('Unrecognized request argument supplied: best_guess');
    const part = await errorOf(
      await post('/v1/chat/completions', {
        ...chat,
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }],
      }),
    );
    expect(part.message).toBe(
      "'messages[0].content[0].type' is not supported by this server: slmkit models take text only, got a 'input_audio' part.",
    );
  });

  it("answers a model's own refusals with 400 and slmkit's message, and the model stays usable", async () => {
    const schema = await errorOf(
      await post('/v1/chat/completions', {
        ...chat,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'n', schema: { type: 'number', maximum: 3 } },
        },
      }),
    );
    expect(schema).toMatchObject({ status: 400, param: 'response_format', code: 'invalid_value' });
    expect(schema.message).toMatch(
      /^responseFormat\.schema at \/maximum: maximum is supported only on integers/,
    );

    const long = await errorOf(
      await post('/v1/completions', { model: 'tiny', prompt: 'word '.repeat(3000), max_tokens: 2 }),
    );
    expect(long).toMatchObject({ status: 400, param: 'prompt', code: 'context_length_exceeded' });
    expect(long.message).toMatch(/^The prompt has \d+ tokens but the model's context window is 2048/);

    const ok = await post('/v1/chat/completions', chat);
    expect(ok.status).toBe(200);
    expect((await ok.json()).usage.completion_tokens).toBe(2);
  });

  it('answers an unknown route with 404 and a wrong method with 405', async () => {
    const route = await errorOf(await post('/v1/embeddings', { model: 'tiny', input: 'x' }));
    expect(route).toMatchObject({ status: 404, type: 'invalid_request_error' });
    expect(route.message).toMatch(/^Invalid URL \(POST \/v1\/embeddings\)/);
    const method = await fetch(`${server.url}/v1/chat/completions`);
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');
    expect((await errorOf(method)).message).toBe(
      'Method GET is not allowed on /v1/chat/completions: use POST.',
    );
    expect((await fetch(`${server.url}/v1/models`, { method: 'DELETE' })).status).toBe(405);
  });

  it('answers a body over maxBodyBytes with 413, by its Content-Length or as it streams in', async () => {
    const big = { ...chat, messages: [{ role: 'user', content: 'x'.repeat(25_000) }] };
    expect(await errorOf(await post('/v1/chat/completions', big))).toMatchObject({
      status: 413,
      code: 'request_too_large',
      message: "The request body is larger than this server's limit of 20000 bytes.",
    });
    // Chunked, without a Content-Length: refused once 20,000 bytes have arrived.
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      const chunk = JSON.stringify(big).slice(0, 1000);
      for (let i = 0; i < 25; i++) req.write(chunk);
      req.end();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe('request_too_large');
    // The server still answers.
    expect((await post('/v1/chat/completions', chat)).status).toBe(200);
  });
});

// A generation that does not stop would hold the model: these fail in seconds, not at the default timeout.
describe('disconnects and load', { timeout: 15_000 }, () => {
  it('stops the generation when the client aborts mid-stream; the model is free at once', async () => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await openai.chat.completions.create(LONG as OpenAI.ChatCompletionCreateParamsStreaming);
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 5) break;
    // Breaking out of the loop aborts the request.
    const abortedAt = performance.now();
    const before = ended.length;
    const next = await post('/v1/chat/completions', chat);
    const answeredAt = performance.now();
    expect(next.status).toBe(200);
    const outcomes = ended.slice(before);
    // Stopped by the request's signal (ABORTED) or by the response body's cancel (cancelled),
    // whichever the generation saw first.
    expect(['ABORTED', 'cancelled']).toContain(outcomes[0]?.outcome);
    // 1,500 tokens take ~3 s on the tiny model; the aborted one stopped within a few steps.
    expect(outcomes[0].at - abortedAt).toBeLessThan(500);
    expect(answeredAt - abortedAt).toBeLessThan(1000);
  });

  it('queues past the running request up to maxQueue and answers 429 past that', async () => {
    const busy = await serve(createOpenAIHandler({ models: { tiny: model }, maxQueue: 1 }), { port: 0 });
    try {
      const first = await post('/v1/chat/completions', LONG, {}, busy.url);
      expect(first.status).toBe(200);
      const reader = first.body!.getReader();
      await reader.read();
      const second = post('/v1/chat/completions', chat, {}, busy.url);
      await new Promise((r) => setTimeout(r, 150));
      const openai = new OpenAI({ baseURL: `${busy.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const third = await openai.chat.completions
        .create({ model: 'tiny', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 })
        .catch((e) => e);
      expect(third).toBeInstanceOf(OpenAI.RateLimitError);
      expect(third.error).toEqual({
        message:
          'The server is busy: 1 requests are already waiting for this model (maxQueue 1). Retry later.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      });
      expect(third.headers.get('retry-after')).toBe('1');
      await reader.cancel();
      expect((await second).status).toBe(200);
    } finally {
      busy.server.closeAllConnections();
      await busy.close();
    }
  });

  it('frees the place of a queued client that disconnects', async () => {
    const busy = await serve(createOpenAIHandler({ models: { tiny: model }, maxQueue: 1 }), { port: 0 });
    try {
      const first = await post('/v1/chat/completions', LONG, {}, busy.url);
      const reader = first.body!.getReader();
      await reader.read();
      const leaving = new AbortController();
      const queued = fetch(`${busy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat),
        signal: leaving.signal,
      }).catch((e) => e);
      await new Promise((r) => setTimeout(r, 150));
      leaving.abort();
      expect((await queued).name).toBe('AbortError');
      await new Promise((r) => setTimeout(r, 100));
      // Its place is free again: this one waits instead of getting a 429.
      const next = post('/v1/chat/completions', chat, {}, busy.url);
      await new Promise((r) => setTimeout(r, 150));
      await reader.cancel();
      expect((await next).status).toBe(200);
    } finally {
      busy.server.closeAllConnections();
      await busy.close();
    }
  });
});

describe('createOpenAIHandler as a plain Request → Response function', () => {
  it('serves a single model under any name, listed as default', async () => {
    const handler = createOpenAIHandler({ models: model });
    const list = await handler(new Request('http://localhost/v1/models'));
    expect((await list.json()).data.map((m: { id: string }) => m.id)).toEqual(['default']);
    const response = await handler(
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...chat, model: 'anything' }),
      }),
    );
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.model).toBe('anything');
    expect(body.choices[0].message.content).toBe(
      (await model.generate(chat.messages, { maxNewTokens: 2 })).text,
    );
  });

  it('throws INVALID_OPTION for options it cannot use', () => {
    const invalid = (options: Parameters<typeof createOpenAIHandler>[0]) => {
      try {
        createOpenAIHandler(options);
      } catch (error) {
        return `${(error as { code: string }).code}: ${(error as Error).message}`;
      }
      return 'no error';
    };
    expect(invalid({ models: {} })).toBe(
      'INVALID_OPTION: models must be a LanguageModel or an object of LanguageModels by name, with at least one model.',
    );
    expect(invalid({ models: { a: {} as LanguageModel } })).toBe(
      'INVALID_OPTION: models.a must be a LanguageModel (e.g. from createModel).',
    );
    expect(invalid({ models: model, maxQueue: -1 })).toBe(
      'INVALID_OPTION: maxQueue must be an integer >= 0; got -1.',
    );
    expect(invalid({ models: model, maxBodyBytes: 0 })).toBe(
      'INVALID_OPTION: maxBodyBytes must be an integer >= 1; got 0.',
    );
    expect(invalid({ models: model, apiKey: '' })).toBe(
      'INVALID_OPTION: apiKey must be a non-empty string, or left out for no key.',
    );
  });
});
