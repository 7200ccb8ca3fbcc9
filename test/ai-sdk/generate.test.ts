// @slmkit/ai-sdk driven by the real `ai` package (7.x) over the generated tiny model on
// onnxruntime-node: generateText / streamText / structured output must give what model.generate
// gives for the same messages and options, in the AI SDK's shapes (finish reasons, usage with
// cacheRead, warnings, abort as an AbortError).
import type { LanguageModelV4CallOptions, LanguageModelV4StreamPart } from '@ai-sdk/provider';
import { type ChatMessage, type LanguageModel, SlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import {
  createProviderRegistry,
  generateObject,
  generateText,
  jsonSchema,
  NoSuchModelError,
  Output,
  streamText,
} from 'ai';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createSlmkit, slmkit } from '../../packages/ai-sdk/src/index.js';
import { ensureModel } from '../fixtures/models.js';

let model: LanguageModel;

beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
});
afterAll(async () => {
  await model?.dispose();
});

const SYSTEM = 'You are terse.';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: 'Hi!' },
];

/** Reads a doStream result to the end. */
async function readParts(
  stream: ReadableStream<LanguageModelV4StreamPart>,
): Promise<LanguageModelV4StreamPart[]> {
  const parts: LanguageModelV4StreamPart[] = [];
  for await (const part of stream as unknown as AsyncIterable<LanguageModelV4StreamPart>) parts.push(part);
  return parts;
}

describe('generateText', () => {
  it("gives model.generate's greedy text, finish reason and token counts", async () => {
    const reference = await model.generate(MESSAGES, { maxNewTokens: 12, temperature: 0 });
    const result = await generateText({
      model: slmkit(model),
      instructions: SYSTEM,
      prompt: 'Hi!',
      maxOutputTokens: 12,
      temperature: 0,
      include: { requestBody: true },
    });
    expect(reference.text.length).toBeGreaterThan(0);
    expect(result.text).toBe(reference.text);
    expect(result.finishReason).toBe('length');
    expect(result.rawFinishReason).toBe('length');
    expect(result.usage.inputTokens).toBe(reference.usage.promptTokens);
    expect(result.usage.outputTokens).toBe(12);
    expect(
      result.usage.inputTokenDetails.cacheReadTokens! + result.usage.inputTokenDetails.noCacheTokens!,
    ).toBe(reference.usage.promptTokens);
    expect(result.warnings).toEqual([]);
    // What slmkit was given: the AI SDK's instructions and prompt as chat messages, its settings renamed.
    expect(result.request.body).toEqual({
      messages: MESSAGES,
      options: { maxNewTokens: 12, temperature: 0 },
    });
    expect(result.response.modelId).toBe('llama');
  });

  it("ends at the end-of-sequence token with finishReason 'stop' (raw 'eos'), as model.generate does", async () => {
    const eos = model.config.eosTokenIds[0];
    // Ban nothing but the end token from the 4th token on: the generation ends by EOS.
    const endAfter3 = (logits: Float32Array, context: { generatedTokenIds: readonly number[] }) => {
      if (context.generatedTokenIds.length < 3) return;
      for (let i = 0; i < logits.length; i++) if (i !== eos) logits[i] = -Infinity;
    };
    const reference = await model.generate(MESSAGES, {
      maxNewTokens: 12,
      temperature: 0,
      logitsProcessors: [endAfter3],
    });
    expect(reference.finishReason).toBe('eos');
    const result = await generateText({
      model: slmkit(model, { defaults: { logitsProcessors: [endAfter3] } }),
      instructions: SYSTEM,
      prompt: 'Hi!',
      maxOutputTokens: 12,
      temperature: 0,
    });
    expect(result.text).toBe(reference.text);
    expect([result.finishReason, result.rawFinishReason]).toEqual(['stop', 'eos']);
    expect(result.usage.outputTokens).toBe(4);
  });

  it('passes sampling settings through: the same seed gives the same text as model.generate', async () => {
    const settings = {
      temperature: 0.9,
      topP: 0.9,
      topK: 20,
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: 0.2,
    };
    const reference = await model.generate(MESSAGES, { maxNewTokens: 10, ...settings });
    const result = await generateText({
      model: slmkit(model),
      instructions: SYSTEM,
      prompt: 'Hi!',
      maxOutputTokens: 10,
      ...settings,
      include: { requestBody: true },
    });
    expect(result.text).toBe(reference.text);
    const greedy = await model.generate(MESSAGES, { maxNewTokens: 10, temperature: 0 });
    expect(result.text).not.toBe(greedy.text);
    expect(result.request.body).toEqual({ messages: MESSAGES, options: { maxNewTokens: 10, ...settings } });
  });

  it('stops at a stop sequence, which is not part of the text', async () => {
    const reference = await model.generate(MESSAGES, { maxNewTokens: 12, temperature: 0 });
    const word = reference.text.split(' ')[2];
    const result = await generateText({
      model: slmkit(model),
      instructions: SYSTEM,
      prompt: 'Hi!',
      maxOutputTokens: 12,
      temperature: 0,
      stopSequences: [word],
    });
    expect(result.text).toBe(reference.text.slice(0, reference.text.indexOf(word)));
    expect([result.finishReason, result.rawFinishReason]).toEqual(['stop', 'stop']);
  });
});

