import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Chat, ChatMessage, GenerationResult, LocalLanguageModel } from '@slmkit/core';
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

/**
 * The test's own account of what a chat's sequence holds, by the rule docs/chat.md states: the
 * first turn is the rendered conversation; each later one is the tokens the model read and
 * generated (the end-of-sequence token aside), then the rendering's text after the reply.
 */
class Transcript {
  /** The ids the chat's sequence holds (a pending last token included). */
  held: number[] = [];
  private last?: GenerationResult;

  /** The prompt ids of the next turn, on `messages` (the conversation so far). */
  async promptFor(messages: readonly ChatMessage[], content: string): Promise<number[]> {
    const rendered = await model.applyChatTemplate([...messages, { role: 'user', content }]);
    if (!this.last) return model.encode(rendered, { addSpecialTokens: false });
    // The reply is the last assistant message: what follows its last occurrence is new.
    const after = rendered.slice(rendered.lastIndexOf(this.last.text) + this.last.text.length);
    return [...this.held, ...(await model.encode(after, { addSpecialTokens: false }))];
  }

  /** Tokens of the prompt the last turn's cache can be reused for: all held but a pending last token. */
  get reusable(): number {
    return this.held.length - (this.last && this.last.finishReason !== 'eos' ? 1 : 0);
  }

  /** Records a turn that ran on `prompt`. */
  record(prompt: number[], reply: GenerationResult): void {
    const generated = reply.finishReason === 'eos' ? reply.tokenIds.slice(0, -1) : reply.tokenIds;
    this.held = [...prompt, ...generated];
    this.last = reply;
  }

  copy(): Transcript {
    return Object.assign(new Transcript(), this);
  }
}

/** Sends `question` on `chat`, recording the turn in `transcript`; returns the reply and its prompt. */
async function sendRecorded(chat: Chat, transcript: Transcript, question: string) {
  const prompt = await transcript.promptFor(chat.messages, question);
  const reply = await chat.send(question, GREEDY);
  transcript.record(prompt, reply);
  return { prompt, reply };
}

/** What a model with no cache generates for `prompt`: what a turn on it must generate. */
function recompute(prompt: number[]) {
  return scratch.generate({ inputIds: prompt }, GREEDY);
}

