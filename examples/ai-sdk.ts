// The Vercel AI SDK on a slmkit model (docs/ai-sdk.md): generateText, streamText with usage,
// structured output with a zod schema, and a tool loop.
//   npx tsx examples/ai-sdk.ts [model-folder]
// (default: the project's generated tiny model with Qwen3's tokenizer and chat template: its random
// weights write nonsense, but the object and the tool call below are valid: slmkit constrains them).
import { slmkit } from '@slmkit/ai-sdk';
import { createModel } from '@slmkit/node';
import { generateText, Output, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { ensureModel } from '../test/fixtures/models.js';

const model = await createModel(process.argv[2] ?? (await ensureModel({ tokenizer: 'qwen3' })));
const local = slmkit(model);

// 1. generateText: text, finish reason, token counts.
const { text, finishReason, usage } = await generateText({
  model: local,
  instructions: 'You are terse.',
  prompt: 'Name a colour.',
  maxOutputTokens: 12,
  temperature: 0,
});
console.log(
  `generateText: [${finishReason}] ${JSON.stringify(text)} (${usage.inputTokens} + ${usage.outputTokens} tokens)`,
);

// 2. streamText: the same prompt again reads its prefix from slmkit's cache (usage cacheRead).
const stream = streamText({
  model: local,
  instructions: 'You are terse.',
  prompt: 'Name a colour.',
  maxOutputTokens: 12,
  temperature: 0,
});
let streamed = '';
for await (const delta of stream.textStream) streamed += delta;
const streamedUsage = await stream.usage;
console.log(
  `streamText: same text: ${streamed === text}, cached prompt tokens: ${streamedUsage.inputTokenDetails.cacheReadTokens} of ${streamedUsage.inputTokens}`,
);

// 3. Structured output: the object always matches the schema.
const city = z.object({ city: z.string().max(12), population: z.number().int().min(0).max(99) });
const { output } = await generateText({
  model: local,
  prompt: 'A city as JSON:',
  maxOutputTokens: 60,
  output: Output.object({ schema: city }),
});
console.log(`object: ${JSON.stringify(output)}, valid: ${city.safeParse(output).success}`);

// 4. Tools: a required call, the tool runs, then the model answers with its result in view.
const result = await generateText({
  model: local,
  prompt: 'Weather in Oslo?',
  tools: {
    get_weather: tool({
      description: 'Current weather in a city',
      inputSchema: z.object({ city: z.string().max(10) }),
      execute: async ({ city }) => ({ city, tempC: 21, sky: 'clear' }),
    }),
  },
  toolChoice: 'required',
  prepareStep: ({ stepNumber }) => (stepNumber === 1 ? { toolChoice: 'none' } : undefined),
  stopWhen: stepCountIs(2),
  maxOutputTokens: 40,
  temperature: 0,
});
const [call] = result.steps[0].toolCalls;
console.log(
  `tool call: ${call.toolName}(${JSON.stringify(call.input)}) -> ${JSON.stringify(result.steps[0].toolResults[0].output)}`,
);
console.log(`answer: [${result.finishReason}] ${JSON.stringify(result.text)}`);

await model.dispose();
