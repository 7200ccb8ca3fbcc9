// responseFormat on the random-weight tiny model (it knows no JSON: every valid output is the
// constraint's doing), on onnxruntime-node on its session thread and in-process.
//
// Sample counts are kept small for the default suite: 3 outputs of every format on the session
// thread, 1 (greedy) in-process. SLMKIT_CONSTRAINT_SAMPLES=100 samples 100 outputs of every format
// on both (the 10 schemas × 100 and 10 patterns × 100; about 40 minutes on 2 cores).

import { env } from 'node:process';
import type { GenerateOptions, LocalLanguageModel, ResponseFormat } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const ajv = new Ajv2020({ strict: false });
addFormats.default(ajv);

/** Schemas of varied shape, each bounded so that every sample ends within MAX_TOKENS. */
const SCHEMAS: Record<string, Record<string, unknown>> = {
  'object with enum, bounded integer and array': {
    type: 'object',
    properties: {
      category: { enum: ['news', 'science', 'sports'] },
      count: { type: 'integer', minimum: 3, maximum: 117 },
      tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 2 },
    },
    required: ['category', 'count', 'tags'],
    additionalProperties: false,
  },
  'negative integer range': { type: 'integer', minimum: -120, maximum: -3 },
  'nested objects, const, boolean, null': {
    type: 'object',
    properties: {
      kind: { const: 'point' },
      at: {
        type: 'object',
        properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, ok: { type: 'boolean' } },
        required: ['x', 'ok'],
        additionalProperties: false,
      },
      none: { type: 'null' },
    },
    required: ['kind', 'at', 'none'],
    additionalProperties: false,
  },
  'prefixItems, minItems, anyOf': {
    type: 'array',
    prefixItems: [
      { type: 'boolean' },
      { anyOf: [{ type: 'integer', minimum: 10, maximum: 20 }, { type: 'null' }] },
    ],
    items: false,
    minItems: 2,
  },
  'string formats and lengths': {
    type: 'object',
    properties: {
      day: { type: 'string', format: 'date' },
      id: { type: 'string', format: 'uuid' },
      code: { type: 'string', pattern: '^[A-Z]{2}[0-9]$' },
      word: { type: 'string', minLength: 2, maxLength: 3 },
    },
    required: ['day', 'id', 'code', 'word'],
    additionalProperties: false,
  },
  'array of objects, minItems/maxItems': {
    type: 'array',
    items: {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 0, maximum: 50 }, tag: { enum: ['a', 'b'] } },
      required: ['n', 'tag'],
      additionalProperties: false,
    },
    minItems: 1,
    maxItems: 3,
  },
  'oneOf of tagged objects': {
    oneOf: [
      {
        type: 'object',
        properties: { kind: { const: 'circle' }, r: { type: 'integer', minimum: 1, maximum: 9 } },
        required: ['kind', 'r'],
        additionalProperties: false,
      },
      {
        type: 'object',
        properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 100, maximum: 999 } },
        required: ['kind', 'side'],
        additionalProperties: false,
      },
    ],
  },
  'enum of mixed values, const': {
    type: 'object',
    properties: { level: { enum: [1, 'high', null, true] }, version: { const: 2 } },
    required: ['level', 'version'],
    additionalProperties: false,
  },
  'prefixItems with an items schema': {
    type: 'array',
    prefixItems: [{ type: 'string', maxLength: 3 }],
    items: { type: 'integer', minimum: -5, maximum: 5 },
    minItems: 1,
    maxItems: 4,
  },
  'recursive $ref': {
    $defs: {
      node: {
        type: 'object',
        properties: { v: { enum: [1, 2] }, next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] } },
        required: ['v', 'next'],
        additionalProperties: false,
      },
    },
    $ref: '#/$defs/node',
  },
};

const PROMPT = 'Once upon a time there was a';
const MAX_TOKENS = 160;
const GIVEN_SAMPLES =
  env.SLMKIT_CONSTRAINT_SAMPLES === undefined ? undefined : Number(env.SLMKIT_CONSTRAINT_SAMPLES);
const sampled = (seed: number): GenerateOptions => ({
  temperature: 1,
  topK: 0,
  seed,
  maxNewTokens: MAX_TOKENS,
});

let dir: string;
beforeAll(async () => {
  dir = await ensureModel('tiny');
});

/** Each backend, and how many outputs of every format it samples (the first one greedy). */
const BACKENDS: Record<string, [(dir: string) => Promise<LocalLanguageModel>, number]> = {
  'node (session thread)': [(d) => createModel(d), GIVEN_SAMPLES ?? 3],
  // The mask runs on the calling thread either way: in-process, one greedy output is enough by default.
  'node (main thread)': [(d) => createModel(d, { sessionThread: 'main' }), GIVEN_SAMPLES ?? 1],
};