describe('chat sessions', () => {
  it('10 greedy turns continue from the tokens read and generated: all of them reused, equal to a fresh run', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    const transcript = new Transcript();
    try {
      for (const [turn, question] of QUESTIONS.entries()) {
        const prompt = await transcript.promptFor(chat.messages, question);
        const fresh = await recompute(prompt);
        const reply = await chat.send(question, GREEDY);
        expect(reply.tokenIds, `turn ${turn + 1}`).toEqual(fresh.tokenIds);
        expect(reply.usage.promptTokens).toBe(prompt.length);
        // Nothing the sequence held is cut back and prefilled again.
        expect(reply.usage.cachedPromptTokens, `turn ${turn + 1}`).toBe(transcript.reusable);
        transcript.record(prompt, reply);
      }
      // The tiny model's replies do not survive being rendered and encoded again (its template puts
      // a newline before them; its SentencePiece text drops the leading "▁"), the case this is for:
      // encoding the whole conversation would differ from what the sequence holds.
      const rendered = await model.applyChatTemplate([...chat.messages, { role: 'user', content: 'More?' }]);
      const reencoded = await model.encode(rendered, { addSpecialTokens: false });
      expect(reencoded.slice(0, transcript.held.length)).not.toEqual(transcript.held);
      expect(chat.messages).toHaveLength(1 + 2 * QUESTIONS.length);
      expect(chat.messages.at(-1)?.role).toBe('assistant');
    } finally {
      await chat.dispose();
    }
  });

  it("with history 'text', 10 greedy turns equal recomputing the conversation from scratch, and reuse their prefix", async () => {
    const chat = model.createChat({ system: 'You are terse.', history: 'text' });
    try {
      for (const [turn, question] of QUESTIONS.entries()) {
        const before = chat.messages;
        const fresh = await scratch.generate([...before, { role: 'user', content: question }], GREEDY);
        const reply = await chat.send(question, GREEDY);
        expect(reply.tokenIds, `turn ${turn + 1}`).toEqual(fresh.tokenIds);
        expect(reply.usage.promptTokens).toBe(fresh.usage.promptTokens);
        if (turn > 0) {
          // At least the whole conversation before the last reply was reused.
          const earlier = await model.countTokens(before.slice(0, -1));
          expect(reply.usage.cachedPromptTokens).toBeGreaterThanOrEqual(earlier - 1);
        }
      }
      // A fork keeps the mode: its turns equal recomputing too (the second continues the first).
      const fork = await chat.fork();
      for (const question of QUESTIONS.slice(0, 2)) {
        const fresh = await scratch.generate([...fork.messages, { role: 'user', content: question }], GREEDY);
        expect((await fork.send(question, GREEDY)).tokenIds).toEqual(fresh.tokenIds);
      }
      await fork.dispose();
      expect(() => model.createChat({ history: 'all' as never })).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: expect.stringMatching(/history must be 'tokens' or 'text'.*got "all"/),
        }),
      );
    } finally {
      await chat.dispose();
    }
  });

  it('a turn ended by an end-of-sequence token continues without it: the template writes the end of the turn', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    const transcript = new Transcript();
    try {
      // A token the tiny model generates greedily, first at position k >= 2, made its end of sequence.
      const prompt = await transcript.promptFor(chat.messages, QUESTIONS[0]);
      const probe = (await recompute(prompt)).tokenIds;
      const k = probe.findIndex((id, i) => i >= 2 && probe.indexOf(id) === i);
      const eosTokenIds = [probe[k]];
      const first = await chat.send(QUESTIONS[0], { ...GREEDY, eosTokenIds });
      expect(first.finishReason).toBe('eos');
      expect(first.tokenIds).toEqual(probe.slice(0, k + 1));
      transcript.record(prompt, first);
      const { prompt: next, reply } = await sendRecorded(chat, transcript, QUESTIONS[1]);
      expect(reply.usage.promptTokens).toBe(next.length);
      expect(reply.usage.cachedPromptTokens).toBe(prompt.length + first.tokenIds.length - 1);
      expect(reply.tokenIds).toEqual((await recompute(next)).tokenIds);
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
      // Messages set by the caller are rendered whole: a new transcript's first turn.
      const fresh = await recompute(await new Transcript().promptFor(edited, QUESTIONS[3]));
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
    const transcript = new Transcript();
    try {
      await sendRecorded(chat, transcript, QUESTIONS[0]);
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
      const fresh = await recompute(await transcript.promptFor(before, QUESTIONS[1]));
      expect((await chat.send(QUESTIONS[1], GREEDY)).tokenIds).toEqual(fresh.tokenIds);
    } finally {
      await chat.dispose();
    }
  });

  it('fork gives independent continuations', async () => {
    const chat = model.createChat({ system: 'You are terse.' });
    const transcript = new Transcript();
    try {
      await sendRecorded(chat, transcript, QUESTIONS[0]);
      const fork = await chat.fork();
      const forked = transcript.copy();
      const a = await sendRecorded(chat, transcript, QUESTIONS[1]);
      const b = await sendRecorded(fork, forked, QUESTIONS[2]);
      expect(a.reply.tokenIds).toEqual((await recompute(a.prompt)).tokenIds);
      expect(b.reply.tokenIds).toEqual((await recompute(b.prompt)).tokenIds);
      // The fork continues from the first turn's tokens too: none of them is prefilled again.
      expect(b.reply.usage.cachedPromptTokens).toBe(a.reply.usage.cachedPromptTokens);
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