describe('streamText', () => {
  it("streams model.stream's text, then the finish reason and usage; a second call reads the shared prefix from the cache", async () => {
    const messages: ChatMessage[] = [
      ...MESSAGES,
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Tell me more.' },
    ];
    const reference = await model.generate(messages, { maxNewTokens: 12, temperature: 0 });
    // A fresh prefix: the first call has little in the cache, the second reads the first's prompt from it.
    const long = `Background: ${'the quick brown fox jumps over the lazy dog '.repeat(8)}`;
    const run = async (question: string) => {
      const result = streamText({
        model: slmkit(model),
        instructions: long,
        messages: [{ role: 'user', content: question }],
        maxOutputTokens: 8,
        temperature: 0,
      });
      const deltas: string[] = [];
      for await (const delta of result.textStream) deltas.push(delta);
      return {
        deltas,
        usage: await result.usage,
        finishReason: await result.finishReason,
        text: await result.text,
      };
    };
    const first = await run('What is it?');
    const second = await run('What is it about?');
    const firstPrompt = await model.countTokens([
      { role: 'system', content: long },
      { role: 'user', content: 'What is it?' },
    ]);
    expect(first.usage.inputTokens).toBe(firstPrompt);
    // Only the template's opening tokens were in the cache before.
    expect(first.usage.inputTokenDetails.cacheReadTokens).toBeLessThan(10);
    expect(first.deltas.length).toBeGreaterThan(1);
    expect(first.deltas.join('')).toBe(first.text);
    expect(first.finishReason).toBe('length');
    // The second prompt shares the system message and the start of the user turn with the first.
    const cached = second.usage.inputTokenDetails.cacheReadTokens!;
    expect(cached).toBeGreaterThan(60);
    expect(cached).toBeLessThan(firstPrompt);
    expect(cached + second.usage.inputTokenDetails.noCacheTokens!).toBe(second.usage.inputTokens);
    expect(second.usage.outputTokens).toBe(8);

    const streamed = streamText({
      model: slmkit(model),
      instructions: SYSTEM,
      messages: messages.slice(1) as never,
      maxOutputTokens: 12,
      temperature: 0,
    });
    expect(await streamed.text).toBe(reference.text);
  });

  it('doStream gives stream-start (with warnings), response-metadata, one text block and finish, in that order', async () => {
    const aiModel = slmkit(model, { modelId: 'tiny' });
    const reference = await model.generate(MESSAGES, { maxNewTokens: 6, temperature: 0 });
    const call: LanguageModelV4CallOptions = {
      prompt: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: [{ type: 'text', text: 'Hi!' }] },
      ],
      maxOutputTokens: 6,
      temperature: 0,
      reasoning: 'high',
      includeRawChunks: true,
    };
    const { stream, request } = await aiModel.doStream(call);
    expect(request?.body).toEqual({ messages: MESSAGES, options: { maxNewTokens: 6, temperature: 0 } });
    const parts = await readParts(stream);
    const types = parts.map((p) => p.type).filter((t) => t !== 'raw' && t !== 'text-delta');
    expect(types).toEqual(['stream-start', 'response-metadata', 'text-start', 'text-end', 'finish']);
    expect(parts[0]).toEqual({
      type: 'stream-start',
      warnings: [
        {
          type: 'unsupported',
          feature: 'reasoning "high"',
          details:
            "slmkit runs the model's chat template as it is; a template variable may switch reasoning (Qwen3: providerOptions.slmkit.templateVariables { enable_thinking: false }).",
        },
      ],
    });
    expect(parts[1]).toMatchObject({ type: 'response-metadata', modelId: 'tiny' });
    const raw = parts
      .filter((p) => p.type === 'raw')
      .map((p) => (p as { rawValue: { tokenId: number } }).rawValue.tokenId);
    expect(raw).toEqual(reference.tokenIds);
    const deltas = parts.filter((p) => p.type === 'text-delta');
    expect(deltas.map((p) => p.delta).join('')).toBe(reference.text);
    expect(new Set(parts.filter((p) => 'id' in p).map((p) => (p as { id: string }).id))).toEqual(
      new Set(['txt-0']),
    );
    const finish = parts.at(-1) as Extract<LanguageModelV4StreamPart, { type: 'finish' }>;
    expect(finish.finishReason).toEqual({ unified: 'length', raw: 'length' });
    expect(finish.usage.inputTokens.total).toBe(reference.usage.promptTokens);
    expect(finish.usage.outputTokens).toEqual({ total: 6, text: 6, reasoning: undefined });
    expect(finish.usage.raw).toMatchObject({
      promptTokens: reference.usage.promptTokens,
      completionTokens: 6,
    });
  });
});

