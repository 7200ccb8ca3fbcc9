/**
 * Issue #11: message content as OpenAI-style text parts. Parts render as their texts joined with '\n'
 * (the same prompt, so the same token ids, as the joined string); a chat keeps them as given; a
 * part that is not text is INVALID_INPUT naming the message, the part and its type.
 */
import type { ChatMessage, LocalLanguageModel } from '@slmkit/core';
import { createModel, SlmkitError } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const GREEDY = { maxNewTokens: 8, temperature: 0 } as const;

let model: LocalLanguageModel;
/** What the model generates greedily for 'Hello' before any bad call. */
let baseline: number[];

beforeAll(async () => {
  model = await createModel(await ensureModel('tiny'));
  baseline = (await model.generate('Hello', GREEDY)).tokenIds;
});
afterAll(async () => {
  await model?.dispose();
});

async function expectInvalid(action: () => unknown, text: RegExp): Promise<void> {
  let error: unknown;
  try {
    await action();
  } catch (e) {
    error = e;
  }
  expect(error, `expected SlmkitError INVALID_INPUT, got ${String(error)}`).toBeInstanceOf(SlmkitError);
  expect((error as SlmkitError).code, (error as Error).message).toBe('INVALID_INPUT');
  expect((error as SlmkitError).message).toMatch(text);
}

async function expectUsable(): Promise<void> {
  expect((await model.generate('Hello', GREEDY)).tokenIds).toEqual(baseline);
}

const partsConversation: ChatMessage[] = [
  { role: 'system', content: [{ type: 'text', text: 'Be terse.' }] },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'What is' },
      { type: 'text', text: 'the capital' },
      { type: 'text', text: 'of France?' },
    ],
  },
];
const stringConversation: ChatMessage[] = [
  { role: 'system', content: 'Be terse.' },
  { role: 'user', content: 'What is\nthe capital\nof France?' },
];

describe('text parts render as their texts joined with newlines', () => {
  it('the same prompt, token count and generated ids as the joined string', async () => {
    const rendered = await model.applyChatTemplate(partsConversation);
    expect(rendered).toBe(await model.applyChatTemplate(stringConversation));
    expect(rendered).toContain('What is\nthe capital\nof France?');
    expect(await model.countTokens(partsConversation)).toBe(await model.countTokens(stringConversation));
    const fromParts = await model.generate(partsConversation, GREEDY);
    const fromString = await model.generate(stringConversation, GREEDY);
    expect(fromParts.tokenIds).toEqual(fromString.tokenIds);
    expect(fromParts.usage.promptTokens).toBe(fromString.usage.promptTokens);
  });

  it('an empty parts list is an empty string', async () => {
    expect(await model.applyChatTemplate([{ role: 'user', content: [] }])).toBe(
      await model.applyChatTemplate([{ role: 'user', content: '' }]),
    );
  });

  it('chat.send with a parts message replies as with the string, and the history keeps the parts', async () => {
    const withParts = model.createChat({ messages: [partsConversation[0] as ChatMessage] });
    const withString = model.createChat({ messages: [stringConversation[0] as ChatMessage] });
    const sent = partsConversation[1] as ChatMessage;
    const a = await withParts.send(sent, GREEDY);
    const b = await withString.send(stringConversation[1] as ChatMessage, GREEDY);
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(withParts.messages.slice(0, 2)).toEqual(partsConversation);
    expect(withParts.messages[2]).toEqual({ role: 'assistant', content: a.text });
    // A second turn renders the kept parts again (the continuation matches the re-render).
    const a2 = await withParts.send('And of Spain?', GREEDY);
    const b2 = await withString.send('And of Spain?', GREEDY);
    expect(a2.tokenIds).toEqual(b2.tokenIds);
    // A snapshot keeps them too.
    const restored = await model.restoreChat(await withParts.save());
    expect(restored.messages).toEqual(withParts.messages);
    await Promise.all([withParts.dispose(), withString.dispose(), restored.dispose()]);
  });
});

describe('a part that is not text is INVALID_INPUT naming the message, the part and its type', () => {
  const bad: [string, unknown, RegExp][] = [
    [
      'an image_url part',
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      /\.content\[1\] is a part of type "image_url": slmkit's models take text only/,
    ],
    [
      'an input_audio part',
      { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
      /\.content\[1\] is a part of type "input_audio": slmkit's models take text only/,
    ],
    [
      'a part with no type',
      { text: 'hi' },
      /\.content\[1\] is a part of type undefined: slmkit's models take text only/,
    ],
    [
      'a text part whose text is a number',
      { type: 'text', text: 5 },
      /\.content\[1\] is a part of type "text" whose text is 5, not a string/,
    ],
    [
      'a bare string part',
      'hi',
      /\.content\[1\] must be a \{ type: 'text', text: string \} part; got "hi"\. slmkit's models take text only/,
    ],
    ['a null part', null, /\.content\[1\] must be a \{ type: 'text', text: string \} part; got null/],
  ];
  for (const [name, part, text] of bad) {
    it(`refuses ${name} in generate, applyChatTemplate, countTokens and chat`, async () => {
      const messages = [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Look:' }, part] },
      ] as never as ChatMessage[];
      const at = new RegExp(`^messages\\[1\\]${text.source}`);
      await expectInvalid(() => model.generate(messages, GREEDY), at);
      await expectInvalid(() => model.stream(messages, GREEDY).result, at);
      await expectInvalid(() => model.applyChatTemplate(messages), at);
      await expectInvalid(() => model.countTokens(messages), at);
      await expectInvalid(
        () => model.createChat({ messages }),
        new RegExp(`^options\\.messages\\[1\\]${text.source}`),
      );
      const chat = model.createChat();
      await expectInvalid(
        () => chat.send(messages[1] as ChatMessage, GREEDY),
        new RegExp(`^message${text.source}`),
      );
      expect(() => chat.setMessages(messages)).toThrow(at);
      expect(chat.messages).toEqual([]);
      await chat.dispose();
      await expectUsable();
    });
  }

  it('an unknown role that the template leaves out is still refused (with parts too)', async () => {
    const messages: ChatMessage[] = [
      { role: 'narrator', content: [{ type: 'text', text: 'It was a dark night.' }] },
      { role: 'user', content: 'Hi' },
    ];
    await expectInvalid(
      () => model.generate(messages, GREEDY),
      /messages\[0\] has role "narrator".*chat template/,
    );
    await expectUsable();
  });
});
