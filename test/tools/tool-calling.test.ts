// Tool calling end to end on the random-weight tiny model with real tool-capable tokenizers and
// templates (Qwen3: hermes `<tool_call>`; Mistral Nemo: the `[TOOL_CALLS]` control token), through
// the real loader and ONNX Runtime. 'auto' outputs are scripted with a logits processor that forces
// a recorded output token by token (the model's random weights would never write a call); 'required'
// and `{ name }` are the constraint's doing alone, sampled.
//
// Sample counts are kept small for the default suite; SLMKIT_CONSTRAINT_SCALE=34 runs 102 required calls (3 per scale).

import { env } from 'node:process';
import {
  type GenerateOptions,
  isSlmkitError,
  type LocalLanguageModel,
  type LogitsProcessor,
  type StreamChunk,
  type ToolDefinition,
} from '@slmkit/core';
import { createModel } from '@slmkit/node';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const ajv = new Ajv2020({ strict: false });
addFormats.default(ajv);

const SCALE = Number(env.SLMKIT_CONSTRAINT_SCALE ?? 1);

const TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather forecast for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', maxLength: 12 },
          days: { type: 'integer', minimum: 1, maximum: 7 },
          unit: { enum: ['celsius', 'fahrenheit'] },
        },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'add_event',
      description: 'Adds an event to the calendar',
      parameters: {
        type: 'object',
        properties: {
          title: { type: 'string', maxLength: 10 },
          at: { type: 'string', format: 'date' },
          guests: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 2 },
        },
        required: ['title', 'at', 'guests'],
        additionalProperties: false,
      },
    },
  },
];
const SCHEMAS = new Map(TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters!)]));

const ASK = [{ role: 'user', content: 'What is the weather in Paris for two days?' }];

/** A processor that makes the model write `ids` (then whatever it likes). */
function scripted(ids: readonly number[]): LogitsProcessor {
  return (logits, { generatedTokenIds }) => {
    const next = ids[generatedTokenIds.length];
    if (next === undefined) return;
    logits.fill(Number.NEGATIVE_INFINITY);
    logits[next] = 0;
  };
}

