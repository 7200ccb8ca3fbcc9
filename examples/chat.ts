// Chat sessions, sequences and saved state, runnable against any model folder:
//   npx tsx examples/chat.ts [model-folder]
// (default: the project's generated tiny model, whose random weights write gibberish).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel } from '@slmkit/node';
import { ensureModel } from '../test/fixtures/models.js';

const folder = process.argv[2] ?? (await ensureModel('tiny'));
// A cache directory of its own, so the saved prefix below starts from nothing.
const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-chat-example-'));
const model = await createModel(folder, { cacheDir });
const turn = { maxNewTokens: 24, temperature: 0 };

// 1. A chat keeps its conversation and its KV cache: each turn prefills only what is new.
const chat = model.createChat({ system: 'You are terse.', contextPolicy: 'drop-oldest' });
process.stdout.write('assistant: ');
for await (const chunk of chat.stream('Hi! Who are you?', turn)) process.stdout.write(chunk.text);
process.stdout.write('\n');
const second = await chat.send('What can you do?', turn);
console.log(`turn 2 reused ${second.usage.cachedPromptTokens} of ${second.usage.promptTokens} prompt tokens`);
console.log('messages:', chat.messages.length);

// 2. Fork: two independent continuations of the same conversation.
const fork = await chat.fork();
const [a, b] = [await chat.send('Say yes.', turn), await fork.send('Say no.', turn)];
console.log('forks differ:', a.text !== b.text || a.tokenIds.join() !== b.tokenIds.join());

// 3. Save and restore (in this process here; the bytes work in another process too).
const saved = await chat.save();
const restored = await model.restoreChat(saved);
const next = await restored.send('Thanks!', turn);
const same = await chat.send('Thanks!', turn);
console.log(
  `snapshot ${saved.byteLength} bytes; restored chat continues the same: ${next.text === same.text}`,
);

// 4. Sequences: the unit under chats, for your own prompt formats.
const sequence = model.createSequence();
await model.generate('Once upon a time', { ...turn, sequence });
const story = await model.generate(`Once upon a time${' there was a cat.'}`, { ...turn, sequence });
console.log(`sequence holds ${sequence.tokenIds.length} tokens; reused ${story.usage.cachedPromptTokens}`);
const copy = await model.restoreSequence(await sequence.save());
await copy.truncate(2);
console.log('truncated copy holds', copy.tokenIds.length, 'tokens');

// 5. A long, fixed prefix (a user profile) prefilled once and saved with the model's cache:
//    later processes load it instead of computing it.
const profile = 'The user lives in Oslo, likes hiking and tea, and reads long novels. ';
const prefix = await model.cachePrefix(profile, { persist: true });
const answer = await model.generate(`${profile}Suggest a weekend plan.`, turn);
console.log(
  `prefix: ${prefix.tokenCount} tokens (${prefix.source}); answer reused ${answer.usage.cachedPromptTokens}`,
);

for (const s of [sequence, copy]) await s.dispose();
for (const c of [chat, fork, restored]) await c.dispose();
await prefix.release();
await model.dispose();
rmSync(cacheDir, { recursive: true, force: true });
