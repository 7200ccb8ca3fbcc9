// The checks of responseFormat (typed errors, the model usable afterwards), the exact integer
// ranges, and rollback of the token mask, on onnxruntime-node with the tiny model.
import type { LocalLanguageModel } from '@slmkit/core';
import { isSlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integerRangeEbnf } from '../../packages/core/src/constraints/json-schema.js';
import {
  jsonSchemaGrammar,
  ResponseFormatCompiler,
} from '../../packages/core/src/constraints/response-format.js';
import { TokenMaskStage } from '../../packages/core/src/constraints/token-mask-stage.js';
import { loadXgrammar } from '../../packages/core/src/constraints/xgrammar.js';
import { ensureModel } from '../fixtures/models.js';

let model: LocalLanguageModel;
beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
});
afterAll(() => model?.dispose());

const PROMPT = 'Once upon a time there was a';
const schemaFormat = (schema: unknown) => ({ type: 'json_schema', schema }) as never;

describe('responseFormat errors', () => {
  it.each([
    [{ type: 'string', not: { const: 'a' } }, '/not', 'not'],
    [
      { type: 'object', properties: { a: { type: 'integer', multipleOf: 2 } } },
      '/properties/a/multipleOf',
      'multipleOf',
    ],
    [{ type: 'array', uniqueItems: true }, '/uniqueItems', 'uniqueItems'],
    [{ type: 'object', patternProperties: { x: {} } }, '/patternProperties', 'patternProperties'],
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's then keyword
    [{ if: { type: 'string' }, then: { minLength: 1 } }, '/if', 'if'],
    [{ anyOf: [{ type: 'number', exclusiveMinimum: 0 }] }, '/anyOf/0/exclusiveMinimum', 'exclusiveMinimum'],
    [{ $defs: { 'a/b': { allOf: [] } }, $ref: '#/$defs/a~1b' }, '/$defs/a~1b/allOf', 'allOf'],
    [{ type: 'object', minProperties: 1 }, '/minProperties', 'minProperties'],
  ])('unsupported keyword %j is INVALID_OPTION naming it and its path', async (schema, path, keyword) => {
    let error: unknown;
    try {
      model.stream(PROMPT, { responseFormat: schemaFormat(schema) });
    } catch (e) {
      error = e;
    }
    expect(isSlmkitError(error, 'INVALID_OPTION')).toBe(true);
    expect((error as Error).message).toContain(`at ${path}:`);
    expect((error as Error).message).toContain(`"${keyword}"`);
  });

  it.each([
    [{ type: 'json_schema', schema: { $ref: '#/$defs/missing' } }, 'points to nothing'],
    [{ type: 'json_schema', schema: { $ref: 'http://example.com/s.json' } }, 'must point into the schema'],
    [{ type: 'json_schema', schema: { type: 'strnig' } }, 'unknown type'],
    [{ type: 'json_schema', schema: { type: 'string', format: 'ipv4' } }, 'format "ipv4"'],
    [{ type: 'json_schema', schema: { type: 'string', minimum: 1 } }, 'minimum applies to numbers'],
    [{ type: 'json_schema', schema: { type: 'integer', minimum: 5, maximum: 1 } }, 'greater than maximum'],
    // xgrammar's bounds on non-integer numbers are not exact (maximum: 10 lets 10.5 through).
    [{ type: 'json_schema', schema: { type: 'number', maximum: 10 } }, 'only on integers'],
    [{ type: 'json_schema', schema: { type: ['number', 'null'], minimum: 0 } }, 'only on integers'],
    [{ type: 'json_schema', schema: { type: ['integer', 'null'], minimum: 0 } }, 'only on integers'],
    [{ type: 'json_schema', schema: { minimum: 0 } }, 'only on integers'],
    [{ type: 'json_schema', schema: { type: 'string', pattern: '(' } }, 'not a valid regular expression'],
    [{ type: 'regex', pattern: '[a-' }, 'not a valid regular expression'],
    [{ type: 'grammar', grammar: 'start ::= "a"' }, 'root rule'],
    [{ type: 'xml' }, "responseFormat.type must be 'json'"],
    ['json', 'must be an object'],
  ])('%j is INVALID_OPTION at call time', (responseFormat, message) => {
    expect(() => model.stream(PROMPT, { responseFormat: responseFormat as never })).toThrow(message);
  });

  it('a grammar the engine refuses rejects with INVALID_OPTION, and the model stays usable', async () => {
    const bad = model.generate(PROMPT, {
      responseFormat: { type: 'grammar', grammar: 'root ::= undefined_rule' },
    });
    await expect(bad).rejects.toMatchObject({ name: 'SlmkitError', code: 'INVALID_OPTION' });
    // The engine's own message, not its "Aborted()" and a FATAL line on stderr.
    const error = (await model
      .generate(PROMPT, { responseFormat: { type: 'grammar', grammar: 'root ::= other_rule' } })
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('line 1, column 10: Rule "other_rule" is not defined');
    expect(error.message).not.toMatch(/Aborted|FATAL|\.cc:/);
    // Stack traces stay readable: no frame of the engine's one-line 1 MB bundle is shown as code.
    expect(String(error.stack).length).toBeLessThan(3000);
    const good = await model.generate(PROMPT, {
      responseFormat: { type: 'grammar', grammar: 'root ::= "yes" | "no"' },
      maxNewTokens: 5,
    });
    expect(['yes', 'no']).toContain(good.text);
    expect(good.finishReason).toBe('stop');
    const plain = await model.generate(PROMPT, { maxNewTokens: 3, temperature: 0 });
    expect(plain.tokenIds).toHaveLength(3);
  });
});

describe('integer ranges', () => {
  it.each([
    [3, 117],
    [100, 117],
    [-120, -3],
    [-1000, 1000],
    [0, 0],
    [7, undefined],
    [undefined, -42],
    [123, 456],
    [-5, 5],
  ])('[%s, %s] accepts exactly its integers', async (min, max) => {
    const xg = await loadXgrammar();
    const grammar = await xg.Grammar.fromEBNF(`root ::= ${integerRangeEbnf({ min, max })}`);
    const lo = (min ?? (max ?? 0) - 1500) - 300;
    const hi = (max ?? (min ?? 0) + 1500) + 300;
    const wrong: string[] = [];
    for (let v = lo; v <= hi; v++) {
      const inRange = (min === undefined || v >= min) && (max === undefined || v <= max);
      if ((await xg.Testings.isGrammarAcceptString(grammar, String(v))) !== inRange) wrong.push(String(v));
    }
    for (const text of ['-0', '007', '01', '1.0', '']) {
      if (await xg.Testings.isGrammarAcceptString(grammar, text)) wrong.push(text);
    }
    grammar.dispose();
    expect(wrong).toEqual([]);
  });
});

describe('date formats', () => {
  it('format date accepts exactly the calendar dates (leap years too), and date-time their times', async () => {
    const xg = await loadXgrammar();
    const date = await xg.Grammar.fromEBNF(await jsonSchemaGrammar({ type: 'string', format: 'date' }));
    const dateTime = await xg.Grammar.fromEBNF(
      await jsonSchemaGrammar({ type: 'string', format: 'date-time' }),
    );
    const two = (n: number) => String(n).padStart(2, '0');
    const wrong: string[] = [];
    // Around the century rules: 1900 and 2100 are not leap years, 2000 and 2400 are.
    for (const year of [
      1899, 1900, 1901, 1999, 2000, 2001, 2002, 2003, 2004, 2023, 2024, 2099, 2100, 2101, 2400,
    ]) {
      for (let month = 1; month <= 12; month++) {
        for (const day of [28, 29, 30, 31, 32]) {
          const text = `${year}-${two(month)}-${two(day)}`;
          // Date.UTC rolls an impossible day over into the next month.
          const valid = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
          if ((await xg.Testings.isGrammarAcceptString(date, JSON.stringify(text))) !== valid)
            wrong.push(text);
        }
      }
    }
    for (const text of ['2024-00-10', '2024-13-01', '2024-1-01', '2000-02-29x']) {
      if (await xg.Testings.isGrammarAcceptString(date, JSON.stringify(text))) wrong.push(text);
    }
    const times: [string, boolean][] = [
      ['2024-02-29T23:59:59Z', true],
      ['2023-02-29T10:00:00Z', false],
      ['2024-06-30T08:15:00.123456+05:30', true],
      ['2024-06-30T24:00:00Z', false],
      ['2024-06-30T08:60:00Z', false],
      ['2024-06-31T08:00:00Z', false],
      ['2024-06-30T08:00:00', false],
    ];
    for (const [text, valid] of times) {
      if ((await xg.Testings.isGrammarAcceptString(dateTime, JSON.stringify(text))) !== valid)
        wrong.push(text);
    }
    date.dispose();
    dateTime.dispose();
    expect(wrong).toEqual([]);
  });
});

describe('the token mask stage', () => {
  it('rollback restores the exact masks; reset the first one', async () => {
    const compiler = new ResponseFormatCompiler(model.tokenizer, model.config.vocabSize);
    const schema = {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 3, maximum: 117 } },
      required: ['n'],
    };
    const [stage] = await compiler.masks({ type: 'json_schema', schema }, 1, model.config.eosTokenIds);
    try {
      // One token per character (a SentencePiece encoding would start with "▁{").
      const tokens = [...'{"n":11'].map((c) => model.tokenizer.tokenToId(c)!);
      const masks: Int32Array[] = [];
      for (const id of tokens) {
        await stage.ready();
        masks.push(stage.currentMask().slice());
        stage.accept(id);
      }
      await stage.ready();
      masks.push(stage.currentMask().slice());
      // After {"n":11 the digits 0-7 and "}" may follow, but not 8 or 9 (118 and 119 are out of range).
      const allowed = (id: number) => ((masks.at(-1)![id >> 5] >>> (id & 31)) & 1) === 1;
      expect(allowed(model.tokenizer.tokenToId('7')!)).toBe(true);
      expect(allowed(model.tokenizer.tokenToId('8')!)).toBe(false);
      for (let back = 1; back <= tokens.length; back++) {
        stage.rollback(1);
        await stage.ready();
        expect(stage.currentMask()).toEqual(masks[tokens.length - back]);
      }
      for (const id of tokens.slice(0, 3)) {
        await stage.ready();
        stage.accept(id);
      }
      stage.reset();
      await stage.ready();
      expect(stage.currentMask()).toEqual(masks[0]);
      expect(() => stage.accept(model.tokenizer.tokenToId('}')!)).toThrow(/does not allow it/);
    } finally {
      stage.dispose();
      await compiler.dispose();
    }
  });

  it('an engine failure is a SlmkitError RUNTIME_ERROR, not the raw WebAssembly error', async () => {
    const raw = new WebAssembly.RuntimeError('Aborted(). Build with -sASSERTIONS for more info.');
    const matcher = {
      getNextTokenBitmask: () => Promise.reject(raw),
      acceptToken: () => {
        throw raw;
      },
      rollBack: () => {
        throw raw;
      },
      isTerminated: () => false,
    };
    const stage = new TokenMaskStage(matcher as never, [2], 64);
    await expect(stage.ready()).rejects.toMatchObject({
      name: 'SlmkitError',
      code: 'RUNTIME_ERROR',
      cause: raw,
    });
    expect(() => stage.accept(5)).toThrow(expect.objectContaining({ code: 'RUNTIME_ERROR' }));
    expect(() => stage.rollback(1)).toThrow('matcher could not roll back by 1 (xgrammar: Aborted())');
  });

  it('after the end-of-sequence token: ended, complete, nothing allowed, no engine abort', async () => {
    const compiler = new ResponseFormatCompiler(model.tokenizer, model.config.vocabSize);
    const schema = { type: 'integer', minimum: 3, maximum: 5 };
    const [stage] = await compiler.masks({ type: 'json_schema', schema }, 1, model.config.eosTokenIds);
    try {
      await stage.ready();
      stage.accept(model.tokenizer.tokenToId('4')!);
      await stage.ready();
      expect(stage.ended).toBe(true);
      stage.accept(model.config.eosTokenIds[0]);
      // The matcher has terminated: xgrammar aborts (a FATAL on stderr) if asked for a mask now.
      await stage.ready();
      expect(stage.ended).toBe(true);
      expect(stage.complete).toBe(true);
      expect(stage.currentMask().every((bits) => bits === 0)).toBe(true);
      stage.rollback(1);
      await stage.ready();
      expect(stage.ended).toBe(true);
      expect(stage.currentMask().some((bits) => bits !== 0)).toBe(true);
    } finally {
      stage.dispose();
      await compiler.dispose();
    }
  });
});
