import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ChatMessage, LocalLanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunLog, recordingBackend } from '../engine/helpers.js';
import { ensureModel } from '../fixtures/models.js';

const GREEDY = { maxNewTokens: 8, temperature: 0 } as const;
const QUESTIONS = [
  'Hello, who are you?',
  'What is the capital of France?',
  'And of Spain?',
  'Tell me a joke.',
  'Why is the sky blue?',
  'Count to five.',
  'What did I ask first?',
  'Name a colour.',
  'Thank you!',
  'Goodbye.',
];

let dir: string;
let model: LocalLanguageModel;
/** The same model with no cache reuse at all: every call prefills the whole conversation. */
let scratch: LocalLanguageModel;

beforeAll(async () => {
  dir = await ensureModel('tiny');
  model = await createModel(dir);
  scratch = await createModel(dir, { prefixCache: false });
});
afterAll(async () => {
  await model?.dispose();
  await scratch?.dispose();
});

/** What recomputing the conversation from scratch generates for the next user message. */
async function recompute(messages: readonly ChatMessage[], content: string) {
  return scratch.generate([...messages, { role: 'user', content }], GREEDY);
}

describe('chat sessions', () => {
  it('10 greedy turns equal recomputing the conversation from scratch, and reuse their prefix', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    try {
      for (const [turn, question] of QUESTIONS.entries()) {
        const before = chat.messages;
        const fresh = await recompute(before, question);
        const reply = await chat.send(question, GREEDY);
        expect(reply.tokenIds, `turn ${turn + 1}`).toEqual(fresh.tokenIds);
        expect(reply.usage.promptTokens).toBe(fresh.usage.promptTokens);
        if (turn > 0) {
          // At least the whole conversation before the last reply was reused.
          const earlier = await model.countTokens(before.slice(0, -1));
          expect(reply.usage.cachedPromptTokens).toBeGreaterThanOrEqual(earlier - 1);
        }
      }
      expect(chat.messages).toHaveLength(1 + 2 * QUESTIONS.length);
      expect(chat.messages.at(-1)?.role).toBe('assistant');
    } finally {
      await chat.dispose();
    }
  });

  it('streams a turn, and a stream left early keeps what was generated', async () => {
    const chat = model.createChat();
    try {
      let text = '';
      for await (const chunk of chat.stream(QUESTIONS[0], GREEDY)) text += chunk.text;
      expect(chat.messages.at(-1)).toEqual({ role: 'assistant', content: text });
      const stream = chat.stream(QUESTIONS[1], { ...GREEDY, maxNewTokens: 20 });
      let seen = 0;
      for await (const _ of stream) if (++seen === 3) break;
      const result = await stream.result;
      expect(result.finishReason).toBe('cancelled');
      expect(result.tokenIds).toHaveLength(3);
      expect(chat.messages.at(-1)).toEqual({ role: 'assistant', content: result.text });
    } finally {
      await chat.dispose();
    }
  });

  it('an edited early message is found by comparing tokens, not assumed', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    try {
      for (const question of QUESTIONS.slice(0, 3)) await chat.send(question, GREEDY);
      const edited = chat.messages.map((m, i) => (i === 1 ? { ...m, content: 'Hi, what are you?' } : m));
      chat.setMessages(edited);
      const fresh = await recompute(edited, QUESTIONS[3]);
      const reply = await chat.send(QUESTIONS[3], GREEDY);
      expect(reply.tokenIds).toEqual(fresh.tokenIds);
      // Only the system message (and the template's lead-in) can be reused.
      const system = await model.countTokens([edited[0]]);
      expect(reply.usage.cachedPromptTokens).toBeLessThan(system + 8);
      expect(reply.usage.cachedPromptTokens).toBeGreaterThan(0);
    } finally {
      await chat.dispose();
    }
  });

  it('a failed or aborted turn leaves the chat as it was', async () => {
    const chat = model.createChat();
    try {
      await chat.send(QUESTIONS[0], GREEDY);
      const before = chat.messages;
      const controller = new AbortController();
      controller.abort();
      await expect(chat.send(QUESTIONS[1], { ...GREEDY, signal: controller.signal })).rejects.toMatchObject({
        code: 'ABORTED',
      });
      await expect(chat.send(QUESTIONS[1], { temperature: -1 })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      });
      expect(chat.messages).toEqual(before);
      const fresh = await recompute(before, QUESTIONS[1]);
      expect((await chat.send(QUESTIONS[1], GREEDY)).tokenIds).toEqual(fresh.tokenIds);
    } finally {
      await chat.dispose();
    }
  });

  it('fork gives independent continuations', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    try {
      await chat.send(QUESTIONS[0], GREEDY);
      const fork = await chat.fork();
      const a = await chat.send(QUESTIONS[1], GREEDY);
      const b = await fork.send(QUESTIONS[2], GREEDY);
      expect(a.tokenIds).toEqual((await recompute(fork.messages.slice(0, 3), QUESTIONS[1])).tokenIds);
      expect(b.tokenIds).toEqual((await recompute(chat.messages.slice(0, 3), QUESTIONS[2])).tokenIds);
      expect(b.usage.cachedPromptTokens).toBeGreaterThan(0);
      expect(chat.messages[3].content).toBe(QUESTIONS[1]);
      expect(fork.messages[3].content).toBe(QUESTIONS[2]);
      await fork.dispose();
    } finally {
      await chat.dispose();
    }
  });

  it('save, then restore in a new process, continues exactly as an uninterrupted chat', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    const tmp = mkdtempSync(join(tmpdir(), 'slmkit-chat-'));
    try {
      for (const question of QUESTIONS.slice(0, 3)) await chat.send(question, GREEDY);
      const file = join(tmp, 'chat.snapshot');
      writeFileSync(file, await chat.save());
      const uninterrupted = await chat.send(QUESTIONS[3], GREEDY);
      const child = await runChild(['chat', file, QUESTIONS[3]]);
      expect(child.tokenIds).toEqual(uninterrupted.tokenIds);
      expect(child.cached).toBe(uninterrupted.usage.cachedPromptTokens);

      const restored = await model.restoreChat(await chat.save());
      expect(restored.messages).toEqual(chat.messages);
      await restored.dispose();
    } finally {
      await chat.dispose();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a snapshot of a sequence is not a chat snapshot', async () => {
    const sequence = model.createSequence();
    await model.generate('Hello', { ...GREEDY, sequence });
    await expect(model.restoreChat(await sequence.save())).rejects.toMatchObject({
      code: 'INVALID_SNAPSHOT',
      message: expect.stringMatching(/of a sequence, not of a chat/),
    });
    await sequence.dispose();
  });
});

