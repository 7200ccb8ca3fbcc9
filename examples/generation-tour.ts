// A tour of the generation API, runnable against any model folder:
//   npx tsx examples/generation-tour.ts [model-folder]
// (default: the project's generated tiny model, whose random weights write gibberish).
import { type LogitsProcessor, type LogitsStage, SlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { ensureModel } from '../test/fixtures/models.js';

const model = await createModel(process.argv[2] ?? (await ensureModel('tiny')));
console.log(
  `${model.config.modelType}: ${model.config.numLayers} layers, context ${model.config.contextLength}`,
);

// 1. Plain text, greedy (temperature 0), with a stop string.
const greedy = await model.generate('The capital of France is', {
  maxNewTokens: 20,
  temperature: 0,
  stop: ['\n'],
});
console.log('greedy:', JSON.stringify(greedy.text), greedy.finishReason, greedy.usage);

// 2. Chat messages through the model's own template; seeded sampling is reproducible.
const messages = [{ role: 'user', content: 'Name three colours.' }];
console.log('prompt as the model sees it:', JSON.stringify(await model.applyChatTemplate(messages)));
const sampling = { maxNewTokens: 16, temperature: 0.8, topK: 50, topP: 0.9, minP: 0.05, seed: 7 };
const a = await model.generate(messages, sampling);
const b = await model.generate(messages, sampling);
console.log('same seed, same tokens:', a.tokenIds.join() === b.tokenIds.join());

// 3. Streaming; breaking out of the loop stops generation.
const stream = model.stream('Once upon a time', { maxNewTokens: 50 });
let pieces = 0;
for await (const chunk of stream) {
  process.stdout.write(chunk.text);
  if (++pieces === 10) break;
}
console.log('\nstream ended:', (await stream.result).finishReason);

// 4. A batch of prompts (left-padded, one run per step for all of them).
const batch = await model.generate(['Hello', 'The quick brown fox'], { maxNewTokens: 8 });
console.log(
  'batch:',
  batch.map((r) => r.tokenIds.length),
);

// 5. Token ids in, token ids out; the tokenizer is the model's own. Text that continues a prompt
//    is encoded without the tokenizer's special tokens (BOS).
const ids = [
  ...(await model.encode('Hello')),
  ...(await model.encode(' world', { addSpecialTokens: false })),
];
const fromIds = await model.generate({ inputIds: ids }, { maxNewTokens: 4 });
console.log('ids:', ids, '→', fromIds.tokenIds, await model.decode(fromIds.tokenIds));

// 6. Penalties, bias and your own logits processor.
const noRepeats: LogitsProcessor = (logits, { generatedTokenIds }) => {
  for (const id of generatedTokenIds) logits[id] = Number.NEGATIVE_INFINITY;
};
const shaped = await model.generate('Once upon a time', {
  maxNewTokens: 12,
  repetitionPenalty: 1.2,
  presencePenalty: 0.5,
  frequencyPenalty: 0.2,
  logitBias: { [model.config.eosTokenIds[0]]: -5 },
  logitsProcessors: [noRepeats],
});
console.log('no token twice:', new Set(shaped.tokenIds).size === shaped.tokenIds.length);

// A stateful stage sees each chosen token once (accept), and is reset before each call.
const counts = new Map<number, number>();
const atMostTwice: LogitsStage = {
  process(logits) {
    for (const [id, n] of counts) if (n >= 2) logits[id] = Number.NEGATIVE_INFINITY;
  },
  accept(id) {
    counts.set(id, (counts.get(id) ?? 0) + 1);
  },
  rollback() {},
  reset() {
    counts.clear();
  },
};
const capped = await model.generate('Once upon a time', {
  maxNewTokens: 24,
  logitsProcessors: [atMostTwice],
});
console.log('no token thrice:', [...counts.values()].every((n) => n <= 2) && capped.tokenIds.length === 24);

// 7. Log-probabilities of the chosen tokens and the likeliest alternatives at each step.
const scored = await model.generate('The sky is', {
  maxNewTokens: 3,
  temperature: 0,
  logprobs: true,
  topLogprobs: 2,
});
const first = scored.logprobs![0];
console.log(
  'logprobs:',
  scored.logprobs!.length,
  'steps; greedy picks the likeliest:',
  first.tokenId === first.topLogprobs[0].tokenId,
);

// 8. Abort with a signal; errors are SlmkitError with a code, and the model stays usable.
const controller = new AbortController();
setTimeout(() => controller.abort(), 5);
try {
  await model.generate('Once upon a time', { maxNewTokens: 10_000, signal: controller.signal });
} catch (error) {
  if (error instanceof SlmkitError) console.log('aborted:', error.code);
}
try {
  await model.generate('Hi', { topP: 2 });
} catch (error) {
  if (error instanceof SlmkitError) console.log(`${error.code}: ${error.message}`);
}

await model.dispose();
