// Tool calling (docs/tools.md), runnable against any model folder whose chat template has a tool format:
//   npx tsx examples/tools.ts [model-folder]
// (default: the project's generated tiny model with Qwen3's tokenizer and chat template: its random
// weights know nothing of tools, so every valid call below is the constraint's doing).
import { isSlmkitError, type ToolCall, type ToolDefinition } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { ensureModel } from '../test/fixtures/models.js';

const model = await createModel(process.argv[2] ?? (await ensureModel({ tokenizer: 'qwen3' })));

const tools: ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', minLength: 2, maxLength: 20 },
          unit: { enum: ['celsius', 'fahrenheit'] },
        },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
];

/** The app's own implementation of the tool. */
function runTool(call: ToolCall): string {
  const { city, unit } = call.arguments as { city: string; unit: string };
  return JSON.stringify({ city, temperature: unit === 'celsius' ? 21 : 70, unit });
}

// 1. A chat turn that must call a tool: the call is constrained to the tool's schema.
const chat = model.createChat({ system: 'You answer weather questions.', defaults: { tools } });
const asked = await chat.send('What is the weather in Paris?', { toolChoice: 'required', temperature: 0 });
const [call] = asked.toolCalls ?? [];
console.log('finish:', asked.finishReason, '| call:', call.name, JSON.stringify(call.arguments));

// 2. The tool's result goes back as a 'tool' message; the model answers (tools stay available).
const answer = await chat.send([{ role: 'tool', tool_call_id: call.id, content: runTool(call) }], {
  maxNewTokens: 16,
  temperature: 0,
});
console.log('roles:', chat.messages.map((m) => m.role).join(' → '));
console.log('answer:', answer.finishReason, `(reused ${answer.usage.cachedPromptTokens} prompt tokens)`);

// 3. Streamed: a chunk carries each call as soon as it is complete.
for await (const chunk of model.stream([{ role: 'user', content: 'Weather in Oslo, in fahrenheit?' }], {
  tools,
  toolChoice: { name: 'get_weather' },
  temperature: 0,
})) {
  for (const streamed of chunk.toolCalls ?? [])
    console.log('streamed call:', streamed.name, JSON.stringify(streamed.arguments));
}

// 4. Options that do not fit are refused before anything runs.
try {
  await model.generate('Hi', { tools, toolChoice: { name: 'send_email' } });
} catch (error) {
  if (isSlmkitError(error)) console.log(`${error.code}: ${error.message}`);
}

await chat.dispose();
await model.dispose();