describe.each(Object.entries(BACKENDS))('responseFormat: %s', (_name, [load, SAMPLES]) => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await load(dir);
  });
  afterAll(() => model?.dispose());

  async function outputs(responseFormat: ResponseFormat, count = SAMPLES, maxNewTokens = MAX_TOKENS) {
    const results = [await model.generate(PROMPT, { responseFormat, temperature: 0, maxNewTokens })];
    for (let seed = 1; seed < count; seed++)
      results.push(await model.generate(PROMPT, { responseFormat, ...sampled(seed), maxNewTokens }));
    return results;
  }

  it.each(Object.entries(SCHEMAS))(
    'json_schema %s: greedy and sampled outputs validate',
    async (_, schema) => {
      const validate = ajv.compile(schema);
      for (const result of await outputs({ type: 'json_schema', schema })) {
        // A bare number may end or get more digits: there the model's end-of-sequence token ends it.
        const mayGoOn = typeof result.object === 'number';
        expect(mayGoOn ? ['stop', 'eos'] : ['stop'], result.text).toContain(result.finishReason);
        expect(result.object).toEqual(JSON.parse(result.text));
        expect(validate(result.object), `${result.text}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    },
  );

  it('json: outputs that end are JSON values; cut ones are length without object', async () => {
    let ended = 0;
    for (const result of await outputs({ type: 'json' }, SAMPLES, 40)) {
      if (result.finishReason === 'length') {
        expect(result.object).toBeUndefined();
        continue;
      }
      ended++;
      expect(['stop', 'eos']).toContain(result.finishReason);
      expect(result.object).toEqual(JSON.parse(result.text));
    }
    expect(ended).toBeGreaterThan(0);
  });

  it.each([
    '[A-Z]{3}-[0-9]{2,4}',
    '(yes|no|maybe)',
    '[a-z]+@[a-z]+\\.(com|org)',
    '\\d{1,3}(\\.\\d{1,3}){3}',
    '(ab|cd)*e',
    '[0-9]{4}-(0[1-9]|1[0-2])-[0-3][0-9]',
    '(red|green|blue)(,(red|green|blue)){0,2}',
    '[A-Z][a-z]{2,6} [A-Z][a-z]{2,6}',
    '#[0-9a-f]{6}',
    '[+-]?[1-9][0-9]{0,2}',
  ])('regex %s: every output matches', async (pattern) => {
    const whole = new RegExp(`^(?:${pattern})$`, 'u');
    for (const result of await outputs({ type: 'regex', pattern }, SAMPLES)) {
      if (result.finishReason === 'length') continue;
      expect(result.text).toMatch(whole);
    }
  });

  it('grammar: outputs are sentences of the grammar', async () => {
    const grammar = `root ::= item ("," item){0,3} "."
item ::= "red" | "green" | [0-9]{1,2}`;
    for (const result of await outputs({ type: 'grammar', grammar }, SAMPLES)) {
      expect(result.finishReason).toBe('stop');
      expect(result.text).toMatch(/^(red|green|[0-9]{1,2})(,(red|green|[0-9]{1,2})){0,3}\.$/);
    }
  });

  it('maxNewTokens too small: finishReason length and no object', async () => {
    const schema = SCHEMAS['object with enum, bounded integer and array'];
    const result = await model.generate(PROMPT, {
      responseFormat: { type: 'json_schema', schema },
      maxNewTokens: 3,
    });
    expect(result.finishReason).toBe('length');
    expect(result.object).toBeUndefined();
    expect('object' in result).toBe(false);
  });

  it('works in a batch and in chat turns', async () => {
    const responseFormat = { type: 'json_schema', schema: SCHEMAS['negative integer range'] } as const;
    const batch = await model.generate([PROMPT, 'The capital of France is'], {
      responseFormat,
      maxNewTokens: 20,
    });
    for (const r of batch) expect(r.object).toBeGreaterThanOrEqual(-120);
    const chat = model.createChat();
    const reply = await chat.send('Hi!', { responseFormat, maxNewTokens: 20 });
    expect(reply.object).toBeLessThanOrEqual(-3);
    // The second turn continues from the first one's tokens (its prompt is built by the chat).
    const second = await chat.send('Again', { responseFormat, maxNewTokens: 20 });
    expect(second.finishReason).toBe('stop');
    expect(second.object).toBeLessThanOrEqual(-3);
    expect(second.usage.cachedPromptTokens).toBeGreaterThan(0);
    await chat.dispose();
  });
});
