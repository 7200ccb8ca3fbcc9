// The README's main job: stream a generation from a model on this machine, offline.
//
//   npm run demo                          # the bundled tiny model (random weights: the text is gibberish)
//   npm run demo -- ./SmolLM2-135M-Instruct "Write a haiku about the sea."
//
// With no folder given, it builds the project's generated tiny model (a few seconds, once) into
// .cache/models. Any Hugging Face / Optimum ONNX export folder works in its place, as does a hub id
// such as onnx-community/SmolLM2-135M-Instruct where the network allows it.
import { createModel } from '@slmkit/node';
import { ensureModel } from '../test/fixtures/models.js';

const [source = await ensureModel('tiny'), prompt = 'Tell me a story about a lighthouse keeper.'] =
  process.argv.slice(2);

const model = await createModel(source);
process.stdout.write(`model: ${source}\nuser: ${prompt}\nassistant: `);
const stream = model.stream([{ role: 'user', content: prompt }], {
  maxNewTokens: 64,
  temperature: 0.7,
  seed: 42,
});
for await (const chunk of stream) process.stdout.write(chunk.text);
const { usage, finishReason } = await stream.result;
process.stdout.write(
  `\n\n[${finishReason}] prompt ${usage.promptTokens} tokens, ${usage.completionTokens} new tokens, ` +
    `first token after ${usage.timeToFirstTokenMs.toFixed(0)} ms, ${usage.decodeTokensPerSecond.toFixed(1)} tokens/s\n`,
);
await model.dispose();
