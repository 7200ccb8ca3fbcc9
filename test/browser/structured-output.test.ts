// responseFormat in Chromium: the browser bundle loads @mlc-ai/web-xgrammar (imported, not evaluated
// as in Node) on the page and in a Worker model, and greedy constrained outputs equal the node
// backend's token for token; a format the engine refuses is INVALID_OPTION across the worker boundary.
import type { ResponseFormat } from '@slmkit/core';
import { describe, expect, it } from 'vitest';
import { hasChromium, openTestPage, type SlmkitGlobal, useBrowserSuite } from './harness.js';

const PROMPT = 'Once upon a time there was a';
const FORMATS: Record<string, ResponseFormat> = {
  json_schema: {
    type: 'json_schema',
    schema: {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 3, maximum: 117 }, ok: { type: 'boolean' } },
      required: ['n', 'ok'],
      additionalProperties: false,
    },
  },
  regex: { type: 'regex', pattern: '[A-Z]{3}-[0-9]{2,4}' },
  grammar: { type: 'grammar', grammar: 'root ::= ("red" | "green") ("," ("red" | "green")){0,2} "."' },
};
const BAD: ResponseFormat = { type: 'grammar', grammar: 'root ::= undefined_rule' };

interface Output {
  tokenIds: number[];
  text: string;
  finishReason: string;
  object?: unknown;
}

/** Greedy constrained outputs of the node backend, per format: the reference. */
async function nodeOutputs(modelDir: string): Promise<Record<string, Output>> {
  const { createModel } = await import('@slmkit/node');
  const model = await createModel(modelDir);
  try {
    const out: Record<string, Output> = {};
    for (const [name, responseFormat] of Object.entries(FORMATS)) {
      const { tokenIds, text, finishReason, object } = await model.generate(PROMPT, {
        responseFormat,
        temperature: 0,
        maxNewTokens: 40,
      });
      out[name] = { tokenIds, text, finishReason, object };
    }
    return out;
  } finally {
    await model.dispose();
  }
}

/** Runs in the page: every format greedily, then the refused one, on a page or Worker model. */
async function runInPage(args: {
  where: 'page' | 'worker';
  prompt: string;
  formats: Record<string, ResponseFormat>;
  bad: ResponseFormat;
}) {
  const web = (globalThis as unknown as { slmkit: SlmkitGlobal }).slmkit;
  const model =
    args.where === 'page'
      ? await web.createModel('./models/tiny/', {
          backend: web.createWebBackend({ device: 'wasm', numThreads: 1 }),
        })
      : await web.createWorkerModel(new Worker('/slmkit/worker.js', { type: 'module' }), './models/tiny/', {
          device: 'wasm',
          numThreads: 1,
        });
  try {
    const outputs: Record<string, Output> = {};
    for (const [name, responseFormat] of Object.entries(args.formats)) {
      const { tokenIds, text, finishReason, object } = await model.generate(args.prompt, {
        responseFormat,
        temperature: 0,
        maxNewTokens: 40,
      });
      outputs[name] = { tokenIds, text, finishReason, object };
    }
    const refused = await model.generate(args.prompt, { responseFormat: args.bad }).then(
      () => undefined,
      (e: { name?: string; code?: string }) => ({ name: e.name, code: e.code }),
    );
    // The model stays usable after the refusal.
    const after = await model.generate(args.prompt, { responseFormat: args.formats.regex, temperature: 0 });
    return { outputs, refused, after: after.tokenIds };
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!hasChromium)('responseFormat in Chromium', () => {
  const suite = useBrowserSuite({ reference: nodeOutputs });

  it.each(['page', 'worker'] as const)(
    'a %s model gives the node tokens for json_schema, regex and grammar; a refused grammar is INVALID_OPTION',
    async (where) => {
      const page = await openTestPage(suite.browser, suite.plain);
      const run = await page.evaluate(runInPage, { where, prompt: PROMPT, formats: FORMATS, bad: BAD });
      await page.close();
      expect(run.outputs).toEqual(suite.reference);
      for (const output of Object.values(run.outputs)) expect(output.finishReason).toBe('stop');
      expect(run.outputs.regex.text).toMatch(/^[A-Z]{3}-[0-9]{2,4}$/);
      expect(run.outputs.json_schema.object).toEqual(JSON.parse(run.outputs.json_schema.text));
      expect(run.refused).toEqual({ name: 'SlmkitError', code: 'INVALID_OPTION' });
      expect(run.after).toEqual(suite.reference.regex.tokenIds);
      expect(suite.browser.foreignRequests).toEqual([]);
    },
  );
});
