// @slmkit/ai-sdk's tools through the real `ai` package, on a generated tiny model with Qwen3's real
// tokenizer and tool-capable chat template (random weights: it writes no calls by itself, so calls
// are constrained by toolChoice 'required' / { type: 'tool' }, or scripted by a logits processor
// for 'auto'). The calls must be the ones model.generate makes for the same tools, parsed by the AI
// SDK against the tool's zod schema, and a tool's result must come back as a `tool` message.
import type { LanguageModelV4CallOptions } from '@ai-sdk/provider';
import type { ChatMessage, LanguageModel, LogitsStage, ToolDefinition } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { slmkit } from '../../packages/ai-sdk/src/index.js';
import { ensureModel } from '../fixtures/models.js';

let qwen: LanguageModel;

beforeAll(async () => {
  qwen = await createModel(await ensureModel({ tokenizer: 'qwen3' }));
});
afterAll(async () => {
  await qwen?.dispose();
});

const PROMPT = 'Weather in Oslo?';
const weatherInput = z.object({ city: z.string().max(8) });
const timeInput = z.object({ zone: z.enum(['UTC', 'CET']) });
const tools = {
  get_weather: tool({ description: 'Current weather in a city', inputSchema: weatherInput }),
  get_time: tool({ description: 'The time in a zone', inputSchema: timeInput }),
};
/** The same tools as slmkit takes them (the JSON schemas the AI SDK derives from the zod schemas). */
const definitions: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: z.toJSONSchema(weatherInput, { target: 'draft-7' }),
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'The time in a zone',
      parameters: z.toJSONSchema(timeInput, { target: 'draft-7' }),
    },
  },
];

/** A logits stage that makes the model write `ids`, then end: the model's 'auto' output, scripted. */
function scripted(ids: readonly number[], eos: number): LogitsStage {
  return {
    process(logits, { generatedTokenIds }) {
      const next = ids[generatedTokenIds.length] ?? eos;
      logits.fill(-Infinity);
      logits[next] = 0;
    },
  };
}

