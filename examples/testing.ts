// Testing your own code against slmkit, with no model to download:
//   npx tsx examples/testing.ts
// createTestModel() from @slmkit/core/testing is a real model: a tiny Llama whose weights come from
// a seed, computed in TypeScript (no ONNX Runtime, no files, no network; Node or a browser). Its
// text is gibberish, but every call runs the same code as with a downloaded model, in milliseconds,
// and gives the same tokens every run. Put the same lines in your vitest / node:test / jest tests.
import assert from 'node:assert/strict';
import type { LanguageModel, LogitsProcessor } from '@slmkit/core';
import { createTestModel } from '@slmkit/core/testing';

// The code under test: your own function, written against the LanguageModel interface.
/** Streams a reply to `question` into `onText`; stops after `maxTokens` tokens. */
async function answer(
  model: LanguageModel,
  question: string,
  onText: (text: string) => void,
  maxTokens = 16,
) {
  const stream = model.stream([{ role: 'user', content: question }], { maxNewTokens: maxTokens });
  for await (const chunk of stream) onText(chunk.text);
  const { text, finishReason, usage } = await stream.result;
  return { text, truncated: finishReason === 'length', tokens: usage.completionTokens };
}

const model = await createTestModel({ seed: 1 });

// 1. What was streamed is what is returned, within the token budget.
let shown = '';
const reply = await answer(model, 'What is the capital of France?', (text) => {
  shown += text;
});
assert.equal(shown, reply.text);
assert.ok(reply.tokens <= 16);
console.log(`ok 1 - streamed ${reply.tokens} tokens, as returned`);

// 2. Deterministic: another model with the same seed gives the same reply, so it can be an expectation.
const twin = await createTestModel({ seed: 1 });
const again = await answer(twin, 'What is the capital of France?', () => {});
assert.equal(again.text, reply.text);
console.log('ok 2 - the same seed gives the same reply');

// 3. A reply your code must handle, forced with a logits processor (the tokenizer is lossless:
//    any text encodes, and decodes back unchanged).
const wanted = model.tokenizer.encode('{"city": "Oslo"}', { addSpecialTokens: false });
const force: LogitsProcessor = (logits, { generatedTokenIds }) => {
  logits.fill(Number.NEGATIVE_INFINITY);
  logits[wanted[generatedTokenIds.length]] = 0;
};
const forced = await model.generate('Where do I live?', {
  maxNewTokens: wanted.length,
  logitsProcessors: [force],
});
assert.deepEqual(JSON.parse(forced.text), { city: 'Oslo' });
console.log(`ok 3 - forced reply ${forced.text}`);

// 4. A small context window, to test what your chat does when a conversation outgrows it.
const small = await createTestModel({ contextLength: 96 });
const chat = small.createChat({ system: 'Be brief.', contextPolicy: 'drop-oldest' });
for (let turn = 1; turn <= 6; turn++) {
  await chat.send(`Turn ${turn}: tell me more.`, { maxNewTokens: 12, eosTokenIds: [] });
}
assert.equal(chat.messages[0].role, 'system');
assert.ok(chat.messages.length < 13);
console.log(`ok 4 - after 6 turns the chat keeps ${chat.messages.length} of 13 messages`);

await chat.dispose();
for (const m of [model, twin, small]) await m.dispose();