describe('context policies', () => {
  // The tiny model with a 384-token window, filled by a few long turns; every run recorded in `log`.
  let model: LocalLanguageModel;
  let scratch: LocalLanguageModel;
  const log: RunLog = { inputIds: [], resident: [], hostOutputs: 0 };
  beforeAll(async () => {
    const small = await ensureModel({ name: 'tiny-384', maxPositionEmbeddings: 384 });
    model = await createModel(small, { backend: recordingBackend(log) });
    scratch = await createModel(small, { prefixCache: false });
  });
  afterAll(async () => {
    await model?.dispose();
    await scratch?.dispose();
  });
  const long = (i: number) => `Turn ${i}: ${'tell me more about the history of the world '.repeat(8)}`;

  async function fill(policy: 'error' | 'drop-oldest') {
    const chat = model.createChat({ system: 'You are terse.', contextPolicy: policy });
    const window = model.config.contextLength;
    let turns = 0;
    while (
      (await model.countTokens([...chat.messages, { role: 'user', content: long(turns) }])) + 8 <=
      window
    ) {
      await chat.send(long(turns++), GREEDY);
    }
    return { chat, turns };
  }

  it("'error' refuses a turn that does not fit before any work, and changes nothing", async () => {
    const { chat, turns } = await fill('error');
    try {
      const before = chat.messages;
      const [runs, resident] = [log.inputIds.length, log.resident.length];
      const alive = log.resident.filter((r) => !r.disposed);
      expect(alive.length).toBeGreaterThan(0);
      await expect(chat.send(long(turns), GREEDY)).rejects.toMatchObject({
        code: 'CONTEXT_OVERFLOW',
        message: expect.stringMatching(/context window is \d+/),
      });
      expect(chat.messages).toEqual(before);
      // No run was asked for, and the caches alive before (the chat's) are all still alive.
      expect(log.inputIds.length).toBe(runs);
      expect(log.resident.length).toBe(resident);
      expect(alive.filter((r) => r.disposed)).toEqual([]);
    } finally {
      await chat.dispose();
    }
  });

  it("'drop-oldest' drops whole oldest turns, keeps the system message, and equals a fresh run", async () => {
    const { chat, turns } = await fill('drop-oldest');
    try {
      const before = chat.messages;
      const reply = await chat.send(long(turns), GREEDY);
      const after = chat.messages;
      expect(after[0]).toEqual({ role: 'system', content: 'You are terse.' });
      // Whole turns were dropped from the front: what is left is a suffix of the old conversation.
      const kept = after.slice(1, -2);
      expect(kept.length % 2).toBe(0);
      expect(kept.length).toBeLessThan(before.length - 1);
      expect(before.slice(before.length - kept.length)).toEqual(kept);
      expect(after.at(-2)).toEqual({ role: 'user', content: long(turns) });
      expect((await model.countTokens(after.slice(0, -1))) + 8).toBeLessThanOrEqual(
        model.config.contextLength,
      );
      const fresh = await scratch.generate(after.slice(0, -1), GREEDY);
      expect(reply.tokenIds).toEqual(fresh.tokenIds);
    } finally {
      await chat.dispose();
    }
  });

  it('a policy function chooses the messages; what it returns must fit', async () => {
    const seen: number[] = [];
    const chat = model.createChat({
      system: 'S',
      contextPolicy: (messages, info) => {
        seen.push(info.promptTokens);
        return [messages[0], messages[messages.length - 1]];
      },
    });
    try {
      const huge = 'word '.repeat(model.config.contextLength);
      chat.setMessages([
        { role: 'system', content: 'S' },
        { role: 'user', content: huge },
        { role: 'assistant', content: 'ok' },
      ]);
      const reply = await chat.send('Short question?', GREEDY);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeGreaterThan(model.config.contextLength);
      expect(chat.messages.map((m) => m.content)).toEqual(['S', 'Short question?', reply.text]);

      const stubborn = model.createChat({ contextPolicy: (messages) => messages });
      stubborn.setMessages([
        { role: 'user', content: huge },
        { role: 'assistant', content: 'ok' },
      ]);
      await expect(stubborn.send('Hi', GREEDY)).rejects.toMatchObject({
        code: 'CONTEXT_OVERFLOW',
        message: expect.stringMatching(/contextPolicy function kept/),
      });
      await stubborn.dispose();
    } finally {
      await chat.dispose();
    }
  });
});

