// The OpenAI-compatible server (packages/server) on 127.0.0.1, over the generated tiny model on
// onnxruntime-node, driven by the official `openai` npm client: what it answers must be what
// model.generate gives for the same options, in OpenAI's shapes.
import type { ChatMessage, LanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import Ajv from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIHandler } from '../../packages/server/src/index.js';
import { type NodeServer, serve } from '../../packages/server/src/node.js';
import { ensureModel } from '../fixtures/models.js';

const API_KEY = 'sk-test-key';
let model: LanguageModel;
let server: NodeServer;
let openai: OpenAI;

beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
  server = await serve(createOpenAIHandler({ models: { tiny: model }, apiKey: API_KEY }), { port: 0 });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
});

afterAll(async () => {
  server?.server.closeAllConnections();
  await server?.close();
  await model?.dispose();
});

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name a colour.' },
];

describe('POST /v1/chat/completions', () => {
  it('answers with the text model.generate gives greedily, with usage and the mapped finish reason', async () => {
    const expected = await model.generate(messages, { maxNewTokens: 12, temperature: 0 });
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Name a colour.' },
      ],
      max_tokens: 12,
      temperature: 0,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.model).toBe('tiny');
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(choice.message).toEqual({ role: 'assistant', content: expected.text, refusal: null });
    expect(expected.finishReason).toBe('length');
    expect(choice.finish_reason).toBe('length');
    expect(completion.usage?.prompt_tokens).toBe(expected.usage.promptTokens);
    expect(completion.usage?.completion_tokens).toBe(12);
    expect(completion.usage?.total_tokens).toBe(expected.usage.promptTokens + 12);
  });

  it("gives slmkit's logprobs in OpenAI's shape, streamed and not", async () => {
    const expected = await model.generate(messages, {
      maxNewTokens: 10,
      temperature: 0,
      logprobs: true,
      topLogprobs: 3,
    });
    const bytes = (token: string) => [...new TextEncoder().encode(token)];
    type Entry = { token: string; logprob: number; bytes: number[] | null; top_logprobs?: Entry[] };
    // Logprobs within 1e-4: a later call reuses the prompt's cached keys, which rounds differently.
    const expectSame = (content: Entry[]) => {
      expect(content).toHaveLength(expected.logprobs!.length);
      content.forEach((entry, i) => {
        const want = expected.logprobs![i];
        expect(entry).toMatchObject({ token: want.token, bytes: bytes(want.token) });
        expect(entry.logprob).toBeCloseTo(want.logprob, 4);
        expect(entry.top_logprobs!.map((t) => t.token)).toEqual(want.topLogprobs.map((t) => t.token));
        entry.top_logprobs!.forEach((t, k) => {
          expect(t.bytes).toEqual(bytes(t.token));
          expect(t.logprob).toBeCloseTo(want.topLogprobs[k].logprob, 4);
        });
      });
    };
    const request = {
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 10,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    };
    const completion = await openai.chat.completions.create(request);
    expect(completion.choices[0].logprobs?.refusal).toBeNull();
    expectSame(completion.choices[0].logprobs!.content as Entry[]);
    const stream = await openai.chat.completions.create({ ...request, stream: true });
    const streamed: Entry[] = [];
    for await (const chunk of stream)
      streamed.push(...((chunk.choices[0]?.logprobs?.content ?? []) as Entry[]));
    expectSame(streamed);
  });

  it('reports the prompt tokens the prefix cache reused as cached_tokens', async () => {
    const ask = () =>
      openai.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'A question asked twice, word for word.' }],
        max_completion_tokens: 2,
        temperature: 0,
      });
    await ask();
    const again = await ask();
    const usage = again.usage!;
    // The whole prompt is cached but its last token, which is run again for the next token's logits.
    expect(usage.prompt_tokens_details?.cached_tokens).toBe(usage.prompt_tokens - 1);
    expect(usage.prompt_tokens).toBeGreaterThan(5);
  });

  it('ends with finish_reason stop on the end-of-sequence token', async () => {
    // Bias the EOS token (id 2) up so that it is chosen first.
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hi' }],
      logit_bias: { '2': 100 },
      temperature: 0,
    });
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.choices[0].message.content).toBe('');
    expect(completion.usage?.completion_tokens).toBe(1);
  });

  it('streams the same text, a role chunk first and a finish chunk last, as SSE with [DONE]', async () => {
    const expected = await model.generate(messages, { maxNewTokens: 16, temperature: 0 });
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      // Text parts are the same prompt as the joined string.
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Name a colour.' }] },
      ],
      max_tokens: 16,
      temperature: 0,
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const last = chunks.at(-1)!;
    expect(last.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'length' });
    const middle = chunks.slice(1, -1);
    expect(middle.length).toBeGreaterThan(1);
    for (const chunk of middle) expect(chunk.choices[0].finish_reason).toBeNull();
    expect(middle.map((c) => c.choices[0].delta.content).join('')).toBe(expected.text);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect('usage' in chunk).toBe(false);
    }
  });

  it('adds the usage chunk with stream_options.include_usage (usage null on every other chunk)', async () => {
    const expected = await model.generate(messages, { maxNewTokens: 6, temperature: 0 });
    const stream = await openai.chat.completions.create({
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 6,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual({
      prompt_tokens: expected.usage.promptTokens,
      completion_tokens: 6,
      total_tokens: expected.usage.promptTokens + 6,
      prompt_tokens_details: { cached_tokens: expect.any(Number) },
    });
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
  });

  it('sends every event as `data: <json>\\n\\n` and ends with `data: [DONE]`', async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ model: 'tiny', messages, max_tokens: 3, temperature: 0, stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await response.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = text.split('\n\n').slice(0, -1);
    expect(events.at(-1)).toBe('data: [DONE]');
    for (const data of events.slice(0, -1)) {
      expect(data.startsWith('data: {')).toBe(true);
      expect(JSON.parse(data.slice('data: '.length)).object).toBe('chat.completion.chunk');
    }
  });

  it('holds the output to response_format json_schema: it parses, validates, and equals model.generate', async () => {
    const schema = {
      type: 'object',
      properties: {
        colour: { enum: ['red', 'green', 'blue'] },
        rank: { type: 'integer', minimum: 1, maximum: 9 },
      },
      required: ['colour', 'rank'],
      additionalProperties: false,
    };
    const expected = await model.generate(messages, {
      maxNewTokens: 40,
      temperature: 0,
      responseFormat: { type: 'json_schema', schema, name: 'colour' },
    });
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 40,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'colour', schema, strict: true } },
    });
    const content = completion.choices[0].message.content!;
    expect(content).toBe(expected.text);
    expect(completion.choices[0].finish_reason).toBe('stop');
    const value = JSON.parse(content);
    const validate = new Ajv().compile(schema);
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
  });

  it("takes response_format json_object as slmkit's any-JSON format", async () => {
    // Three tokens: any-JSON masks cost much more per token than a schema's on a 32k vocabulary.
    const expected = await model.generate(messages, {
      maxNewTokens: 3,
      temperature: 0,
      responseFormat: { type: 'json' },
    });
    const free = await model.generate(messages, { maxNewTokens: 3, temperature: 0 });
    expect(expected.text).not.toBe(free.text);
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 3,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    expect(completion.choices[0].message.content).toBe(expected.text);
  });

  it('samples with a seed as model.generate does (temperature, top_p, top_k off by default)', async () => {
    const options = { maxNewTokens: 10, temperature: 0.9, topP: 0.95, topK: 0, seed: 11 };
    const expected = await model.generate(messages, options);
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 10,
      temperature: 0.9,
      top_p: 0.95,
      seed: 11,
    });
    expect(completion.choices[0].message.content).toBe(expected.text);
    const greedy = await model.generate(messages, { maxNewTokens: 10, temperature: 0 });
    expect(expected.text).not.toBe(greedy.text);
  });

  it('applies stop strings, presence and frequency penalties as slmkit does', async () => {
    const free = await model.generate(messages, { maxNewTokens: 12, temperature: 0 });
    const stop = free.text.slice(4, 7);
    const expected = await model.generate(messages, {
      maxNewTokens: 12,
      temperature: 0,
      stop: [stop],
      presencePenalty: 1.5,
      frequencyPenalty: 0.5,
    });
    const completion = await openai.chat.completions.create({
      model: 'tiny',
      messages: messages as OpenAI.ChatCompletionMessageParam[],
      max_tokens: 12,
      temperature: 0,
      stop: [stop],
      presence_penalty: 1.5,
      frequency_penalty: 0.5,
    });
    expect(completion.choices[0].message.content).toBe(expected.text);
    expect(completion.choices[0].finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
  });
});

