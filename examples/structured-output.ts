// Structured output with responseFormat (docs/structured-output.md), runnable against any model folder:
//   npx tsx examples/structured-output.ts [model-folder]
// (default: the project's generated tiny model: its random weights know no JSON, so every valid
// output below is the constraint's doing).
import { isSlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { ensureModel } from '../test/fixtures/models.js';

const model = await createModel(process.argv[2] ?? (await ensureModel('tiny')));

// 1. JSON valid against a schema: `object` is the parsed value once the output is complete.
const schema = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 12 },
    population: { type: 'integer', minimum: 1, maximum: 999 },
    capital: { type: 'boolean' },
  },
  required: ['city', 'population', 'capital'],
  additionalProperties: false,
};
const city = await model.generate('Describe Oslo as JSON:', {
  responseFormat: { type: 'json_schema', schema },
  maxNewTokens: 60,
});
console.log('json_schema:', city.finishReason, city.text);
const { population } = city.object as { population: number };
console.log('population in [1, 999]:', Number.isInteger(population) && population >= 1 && population <= 999);

// 2. A regular expression over the whole output.
const date = await model.generate('Today is', {
  responseFormat: { type: 'regex', pattern: '20[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]' },
  temperature: 0.8,
  seed: 3,
});
console.log('regex:', date.finishReason, date.text);

// 3. A grammar (xgrammar's EBNF, start rule `root`).
const grammar = 'root ::= colour (", " colour){1,2} "."\ncolour ::= "red" | "green" | "blue"';
const colours = await model.generate('Name some colours:', { responseFormat: { type: 'grammar', grammar } });
console.log('grammar:', colours.finishReason, colours.text);

// 4. Chat turns take it per turn; a turn without it is free text again.
const chat = model.createChat();
const answer = await chat.send('Pick a number.', {
  responseFormat: { type: 'json_schema', schema: { type: 'integer', minimum: 1, maximum: 10 } },
});
const free = await chat.send('Why?', { maxNewTokens: 8 });
console.log('chat:', answer.object, '/ next turn, unconstrained:', free.finishReason);
await chat.dispose();

// 5. What cannot be kept exactly is refused before anything runs, never silently ignored.
try {
  await model.generate('Price:', {
    responseFormat: { type: 'json_schema', schema: { type: 'number', maximum: 10 } },
  });
} catch (error) {
  if (!isSlmkitError(error)) throw error;
  console.log(`${error.code}: ${error.message}`);
}

await model.dispose();