describe('tools', () => {
  it("toolChoice 'required': the call model.generate makes, parsed by the AI SDK against the zod schema", async () => {
    const reference = await qwen.generate([{ role: 'user', content: PROMPT }], {
      tools: definitions,
      toolChoice: 'required',
      temperature: 0,
      maxNewTokens: 60,
    });
    expect(reference.finishReason).toBe('tool-calls');
    const result = await generateText({
      model: slmkit(qwen),
      prompt: PROMPT,
      tools,
      toolChoice: 'required',
      temperature: 0,
      maxOutputTokens: 60,
      include: { requestBody: true },
    });
    const body = result.request.body as { options: { tools: ToolDefinition[]; toolChoice: unknown } };
    expect(body.options.tools).toEqual(definitions);
    expect(body.options.toolChoice).toBe('required');
    expect([result.finishReason, result.rawFinishReason]).toEqual(['tool-calls', 'tool-calls']);
    expect(result.toolCalls).toHaveLength(1);
    const [call] = result.toolCalls;
    expect(call.toolName).toBe(reference.toolCalls![0].name);
    expect(call.input).toEqual(reference.toolCalls![0].arguments);
    expect(call.toolCallId).toMatch(/^call_[A-Za-z0-9]+$/);
    expect(call.invalid).toBeFalsy();
    const schema = call.toolName === 'get_weather' ? weatherInput : timeInput;
    expect(schema.parse(call.input)).toEqual(call.input);
    expect(result.text).toBe('');
  });

  it("toolChoice { type: 'tool' } makes that tool's call", async () => {
    const reference = await qwen.generate([{ role: 'user', content: PROMPT }], {
      tools: definitions,
      toolChoice: { name: 'get_time' },
      temperature: 0,
    });
    const result = await generateText({
      model: slmkit(qwen),
      prompt: PROMPT,
      tools,
      toolChoice: { type: 'tool', toolName: 'get_time' },
      temperature: 0,
    });
    expect(result.toolCalls.map((c) => [c.toolName, c.input])).toEqual([
      ['get_time', reference.toolCalls![0].arguments],
    ]);
    expect(timeInput.parse(result.toolCalls[0].input)).toEqual(result.toolCalls[0].input);
  });

  it("a two-step loop: the tool's result goes back as a tool message and the model answers with it in view", async () => {
    const executed: unknown[] = [];
    const result = await generateText({
      model: slmkit(qwen),
      prompt: PROMPT,
      tools: {
        get_weather: tool({
          inputSchema: weatherInput,
          description: 'Current weather in a city',
          execute: async (input) => {
            executed.push(input);
            return { tempC: 21, sky: 'clear' };
          },
        }),
      },
      toolChoice: 'required',
      prepareStep: ({ stepNumber }) => (stepNumber === 1 ? { toolChoice: 'none' } : undefined),
      stopWhen: stepCountIs(2),
      temperature: 0,
      maxOutputTokens: 40,
      include: { requestBody: true },
    });
    expect(result.steps).toHaveLength(2);
    const [call] = result.steps[0].toolCalls;
    expect(executed).toEqual([call.input]);
    const second = result.steps[1].request.body as {
      messages: ChatMessage[];
      options: { toolChoice: unknown };
    };
    const messages: ChatMessage[] = [
      { role: 'user', content: PROMPT },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { id: call.toolCallId, type: 'function', function: { name: 'get_weather', arguments: call.input } },
        ],
      },
      {
        role: 'tool',
        tool_call_id: call.toolCallId,
        name: 'get_weather',
        content: '{"tempC":21,"sky":"clear"}',
      },
    ];
    expect(second.messages).toEqual(messages);
    expect(second.options.toolChoice).toBe('none');
    // The answer is what slmkit writes for those messages itself.
    const reference = await qwen.generate(messages, {
      tools: [definitions[0]],
      toolChoice: 'none',
      temperature: 0,
      maxNewTokens: 40,
    });
    expect(result.steps[1].text).toBe(reference.text);
    expect(result.steps[1].toolCalls).toEqual([]);
    expect(result.finishReason).toBe('length');
  });

  it("streamText with toolChoice 'required': tool-input parts, then the tool call, then finish 'tool-calls'", async () => {
    const reference = await qwen.generate([{ role: 'user', content: PROMPT }], {
      tools: [definitions[0]],
      toolChoice: 'required',
      temperature: 0,
    });
    const result = streamText({
      model: slmkit(qwen),
      prompt: PROMPT,
      tools: { get_weather: tools.get_weather },
      toolChoice: 'required',
      temperature: 0,
    });
    const parts: { type: string; [key: string]: unknown }[] = [];
    for await (const part of result.fullStream) parts.push(part);
    const types = parts.map((p) => p.type);
    const toolParts = types.filter((t) => t.startsWith('tool-'));
    expect(toolParts).toEqual(['tool-input-start', 'tool-input-delta', 'tool-input-end', 'tool-call']);
    const call = parts.find((p) => p.type === 'tool-call')!;
    expect(call).toMatchObject({ toolName: 'get_weather', input: reference.toolCalls![0].arguments });
    expect(parts.find((p) => p.type === 'tool-input-delta')).toMatchObject({
      id: call.toolCallId,
      delta: JSON.stringify(reference.toolCalls![0].arguments),
    });
    expect(await result.finishReason).toBe('tool-calls');
  });

  it("toolChoice 'auto': a call the model writes (scripted) is parsed by slmkit and reaches the AI SDK, in generate and stream", async () => {
    const script = await qwen.encode(
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
      {
        addSpecialTokens: false,
      },
    );
    const eos = qwen.config.eosTokenIds[0];
    const aiModel = slmkit(qwen, { defaults: { logitsProcessors: [scripted(script, eos)] } });
    const generated = await generateText({ model: aiModel, prompt: PROMPT, tools, maxOutputTokens: 40 });
    expect(generated.toolCalls.map((c) => [c.toolName, c.input])).toEqual([
      ['get_weather', { city: 'Oslo' }],
    ]);
    expect([generated.finishReason, generated.rawFinishReason]).toEqual(['tool-calls', 'tool-calls']);
    expect(generated.text).toBe('');
    expect(generated.usage.outputTokens).toBe(script.length + 1);

    const streamed = streamText({ model: aiModel, prompt: PROMPT, tools, maxOutputTokens: 40 });
    const calls = [];
    for await (const part of streamed.fullStream)
      if (part.type === 'tool-call') calls.push([part.toolName, part.input]);
    expect(calls).toEqual([['get_weather', { city: 'Oslo' }]]);
    expect(await streamed.finishReason).toBe('tool-calls');
  });

  it('warns about tools and tool settings slmkit cannot honour', async () => {
    const aiModel = slmkit(qwen);
    const base: LanguageModelV4CallOptions = {
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      maxOutputTokens: 2,
    };
    const { warnings } = await aiModel.doGenerate({
      ...base,
      tools: [
        { type: 'provider', id: 'openai.web_search', name: 'web_search', args: {} },
        {
          type: 'function',
          name: 'get_time',
          inputSchema: { type: 'object', properties: {} },
          inputExamples: [{ input: {} }],
          strict: true,
        },
      ],
      toolChoice: { type: 'none' },
      headers: { 'user-agent': 'ai/7' },
    });
    expect(warnings).toEqual([
      {
        type: 'unsupported',
        feature: 'provider-defined tool web_search',
        details:
          "openai.web_search runs on its provider's servers; slmkit calls function tools only, so it was left out.",
      },
      {
        type: 'unsupported',
        feature: 'inputExamples of tool get_time',
        details:
          "Chat templates have no place for them; add them to the tool's description (or use addToolInputExamplesMiddleware).",
      },
      {
        type: 'unsupported',
        feature: 'strict tools with toolChoice auto or none',
        details:
          "slmkit constrains a call's input to its schema only with toolChoice 'required' or { type: 'tool' }; the input of get_time is parsed, not constrained.",
      },
    ]);
  });
});
