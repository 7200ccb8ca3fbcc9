// An OpenAI-compatible server on a model (docs/server.md), called with plain fetch:
//   npx tsx examples/openai-server.ts [model-folder]
// (default: the project's generated tiny model, whose random weights write gibberish). Any OpenAI
// client works the same way with baseURL `${server.url}/v1` and the API key.
import { createModel } from '@slmkit/node';
import { createOpenAIHandler } from '@slmkit/server';
import { serve } from '@slmkit/server/node';
import { ensureModel } from '../test/fixtures/models.js';

const model = await createModel(process.argv[2] ?? (await ensureModel('tiny')));
const apiKey = 'sk-local-example';
const server = await serve(createOpenAIHandler({ models: { tiny: model }, apiKey }), { port: 0 });
console.log(`listening on ${server.url}`);

const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
const messages = [{ role: 'user', content: 'Say hello.' }];

// 1. The models the server has.
const models = (await (await fetch(`${server.url}/v1/models`, { headers })).json()) as {
  data: { id: string }[];
};
console.log('models:', models.data.map((m) => m.id).join(', '));

// 2. A chat completion.
const response = await fetch(`${server.url}/v1/chat/completions`, {
  method: 'POST',
  headers,
  body: JSON.stringify({ model: 'tiny', messages, max_tokens: 8, temperature: 0 }),
});
const completion = (await response.json()) as {
  choices: { message: { content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
};
const [choice] = completion.choices;
console.log(
  `chat: [${choice.finish_reason}] ${JSON.stringify(choice.message.content)} (${completion.usage.prompt_tokens} + ${completion.usage.completion_tokens} tokens)`,
);

// 3. The same, streamed as Server-Sent Events, with the usage as a last chunk.
const streamed = await fetch(`${server.url}/v1/chat/completions`, {
  method: 'POST',
  headers,
  body: JSON.stringify({
    model: 'tiny',
    messages,
    max_tokens: 8,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  }),
});
let text = '';
let events = 0;
let buffered = '';
const decoder = new TextDecoder();
const reader = streamed.body!.getReader();
for (let read = await reader.read(); !read.done; read = await reader.read()) {
  buffered += decoder.decode(read.value, { stream: true });
  let end = buffered.indexOf('\n\n');
  while (end >= 0) {
    const data = buffered.slice('data: '.length, end);
    buffered = buffered.slice(end + 2);
    end = buffered.indexOf('\n\n');
    events++;
    if (data === '[DONE]') continue;
    const chunk = JSON.parse(data) as { choices: { delta: { content?: string } }[] };
    text += chunk.choices[0]?.delta.content ?? '';
  }
}
console.log(`stream: ${events} events, same text: ${text === choice.message.content}`);

// 4. Errors come in OpenAI's shape, naming the field.
const bad = await fetch(`${server.url}/v1/chat/completions`, {
  method: 'POST',
  headers,
  body: JSON.stringify({ model: 'tiny', messages, temperature: 'warm' }),
});
const { error } = (await bad.json()) as { error: { message: string; param: string } };
console.log(`${bad.status} ${error.param}: ${error.message}`);

await server.close();
await model.dispose();
