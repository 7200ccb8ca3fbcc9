// responseFormat in Chromium: the browser bundle loads @mlc-ai/web-xgrammar (imported, not evaluated
// as in Node) on the page and in a Worker model, and greedy constrained outputs equal the node
// backend's token for token; a format the engine refuses is INVALID_OPTION across the worker boundary.
import type { GenerateOptions, ResponseFormat, ToolDefinition } from '@slmkit/core';
import { describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
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

/** Tool calls on the tiny model with Qwen3's tokenizer and template (served at /models/qwen3/). */
const qwen3Model = () => ensureModel({ tokenizer: 'qwen3' });
const TOOLS: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', maxLength: 8 },
          days: { type: 'integer', minimum: 1, maximum: 7 },
        },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: { name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false } },
  },
];
const TOOL_MESSAGES = [{ role: 'user', content: 'Weather in Paris?' }];
const TOOL_CALLS: Record<string, GenerateOptions> = {
  required: { tools: TOOLS, toolChoice: 'required', temperature: 0, maxNewTokens: 60 },
  named: {
    tools: TOOLS,
    toolChoice: { name: 'get_weather' },
    temperature: 1,
    topK: 0,
    seed: 7,
    maxNewTokens: 60,
  },
};

interface ToolOutput {
  tokenIds: number[];
  finishReason: string;
  calls: { name: string; arguments: Record<string, unknown> }[];
}

/** Runs each of `calls` (ids of the calls are random: left out). */
async function toolOutputs(
  model: {
    generate(
      p: unknown,
      o: GenerateOptions,
    ): Promise<{
      tokenIds: number[];
      finishReason: string;
      toolCalls?: { name: string; arguments: Record<string, unknown> }[];
    }>;
  },
  calls: Record<string, GenerateOptions>,
  messages: unknown,
): Promise<Record<string, ToolOutput>> {
  const out: Record<string, ToolOutput> = {};
  for (const [name, options] of Object.entries(calls)) {
    const { tokenIds, finishReason, toolCalls } = await model.generate(messages, options);
    out[name] = {
      tokenIds,
      finishReason,
      calls: (toolCalls ?? []).map((c) => ({ name: c.name, arguments: c.arguments })),
    };
  }
  return out;
}

interface Output {
  tokenIds: number[];
  text: string;
  finishReason: string;
  object?: unknown;
}

/** Greedy constrained outputs of the node backend, per format: the reference. */
async function nodeOutputs(
  modelDir: string,
): Promise<{ formats: Record<string, Output>; tools: Record<string, ToolOutput> }> {
  const { createModel } = await import('@slmkit/node');
  const qwen3 = await createModel(await qwen3Model());
  const tools = await toolOutputs(qwen3 as never, TOOL_CALLS, TOOL_MESSAGES).finally(() => qwen3.dispose());
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
    return { formats: out, tools };
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

/** Runs in the page: the tool calls on a Worker model of the Qwen3-template tiny model. */
async function runToolsInWorker(args: { calls: Record<string, GenerateOptions>; messages: unknown }) {
  const web = (globalThis as unknown as { slmkit: SlmkitGlobal }).slmkit;
  const model = await web.createWorkerModel(
    new Worker('/slmkit/worker.js', { type: 'module' }),
    './models/qwen3/',
    {
      device: 'wasm',
      numThreads: 1,
    },
  );
  try {
    const out: Record<string, { tokenIds: number[]; finishReason: string; calls: unknown[] }> = {};
    for (const [name, options] of Object.entries(args.calls)) {
      const { tokenIds, finishReason, toolCalls } = await model.generate(args.messages as never, options);
      out[name] = {
        tokenIds,
        finishReason,
        calls: (toolCalls ?? []).map((c) => ({ name: c.name, arguments: c.arguments })),
      };
    }
    return out;
  } finally {
    await model.dispose();
  }
}

describe.skipIf(!hasChromium)('responseFormat in Chromium', () => {
  const suite = useBrowserSuite({ reference: nodeOutputs, mounts: { '/models/qwen3/': qwen3Model } });

  it.each(['page', 'worker'] as const)(
    'a %s model gives the node tokens for json_schema, regex and grammar; a refused grammar is INVALID_OPTION',
    async (where) => {
      const page = await openTestPage(suite.browser, suite.plain);
      const run = await page.evaluate(runInPage, { where, prompt: PROMPT, formats: FORMATS, bad: BAD });
      await page.close();
      expect(run.outputs).toEqual(suite.reference.formats);
      for (const output of Object.values(run.outputs)) expect(output.finishReason).toBe('stop');
      expect(run.outputs.regex.text).toMatch(/^[A-Z]{3}-[0-9]{2,4}$/);
      expect(run.outputs.json_schema.object).toEqual(JSON.parse(run.outputs.json_schema.text));
      expect(run.refused).toEqual({ name: 'SlmkitError', code: 'INVALID_OPTION' });
      expect(run.after).toEqual(suite.reference.formats.regex.tokenIds);
      expect(suite.browser.foreignRequests).toEqual([]);
    },
  );

  it('a Worker model makes the same required and named tool calls as the node backend, token for token', async () => {
    const page = await openTestPage(suite.browser, suite.plain);
    const run = await page.evaluate(runToolsInWorker, { calls: TOOL_CALLS, messages: TOOL_MESSAGES });
    await page.close();
    expect(run).toEqual(suite.reference.tools);
    for (const output of Object.values(run)) {
      expect(output.finishReason).toBe('tool-calls');
      expect(output.calls).toHaveLength(1);
    }
    expect(run.named.calls[0]).toMatchObject({ name: 'get_weather' });
  });
});