describe('structured output', () => {
  const CITY = z.object({ city: z.string().max(12), population: z.number().int().min(0).max(99) });

  it('Output.object with a zod schema: slmkit gets it as a json_schema responseFormat and the object validates', async () => {
    const result = await generateText({
      model: slmkit(model),
      prompt: 'A city as JSON:',
      maxOutputTokens: 60,
      output: Output.object({ schema: CITY, name: 'city' }),
      include: { requestBody: true },
    });
    const body = result.request.body as {
      options: { responseFormat: { type: string; schema: object; name: string } };
    };
    expect(body.options.responseFormat).toMatchObject({ type: 'json_schema', name: 'city' });
    expect(body.options.responseFormat.schema).toMatchObject({
      type: 'object',
      required: ['city', 'population'],
      additionalProperties: false,
    });
    expect(new Ajv().validate(body.options.responseFormat.schema, result.output)).toBe(true);
    expect(CITY.parse(result.output)).toEqual(result.output);
    // The same call on slmkit directly, with the schema the provider passed on.
    const direct = await model.generate([{ role: 'user', content: 'A city as JSON:' }], {
      maxNewTokens: 60,
      responseFormat: body.options.responseFormat as never,
    });
    expect(result.text).toBe(direct.text);
    expect(result.output).toEqual(direct.object);
    expect(result.finishReason).toBe('stop');
  });

  it('generateObject with a JSON schema, and Output.json() without one (slmkit responseFormat json)', async () => {
    const schema = {
      type: 'object',
      properties: {
        colour: { type: 'string', enum: ['red', 'green', 'blue'] },
        tags: { type: 'array', items: { type: 'string', maxLength: 5 }, maxItems: 2 },
      },
      required: ['colour', 'tags'],
      additionalProperties: false,
    } as const;
    const { object, finishReason, warnings } = await generateObject({
      model: slmkit(model),
      schema: jsonSchema<{ colour: string; tags: string[] }>(schema),
      schemaDescription: 'A colour and tags',
      prompt: 'Describe a colour.',
      maxOutputTokens: 60,
    });
    expect(new Ajv().validate(schema, object)).toBe(true);
    expect(finishReason).toBe('stop');
    expect(warnings).toEqual([
      {
        type: 'unsupported',
        feature: 'responseFormat.description',
        details: 'slmkit constrains the output to the schema; the description is not shown to the model.',
      },
    ]);

    const json = await generateText({
      model: slmkit(model),
      prompt: 'JSON:',
      maxOutputTokens: 40,
      output: Output.json(),
      include: { requestBody: true },
    });
    expect((json.request.body as { options: object }).options).toEqual({
      maxNewTokens: 40,
      responseFormat: { type: 'json' },
    });
    const direct = await model.generate([{ role: 'user', content: 'JSON:' }], {
      maxNewTokens: 40,
      responseFormat: { type: 'json' },
    });
    if (direct.finishReason === 'length') {
      expect(json.text).toBe(direct.text);
    } else {
      expect(json.output).toEqual(direct.object);
    }
  });
});