async function collect(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The error a call throws at once (or rejects with). */
async function failure(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('tools on Qwen3 (hermes <tool_call>)', () => {
  let model: LocalLanguageModel;
  let endOfTurn: number;
  beforeAll(async () => {
    model = await createModel(await ensureModel({ tokenizer: 'qwen3' }));
    [endOfTurn] = await model.encode('<|im_end|>', { addSpecialTokens: false });
  });
  afterAll(() => model?.dispose());

  const script = async (text: string) => [
    ...(await model.encode(text, { addSpecialTokens: false })),
    endOfTurn,
  ];

  it('renders the tools with the template, as its tools variable', async () => {
    const withTools = await model.applyChatTemplate(ASK, { tools: TOOLS });
    expect(withTools).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    const { usage } = await model.generate(ASK, { tools: TOOLS, maxNewTokens: 1, temperature: 0 });
    expect(usage.promptTokens).toBe(await model.countTokens(ASK, { tools: TOOLS }));
    expect(usage.promptTokens).toBeGreaterThan(await model.countTokens(ASK));
  });

  it("'auto': a call in the output is parsed, streamed when it completes, and left out of the text", async () => {
    const output =
      'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n</tool_call>';
    const ids = await script(output);
    const stream = model.stream(ASK, { tools: TOOLS, logitsProcessors: [scripted(ids)], maxNewTokens: 60 });
    const chunks = await collect(stream);
    const result = await stream.result;
    expect(result.tokenIds).toEqual(ids);
    expect(result.finishReason).toBe('tool-calls');
    expect(result.text).toBe('Let me check.\n');
    expect(result.toolCalls).toEqual([
      { id: expect.any(String), name: 'get_weather', arguments: { city: 'Paris', days: 2 } },
    ]);
    expect(result.toolCallErrors).toBeUndefined();
    // The chunk of the closing `</tool_call>` token carries the call; the shown text is the free text.
    const [closing] = await model.encode('</tool_call>', { addSpecialTokens: false });
    const carrying = chunks.filter((c) => c.toolCalls);
    expect(carrying.map((c) => c.tokenId)).toEqual([closing]);
    expect(carrying[0].toolCalls).toEqual(result.toolCalls);
    expect(chunks.map((c) => c.text).join('')).toBe(result.text);
  });

  it("'auto': a malformed call is a typed error in the result and its text is kept, not a throw", async () => {
    const output = '<tool_call>\n{"name": "get_weather", "arguments": {"city": \n</tool_call>';
    const result = await model.generate(ASK, {
      tools: TOOLS,
      logitsProcessors: [scripted(await script(output))],
      maxNewTokens: 60,
    });
    expect(result.finishReason).toBe('eos');
    expect(result.toolCalls).toEqual([]);
    expect(result.toolCallErrors).toHaveLength(1);
    expect(result.toolCallErrors![0].text).toContain('"arguments": {"city":');
    expect(result.text).toContain('"arguments": {"city":');
  });

  it("'auto' with no call: the text as without tools, toolCalls empty", async () => {
    const options: GenerateOptions = { maxNewTokens: 12, temperature: 0 };
    const plain = await model.generate('Hello', options);
    const withTools = await model.generate('Hello', { ...options, tools: TOOLS });
    // A random model's text holds no `<tool_call>`: nothing is taken out of it.
    expect(withTools.text).toBe(plain.text);
    expect(withTools.tokenIds).toEqual(plain.tokenIds);
    expect(withTools.toolCalls).toEqual([]);
    expect(plain.toolCalls).toBeUndefined();
  });

  it("'required': every sampled output is one valid call with schema-valid arguments", async () => {
    const count = 3 * SCALE;
    for (let seed = 0; seed < count; seed++) {
      const result = await model.generate(ASK, {
        tools: TOOLS,
        toolChoice: 'required',
        ...(seed === 0 ? { temperature: 0 } : { temperature: 1, topK: 0, seed }),
        maxNewTokens: 120,
      });
      const [call] = result.toolCalls ?? [];
      expect(result.finishReason, result.text).toBe('tool-calls');
      expect(result.toolCalls).toHaveLength(1);
      expect(result.toolCallErrors).toBeUndefined();
      const validate = SCHEMAS.get(call.name)!;
      expect(validate(call.arguments), `${JSON.stringify(call)}: ${ajv.errorsText(validate.errors)}`).toBe(
        true,
      );
    }
  });

  it('{ name }: the call is of that tool', async () => {
    for (let seed = 1; seed <= SCALE; seed++) {
      const result = await model.generate(ASK, {
        tools: TOOLS,
        toolChoice: { name: 'add_event' },
        temperature: 1,
        topK: 0,
        seed,
        maxNewTokens: 120,
      });
      expect(result.finishReason).toBe('tool-calls');
      expect(result.toolCalls!.map((c) => c.name)).toEqual(['add_event']);
      expect(SCHEMAS.get('add_event')!(result.toolCalls![0].arguments)).toBe(true);
    }
  });

  it("'none': the token that opens a call cannot be chosen and nothing is parsed", async () => {
    const [open] = await model.encode('<tool_call>', { addSpecialTokens: false });
    const seen: number[] = [];
    const result = await model.generate(ASK, {
      tools: TOOLS,
      toolChoice: 'none',
      maxNewTokens: 3,
      temperature: 0,
      logitsProcessors: [(logits) => void seen.push(logits[open])],
    });
    expect(seen).toEqual([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(result.toolCalls).toEqual([]);
  });

  it('refuses bad tool options with INVALID_OPTION naming the field, and stays usable', async () => {
    const cases: [GenerateOptions, RegExp][] = [
      [{ toolChoice: 'auto' }, /toolChoice needs tools/],
      [{ tools: {} as never }, /tools must be an array/],
      [{ tools: [{ type: 'function', function: { name: 'a b' } }] }, /tools\[0\]\.function\.name must be/],
      [{ tools: [TOOLS[0], TOOLS[0]] }, /tools\[1\] is named "get_weather" like an earlier tool/],
      [
        { tools: TOOLS, toolChoice: { name: 'nope' } },
        /toolChoice names "nope", which is not one of the tools/,
      ],
      [{ tools: TOOLS, toolChoice: 'sometimes' as never }, /toolChoice must be 'auto', 'none', 'required'/],
      [
        { tools: TOOLS, responseFormat: { type: 'json' } },
        /tools and responseFormat cannot be used together/,
      ],
      [
        {
          tools: [
            {
              type: 'function',
              function: { name: 'f', parameters: { type: 'object', patternProperties: {} } },
            },
          ],
          toolChoice: 'required',
        },
        /tools\[0\]\.function\.parameters \(f\): .*patternProperties/,
      ],
    ];
    for (const [options, message] of cases) {
      const error = await failure(() => model.generate(ASK, options));
      expect(isSlmkitError(error, 'INVALID_OPTION'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    const again = await model.generate(ASK, { maxNewTokens: 2, temperature: 0 });
    expect(again.tokenIds).toHaveLength(2);
  });

  it('a chat keeps tool turns: the call joins the history, tool results go back as role "tool"', async () => {
    const chat = model.createChat({ defaults: { tools: TOOLS, maxNewTokens: 120 } });
    const first = await chat.send('Weather in Paris?', {
      toolChoice: { name: 'get_weather' },
      temperature: 0,
    });
    const [call] = first.toolCalls!;
    expect(chat.messages.at(-1)).toEqual({
      role: 'assistant',
      content: first.text,
      tool_calls: [
        { id: call.id, type: 'function', function: { name: 'get_weather', arguments: call.arguments } },
      ],
    });
    const second = await chat.send(
      [{ role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' }],
      {
        maxNewTokens: 4,
        temperature: 0,
      },
    );
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const rendered = await model.applyChatTemplate(chat.messages.slice(0, 3), { tools: TOOLS });
    expect(rendered).toContain('<tool_response>\n{"temperature": 21}\n</tool_response>');
    expect(rendered).toContain(`"name": "get_weather"`);
    // The turn reused the sequence up to where the rendering of the call differs from the output.
    expect(second.usage.cachedPromptTokens).toBeGreaterThan(0);
    // Tool turns survive a snapshot.
    const restored = await model.restoreChat(await chat.save());
    expect(restored.messages).toEqual(chat.messages);
    await restored.dispose();
    await chat.dispose();
  });
});

describe('tools on Mistral Nemo ([TOOL_CALLS] control token)', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await createModel(await ensureModel({ tokenizer: 'mistral_nemo' }));
  });
  afterAll(() => model?.dispose());

  it('a call after the special token is seen (decoded with its marker) and parsed', async () => {
    const [marker] = await model.encode('[TOOL_CALLS]', { addSpecialTokens: false });
    const [eos] = model.config.eosTokenIds;
    const body = await model.encode('[{"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}]', {
      addSpecialTokens: false,
    });
    const ids = [marker, ...body, eos];
    const result = await model.generate(ASK, {
      tools: TOOLS,
      logitsProcessors: [scripted(ids)],
      maxNewTokens: 60,
    });
    expect(result.tokenIds).toEqual(ids);
    expect(result.finishReason).toBe('tool-calls');
    expect(result.toolCalls).toEqual([
      {
        id: expect.stringMatching(/^[A-Za-z0-9]{9}$/),
        name: 'get_weather',
        arguments: { city: 'Oslo', days: 3 },
      },
    ]);
    expect(result.text).toBe('');
  });

  it("'required': sampled outputs are valid calls", async () => {
    for (let seed = 1; seed <= SCALE; seed++) {
      const result = await model.generate(ASK, {
        tools: TOOLS,
        toolChoice: 'required',
        temperature: 1,
        topK: 0,
        seed,
        maxNewTokens: 120,
      });
      expect(result.finishReason, result.text).toBe('tool-calls');
      const [call] = result.toolCalls!;
      expect(SCHEMAS.get(call.name)!(call.arguments), JSON.stringify(call)).toBe(true);
    }
  });
});

describe('tools on Llama 3.2 (a bare JSON reply, or after <|python_tag|>)', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await createModel(await ensureModel({ tokenizer: 'llama3_2' }));
  });
  afterAll(() => model?.dispose());

  it.each([
    ['a bare JSON reply', ''],
    ['after the <|python_tag|> special token', '<|python_tag|>'],
  ])('%s is held back, then parsed as a call at the end', async (_, prefix) => {
    const [eos] = model.config.eosTokenIds;
    const call = '{"name": "get_weather", "parameters": {"city": "Rome", "days": 1}}';
    const ids = [...(await model.encode(prefix + call, { addSpecialTokens: false })), eos];
    const stream = model.stream(ASK, { tools: TOOLS, logitsProcessors: [scripted(ids)], maxNewTokens: 60 });
    const chunks = await collect(stream);
    const result = await stream.result;
    expect(result.tokenIds).toEqual(ids);
    expect(result.finishReason).toBe('tool-calls');
    expect(result.toolCalls).toEqual([
      { id: expect.any(String), name: 'get_weather', arguments: { city: 'Rome', days: 1 } },
    ]);
    // Nothing of the call was shown as text while it streamed.
    expect(chunks.map((c) => c.text).join('')).toBe('');
  });
});

describe('tools on a model whose template has no tool format', () => {
  it('is INVALID_OPTION saying so', async () => {
    const model = await createModel(await ensureModel('tiny'));
    try {
      const error = await failure(() => model.generate(ASK, { tools: TOOLS }));
      expect(isSlmkitError(error, 'INVALID_OPTION')).toBe(true);
      expect((error as Error).message).toMatch(/has no tool-call format/);
    } finally {
      await model.dispose();
    }
  });
});