describe('persisted prefixes', () => {
  it('a prefix saved by one process is loaded, not recomputed, by the next, with the same tokens', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-prefix-'));
    const profile = `User profile: ${'likes hiking, tea and long novels; lives in Oslo; '.repeat(6)}`;
    const question = 'Question: what should I do this weekend?';
    try {
      const first = await runChild(['prefix', cacheDir, profile, question]);
      expect(first.source).toBe('computed');
      const saved = readdirSync(join(cacheDir, 'slmkit-state'), { recursive: true }).filter((f) =>
        String(f).endsWith('.snapshot'),
      );
      expect(saved).toHaveLength(1);
      expect(statSync(join(cacheDir, 'slmkit-state', String(saved[0]))).size).toBeGreaterThan(0);
      const second = await runChild(['prefix', cacheDir, profile, question]);
      expect(second.source).toBe('storage');
      const profileTokens = await model.countTokens(profile);
      expect(second.cached).toBeGreaterThanOrEqual(profileTokens - 1);
      const plain = await scratch.generate(profile + question, GREEDY);
      expect(second.tokenIds).toEqual(plain.tokenIds);
      expect(first.tokenIds).toEqual(plain.tokenIds);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('a pinned prefix is reused in process and freed when its last handle is released', async () => {
    const log: RunLog = { inputIds: [], resident: [], hostOutputs: 0 };
    const local = await createModel(dir, { prefixCache: false, backend: recordingBackend(log) });
    const alive = () => log.resident.filter((r) => !r.disposed);
    /** The input_ids dims of the first run `generate` asks for. */
    const firstRun = async (prompt: string) => {
      const from = log.inputIds.length;
      const result = await local.generate(prompt, GREEDY);
      return { result, run: log.inputIds[from] };
    };
    try {
      const profile = 'The user is a gardener who likes tomatoes. ';
      const question = `${profile}What should I plant?`;
      const prefix = await local.cachePrefix(profile);
      expect(prefix.source).toBe('computed');
      // What the session holds now is the pinned prefix's cache: keys and values of every layer.
      const pinned = alive();
      expect(pinned).toHaveLength(2 * local.config.numLayers);
      const runs = log.inputIds.length;
      const again = await local.cachePrefix(profile);
      expect(again.source).toBe('memory');
      expect(log.inputIds.length).toBe(runs);
      const { result: a, run } = await firstRun(question);
      // The prefix's last token may merge with the text after it ("▁" + "What"), so one can differ.
      expect(a.usage.cachedPromptTokens).toBeGreaterThanOrEqual(prefix.tokenCount - 1);
      // The prefill ran only the tokens after the reused ones.
      expect(run).toEqual([1, a.usage.promptTokens - a.usage.cachedPromptTokens]);
      // Its copy of the prefix was freed with the call; the pinned cache stays.
      expect(alive().filter((r) => !pinned.includes(r))).toEqual([]);
      expect(pinned.filter((r) => r.disposed)).toEqual([]);
      // Releasing one handle (twice: the second does nothing) leaves the other's hold.
      await prefix.release();
      await prefix.release();
      expect(pinned.filter((r) => r.disposed)).toEqual([]);
      const held = await firstRun(question);
      expect(held.result.usage.cachedPromptTokens).toBe(a.usage.cachedPromptTokens);
      expect(held.run).toEqual(run);
      await again.release();
      // The last handle frees the pinned cache: nothing is left on the session.
      expect(pinned.filter((r) => !r.disposed)).toEqual([]);
      expect(alive()).toEqual([]);
      const { result: b, run: whole } = await firstRun(question);
      expect(b.usage.cachedPromptTokens).toBe(0);
      expect(whole).toEqual([1, b.usage.promptTokens]);
      expect(b.tokenIds).toEqual(a.tokenIds);
      await expect(
        local.cachePrefix(profile, { persist: true, signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({
        code: 'ABORTED',
      });
    } finally {
      await local.dispose();
    }
  });
});

async function runChild(args: string[]): Promise<{ tokenIds: number[]; cached: number; source?: string }> {
  const script = fileURLToPath(new URL('./chat-process.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, dir, ...args], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  return JSON.parse(stdout);
}