describe('abortSignal', () => {
  it('aborts generateText: it rejects with the signal’s AbortError and the model goes on serving', async () => {
    const controller = new AbortController();
    let steps = 0;
    const abortAt3 = () => {
      if (++steps === 3) controller.abort();
    };
    const error = await generateText({
      model: slmkit(model, { defaults: { logitsProcessors: [abortAt3] } }),
      prompt: 'Hi!',
      maxOutputTokens: 50,
      temperature: 0,
      abortSignal: controller.signal,
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('AbortError');
    expect(error).toBe(controller.signal.reason);
    expect(steps).toBeLessThanOrEqual(4);
    expect((await model.generate('Hi', { maxNewTokens: 2 })).tokenIds.length).toBe(2);
  });

  it('aborts streamText mid-stream: the stream ends with an abort part, the text read so far is a prefix of the whole', async () => {
    const reference = await model.generate([{ role: 'user', content: 'Hi!' }], {
      maxNewTokens: 40,
      temperature: 0,
      eosTokenIds: [],
    });
    const controller = new AbortController();
    let aborted = false;
    const result = streamText({
      model: slmkit(model, { defaults: { eosTokenIds: [] } }),
      prompt: 'Hi!',
      maxOutputTokens: 40,
      temperature: 0,
      abortSignal: controller.signal,
      onAbort: () => {
        aborted = true;
      },
    });
    let text = '';
    const types: string[] = [];
    for await (const part of result.fullStream) {
      types.push(part.type);
      if (part.type === 'text-delta') {
        text += part.text;
        if (text.length > 0) controller.abort();
      }
    }
    expect(aborted).toBe(true);
    expect(types.at(-1)).toBe('abort');
    expect(types).not.toContain('finish');
    expect(text.length).toBeGreaterThan(0);
    expect(reference.text.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(reference.text.length);
    expect((await model.generate('Hi', { maxNewTokens: 2 })).tokenIds.length).toBe(2);
  });
});

describe('settings and errors', () => {
  it("refuses slmkit options it does not know, and passes on slmkit's own refusals", async () => {
    const aiModel = slmkit(model);
    const typo = await generateText({
      model: aiModel,
      prompt: 'Hi',
      providerOptions: { slmkit: { minp: 0.1 } },
    }).catch((e: unknown) => e);
    expect(typo).toBeInstanceOf(SlmkitError);
    expect(typo).toMatchObject({
      code: 'INVALID_OPTION',
      message:
        'providerOptions.slmkit.minp is not an option of @slmkit/ai-sdk; the options are doSample, minP, repetitionPenalty, logitBias, logitsProcessors, templateVariables, eosTokenIds, logprobs, topLogprobs.',
    });
    const standard = await generateText({
      model: aiModel,
      prompt: 'Hi',
      providerOptions: { slmkit: { maxNewTokens: 3 } },
    }).catch((e: unknown) => e);
    expect(standard).toMatchObject({
      code: 'INVALID_OPTION',
      message:
        "providerOptions.slmkit.maxNewTokens: give the AI SDK's own setting `maxOutputTokens` instead.",
    });
    // slmkit's own validation reaches the caller unchanged.
    const invalid = await generateText({ model: aiModel, prompt: 'Hi', topP: 2, maxRetries: 0 }).catch(
      (e: unknown) => e,
    );
    expect(invalid).toBeInstanceOf(SlmkitError);
    expect((invalid as SlmkitError).code).toBe('INVALID_OPTION');
    expect((invalid as SlmkitError).message).toContain('topP');
  });

  it('providerOptions.slmkit reach slmkit: repetitionPenalty, and logprobs (back in providerMetadata.slmkit)', async () => {
    const options = {
      maxNewTokens: 6,
      temperature: 0,
      repetitionPenalty: 1.3,
      logprobs: true,
      topLogprobs: 2,
    } as const;
    const reference = await model.generate([{ role: 'user', content: 'Hi!' }], options);
    const result = await generateText({
      model: slmkit(model),
      prompt: 'Hi!',
      maxOutputTokens: 6,
      temperature: 0,
      providerOptions: { slmkit: { repetitionPenalty: 1.3, logprobs: true, topLogprobs: 2 } },
    });
    expect(result.text).toBe(reference.text);
    const logprobs = result.providerMetadata?.slmkit?.logprobs as {
      tokenId: number;
      logprob: number;
      topLogprobs: unknown[];
    }[];
    expect(logprobs.map((l) => l.tokenId)).toEqual(reference.tokenIds);
    expect(logprobs.map((l) => l.logprob)).toEqual(reference.logprobs!.map((l) => l.logprob));
    expect(logprobs.every((l) => l.topLogprobs.length === 2)).toBe(true);
  });

  it('refuses file parts with INVALID_INPUT naming the message and the media type', async () => {
    const error = await generateText({
      model: slmkit(model),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'file', data: new Uint8Array([137, 80, 78, 71]), mediaType: 'image/png' },
          ],
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'INVALID_INPUT',
      message:
        "prompt message 0 (user) has a file part (image/png): slmkit's models read text only. Put the file's text in a text part instead.",
    });
  });
});

describe('the provider', () => {
  it('serves named models (also through createProviderRegistry) and says which names it has', async () => {
    const local = createSlmkit({ models: { tiny: model }, defaults: { repetitionPenalty: 1.2 } });
    const reference = await model.generate([{ role: 'user', content: 'Hi!' }], {
      maxNewTokens: 6,
      temperature: 0,
      repetitionPenalty: 1.2,
    });
    const registry = createProviderRegistry({ local });
    const viaRegistry = await generateText({
      model: registry.languageModel('local:tiny'),
      prompt: 'Hi!',
      maxOutputTokens: 6,
      temperature: 0,
    });
    expect(viaRegistry.text).toBe(reference.text);
    expect(viaRegistry.response.modelId).toBe('tiny');
    expect(local('tiny').modelId).toBe('tiny');
    expect(local('tiny').provider).toBe('slmkit');
    expect(local('tiny').specificationVersion).toBe('v4');
    expect(local(model, { modelId: 'mine' }).modelId).toBe('mine');

    expect(() => local.languageModel('small')).toThrow(NoSuchModelError);
    expect(() => local('small')).toThrow(
      'No slmkit model is called "small": the provider\'s models are "tiny". Give it in createSlmkit({ models }), or pass the model itself.',
    );
    expect(() => registry.embeddingModel('local:tiny')).toThrow(
      'slmkit has language models only: there is no embeddingModel "tiny".',
    );
    expect(() => slmkit({} as never)).toThrow(
      'The slmkit provider takes a slmkit LanguageModel (from createModel or createWorkerModel) or the name of one of its models.',
    );
    expect(() => createSlmkit({ defaults: { seed: 1 } as never })).toThrow(
      "createSlmkit defaults.seed: give the AI SDK's own setting `seed` instead.",
    );
  });
});
