// Tool calling through the OpenAI-compatible server: the random-weight tiny model with Qwen3's real
// tokenizer and template (hermes `<tool_call>`), on onnxruntime-node, driven by the official openai
// client. 'required' and named choices are the constraint's doing, so even random weights call a
// tool with valid arguments; each answer must be what model.generate gives with the same options.
import type { ChatMessage, LanguageModel, ToolDefinition } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import Ajv from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIHandler } from '../../packages/server/src/index.js';
import { type NodeServer, serve } from '../../packages/server/src/node.js';
import { ensureModel } from '../fixtures/models.js';

const TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather forecast for a city',
      parameters: {
        type: 'object',
        properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'The time in a city',
      parameters: {
        type: 'object',
        properties: { city: { enum: ['Paris', 'Oslo'] } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
];
const ajv = new Ajv();
const SCHEMAS = new Map(TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters!)]));
const ASK: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris for two days?' }];

let qwen: LanguageModel;
let tiny: LanguageModel;
let server: NodeServer;
let openai: OpenAI;

beforeAll(async () => {
  qwen = await createModel(await ensureModel({ tokenizer: 'qwen3' }));
  tiny = await createModel(await ensureModel('tiny'));
  server = await serve(createOpenAIHandler({ models: { qwen, tiny } }), { port: 0 });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  server?.server.closeAllConnections();
  await server?.close();
  await Promise.all([qwen?.dispose(), tiny?.dispose()]);
});

describe('tools on /v1/chat/completions', { timeout: 30_000 }, () => {
  it("tool_choice 'required': the call as model.generate makes it, in OpenAI's shape, finish_reason tool_calls", async () => {
    const expected = await qwen.generate(ASK, {
      tools: TOOLS,
      toolChoice: 'required',
      temperature: 0,
      maxNewTokens: 60,
    });
    expect(expected.finishReason).toBe('tool-calls');
    const completion = await openai.chat.completions.create({
      model: 'qwen',
      messages: ASK as OpenAI.ChatCompletionMessageParam[],
      tools: TOOLS as OpenAI.ChatCompletionTool[],
      tool_choice: 'required',
      temperature: 0,
      max_tokens: 60,
    });
    const [choice] = completion.choices;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls!;
    expect(calls).toHaveLength(1);
    const call = calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.id).toMatch(/^call_[A-Za-z0-9]+$/);
    expect(call.type).toBe('function');
    const [made] = expected.toolCalls!;
    expect(call.function.name).toBe(made.name);
    expect(JSON.parse(call.function.arguments)).toEqual(made.arguments);
    expect(SCHEMAS.get(call.function.name)!(JSON.parse(call.function.arguments))).toBe(true);
    expect(completion.usage?.prompt_tokens).toBe(expected.usage.promptTokens);
  });

  it('a named tool_choice streams the call as delta.tool_calls when it completes', async () => {
    const expected = await qwen.generate(ASK, {
      tools: TOOLS,
      toolChoice: { name: 'get_time' },
      temperature: 0,
      maxNewTokens: 100,
    });
    const stream = await openai.chat.completions.create({
      model: 'qwen',
      messages: ASK as OpenAI.ChatCompletionMessageParam[],
      tools: TOOLS as OpenAI.ChatCompletionTool[],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      temperature: 0,
      max_tokens: 100,
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const withCalls = chunks.filter((c) => c.choices[0]?.delta.tool_calls);
    expect(withCalls).toHaveLength(1);
    const [delta] = withCalls[0].choices[0].delta.tool_calls!;
    expect(delta).toEqual({
      index: 0,
      id: expect.stringMatching(/^call_/),
      type: 'function',
      function: { name: 'get_time', arguments: JSON.stringify(expected.toolCalls![0].arguments) },
    });
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(expected.text);
  });

  it("takes the assistant's tool_calls and the tool results back, rendered as the template wants them", async () => {
    const args = { city: 'Paris', days: 2 };
    // What the template gets: the arguments as an object (templates print it with tojson).
    const rendered: ChatMessage[] = [
      ...ASK,
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"forecast": "sunny"}' },
    ];
    const expected = await qwen.generate(rendered, { tools: TOOLS, temperature: 0, maxNewTokens: 6 });
    const completion = await openai.chat.completions.create({
      model: 'qwen',
      messages: [
        ...(ASK as OpenAI.ChatCompletionMessageParam[]),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: JSON.stringify(args) },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"forecast": "sunny"}' },
      ],
      tools: TOOLS as OpenAI.ChatCompletionTool[],
      temperature: 0,
      max_tokens: 6,
    });
    expect(completion.usage?.prompt_tokens).toBe(expected.usage.promptTokens);
    expect(completion.choices[0].message.content).toBe(expected.text);
    // The arguments as the JSON string sent would render otherwise: the object was given.
    const asString = await qwen.countTokens(
      [
        ...ASK,
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"forecast": "sunny"}' },
      ],
      { tools: TOOLS },
    );
    expect(asString).not.toBe(expected.usage.promptTokens);
  });

  const post = (body: unknown) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const CASES: [string, string, Record<string, unknown>][] = [
    ['tools not an array', 'tools', { tools: {} }],
    ['a tool of another type', 'tools[0].type', { tools: [{ type: 'custom', custom: {} }] }],
    ['a tool without a name', 'tools[0].function.name', { tools: [{ type: 'function', function: {} }] }],
    ['a duplicate tool name (slmkit refuses it)', 'tools', { tools: [TOOLS[0], TOOLS[0]] }],
    ['tool_choice required without tools', 'tool_choice', { tool_choice: 'required' }],
    ['tool_choice an unknown string', 'tool_choice', { tools: TOOLS, tool_choice: 'always' }],
    [
      'tool_choice naming no tool (slmkit refuses it)',
      'tool_choice',
      { tools: TOOLS, tool_choice: { type: 'function', function: { name: 'fly' } } },
    ],
    [
      'tools with response_format (slmkit refuses it)',
      'tools',
      { tools: TOOLS, response_format: { type: 'json_object' } },
    ],
    [
      'a tool message without tool_call_id',
      'messages[1].tool_call_id',
      { messages: [...ASK, { role: 'tool', content: 'x' }] },
    ],
    [
      'tool_calls arguments that are not JSON',
      'messages[1].tool_calls[0].function.arguments',
      {
        messages: [
          ...ASK,
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_time', arguments: '{city' } }],
          },
        ],
      },
    ],
    [
      'tool_call_id on a user message',
      'messages[0].tool_call_id',
      { messages: [{ ...ASK[0], tool_call_id: 'c' }] },
    ],
  ];
  it.each(CASES)('%s → 400 naming %s', async (_, param, change) => {
    const response = await post({ model: 'qwen', messages: ASK, max_tokens: 2, ...change });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('refuses tools on a model whose template has no tool-call format, naming tools', async () => {
    const response = await post({ model: 'tiny', messages: ASK, tools: TOOLS });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error.param).toBe('tools');
    expect(error.message).toMatch(/has no tool-call format/);
  });
});