describe('POST /v1/completions', () => {
  it('continues the prompt as model.generate does, streamed and not; max_tokens defaults to 16', async () => {
    const expected = await model.generate('Once upon a time', { maxNewTokens: 8, temperature: 0 });
    const completion = await openai.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.choices).toEqual([
      { index: 0, text: expected.text, logprobs: null, finish_reason: 'length' },
    ]);
    expect(completion.usage?.prompt_tokens).toBe(expected.usage.promptTokens);

    const stream = await openai.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      usage = chunk.usage;
    }
    expect(text).toBe(expected.text);
    expect(usage?.completion_tokens).toBe(8);

    const byDefault = await openai.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      temperature: 0,
      logit_bias: { '2': -100 },
    });
    expect(byDefault.usage?.completion_tokens).toBe(16);
  });

  it('takes token ids as the prompt, fed as they are', async () => {
    const ids = await model.encode('Hello world');
    const expected = await model.generate({ inputIds: ids }, { maxNewTokens: 5, temperature: 0 });
    const completion = await openai.completions.create({
      model: 'tiny',
      prompt: ids,
      max_tokens: 5,
      temperature: 0,
    });
    expect(completion.choices[0].text).toBe(expected.text);
    expect(completion.usage?.prompt_tokens).toBe(ids.length);
  });
});

describe('GET /v1/models, /health and the API key', () => {
  it('lists and retrieves the served models; an unknown one is 404 model_not_found', async () => {
    const page = await openai.models.list();
    expect(page.data.map((m) => [m.id, m.object, m.owned_by])).toEqual([['tiny', 'model', 'slmkit']]);
    expect((await openai.models.retrieve('tiny')).id).toBe('tiny');
    const missing = await openai.models.retrieve('gpt-4o').catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.code).toBe('model_not_found');
    const chat = await openai.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e) => e);
    expect(chat).toBeInstanceOf(OpenAI.NotFoundError);
    expect(chat.error).toEqual({
      message: 'The model `gpt-4o` does not exist. This server has: tiny.',
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
  });

  it('answers /health without a key', async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('refuses a wrong or missing API key with 401 invalid_api_key', async () => {
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    const error = await wrong.models.list().catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.error).toEqual({
      message: 'Incorrect API key provided.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    });
    const none = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages }),
    });
    expect(none.status).toBe(401);
    expect((await none.json()).error.message).toBe(
      'Missing API key: send it as `Authorization: Bearer <key>`.',
    );
  });
});
