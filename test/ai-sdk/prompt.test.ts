// The AI SDK's prompt (LanguageModelV4Prompt) as slmkit chat messages, exactly: every role, tool
// calls with their arguments as objects, each kind of tool result output as the text the model
// reads, and the parts slmkit refuses or leaves out.
import type { LanguageModelV4Prompt, SharedV4Warning } from '@ai-sdk/provider';
import { SlmkitError } from '@slmkit/core';
import { describe, expect, it } from 'vitest';
import { convertPrompt } from '../../packages/ai-sdk/src/convert-prompt.js';
import { mapFinishReason, mapUsage } from '../../packages/ai-sdk/src/language-model.js';

const result = (toolCallId: string, output: unknown) =>
  ({ type: 'tool-result', toolCallId, toolName: 'lookup', output }) as const;

describe('convertPrompt', () => {
  it('maps every role and every tool result output', () => {
    const prompt = [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look ' },
          { type: 'text', text: 'it up.' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'hmm' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool-call', toolCallId: 'c1', toolName: 'lookup', input: { q: 'a', n: [1, 2] } },
          { type: 'tool-call', toolCallId: 'c2', toolName: 'lookup', input: '{"q":"b"}' },
        ],
      },
      {
        role: 'tool',
        content: [
          result('c1', { type: 'text', value: 'plain' }),
          result('c2', { type: 'json', value: { ok: true, list: [1, 'x'] } }),
          result('c3', { type: 'error-text', value: 'boom' }),
          result('c4', { type: 'error-json', value: { error: 'bad' } }),
          result('c5', { type: 'execution-denied' }),
          result('c6', { type: 'execution-denied', reason: 'Not now.' }),
          result('c7', {
            type: 'content',
            value: [
              { type: 'text', text: 'one' },
              { type: 'text', text: 'two' },
            ],
          }),
          { type: 'tool-approval-response', approvalId: 'a1', approved: true },
        ],
      },
      { role: 'assistant', content: [] },
    ] as LanguageModelV4Prompt;
    const warnings: SharedV4Warning[] = [];
    const tool = (id: string, content: string) => ({
      role: 'tool',
      tool_call_id: id,
      name: 'lookup',
      content,
    });
    expect(convertPrompt(prompt, warnings)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Look it up.' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'lookup', arguments: { q: 'a', n: [1, 2] } } },
          { id: 'c2', type: 'function', function: { name: 'lookup', arguments: { q: 'b' } } },
        ],
      },
      tool('c1', 'plain'),
      tool('c2', '{"ok":true,"list":[1,"x"]}'),
      tool('c3', 'boom'),
      tool('c4', '{"error":"bad"}'),
      tool('c5', 'Tool call execution denied.'),
      tool('c6', 'Not now.'),
      tool('c7', 'one\ntwo'),
      { role: 'assistant', content: '' },
    ]);
    expect(warnings).toEqual([
      {
        type: 'unsupported',
        feature: 'reasoning parts in the prompt',
        details:
          "Earlier assistant turns' reasoning parts were left out; slmkit returns a model's reasoning as part of its text.",
      },
    ]);
  });

  it('refuses files, in messages and in tool results, with INVALID_INPUT', () => {
    const file = {
      type: 'file',
      mediaType: 'application/pdf',
      data: { type: 'data', data: 'JVBERi0=' },
    } as const;
    const refused = (prompt: unknown) => {
      try {
        convertPrompt(prompt as LanguageModelV4Prompt, []);
      } catch (e) {
        return e instanceof SlmkitError ? `${e.code}: ${e.message}` : e;
      }
      return 'accepted';
    };
    expect(refused([{ role: 'user', content: [file] }])).toBe(
      "INVALID_INPUT: prompt message 0 (user) has a file part (application/pdf): slmkit's models read text only. Put the file's text in a text part instead.",
    );
    expect(
      refused([
        { role: 'tool', content: [result('c', { type: 'content', value: [{ ...file, data: file.data }] })] },
      ]),
    ).toBe(
      "INVALID_INPUT: prompt message 0 (tool) has a tool result with a file part (application/pdf): slmkit's models read text only; return text or JSON from the tool.",
    );
    expect(refused([{ role: 'narrator', content: 'x' }])).toBe(
      'INVALID_INPUT: prompt message 0 has role "narrator": the AI SDK\'s roles are system, user, assistant and tool.',
    );
  });
});

describe('results', () => {
  it("maps slmkit's finish reasons and usage", () => {
    expect(
      ['eos', 'stop', 'length', 'tool-calls', 'cancelled'].map((r) => mapFinishReason(r as never)),
    ).toEqual([
      { unified: 'stop', raw: 'eos' },
      { unified: 'stop', raw: 'stop' },
      { unified: 'length', raw: 'length' },
      { unified: 'tool-calls', raw: 'tool-calls' },
      { unified: 'other', raw: 'cancelled' },
    ]);
    const usage = {
      promptTokens: 30,
      cachedPromptTokens: 24,
      completionTokens: 5,
      timeToFirstTokenMs: 9,
      decodeTokensPerSecond: 80,
      totalMs: 60,
    };
    expect(mapUsage(usage)).toEqual({
      inputTokens: { total: 30, noCache: 6, cacheRead: 24, cacheWrite: undefined },
      outputTokens: { total: 5, text: 5, reasoning: undefined },
      raw: usage,
    });
  });
});
