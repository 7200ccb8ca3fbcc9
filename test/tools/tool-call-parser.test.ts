import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ToolCall, ToolCallError, ToolDefinition } from '../../packages/core/src/spec/tools.js';
import { createToolCallParser } from '../../packages/core/src/tools/tool-call-parser.js';
import { getToolFormat, type ToolFormat } from '../../packages/core/src/tools/tool-format.js';

const tool = (name: string): ToolDefinition => ({
  type: 'function',
  function: { name, parameters: { type: 'object' } },
});
const TOOLS = [
  'get_weather',
  'get_current_temperature',
  'get_temperature_date',
  'searchTool',
  'getOpenIncidentsTool',
  'calculate_final_velocity',
  'calculate_sales_tax',
  'get_product_name_by_PID',
  'search',
  'book_trip',
].map(tool);

const FORMATS: Record<string, ToolFormat> = {
  hermes: getToolFormat('hermes'),
  llama3: getToolFormat('llama3'),
  mistral: getToolFormat('mistral'),
  'mistral-v11': getToolFormat('mistral', { mistralSyntax: 'name-args' }),
  'phi4-mini': getToolFormat('phi4-mini'),
  gemma3: getToolFormat('gemma3'),
};

interface Outcome {
  text: string;
  calls: ToolCall[];
  errors: ToolCallError[];
}

/** Feeds `pieces` to a fresh parser (ids call-1, call-2, …) and gathers everything it gave. */
function run(format: ToolFormat, pieces: readonly string[], tools = TOOLS): Outcome {
  let n = 0;
  const parser = createToolCallParser(format, tools, { createId: () => `call-${++n}` });
  const outcome: Outcome = { text: '', calls: [], errors: [] };
  for (const delta of [...pieces.map((piece) => parser.push(piece)), parser.end()]) {
    outcome.text += delta.text;
    outcome.calls.push(...delta.calls);
    outcome.errors.push(...delta.errors);
  }
  return outcome;
}

/** Splits `text` at the given cut points (sorted, deduplicated, inside the text). */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let at = 0;
  for (const point of points) {
    pieces.push(text.slice(at, point));
    at = point;
  }
  pieces.push(text.slice(at));
  return pieces;
}

const call = (id: number, name: string, args: Record<string, unknown>): ToolCall => ({
  id: `call-${id}`,
  name,
  arguments: args,
});

interface Recorded {
  readonly label: string;
  readonly format: keyof typeof FORMATS;
  readonly output: string;
  readonly text: string;
  readonly calls: readonly ToolCall[];
  readonly errors?: readonly ToolCallError[];
}

/**
 * Outputs written as the models write them. Sources:
 * - hermes: Qwen's function-calling guide (qwen.readthedocs.io, "Function Calling"): parallel calls
 *   `<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "San Francisco, CA, USA"}}\n</tool_call>\n<tool_call>…`;
 *   Qwen3's model card (reasoning in `<think>…</think>` before the answer); SmolLM3's template
 *   (`<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>`) and
 *   model card (the Copenhagen weather example).
 * - llama3: Llama 3.2's template (`{"name": function name, "parameters": dictionary of argument
 *   name and its value}`); vLLM's llama3_json parser (optional `<|python_tag|>`, several calls
 *   joined by `; `); Llama 3.1 also writes a leading `"type": "function"`.
 * - mistral: Mistral 7B v0.3 (`[TOOL_CALLS] [{"name": "get_weather", "arguments": {"location":
 *   "San Francisco, CA", "unit": "fahrenheit"}}]`, as in the dynamo and SGLang parser tests); vLLM's
 *   mistral parser for tokenizers v11+ (`[TOOL_CALLS]add[ARGS]{"a": 3.5, "b": 4}`, one marker per
 *   call), and Mistral Small 3.2's template (`[TOOL_CALLS]name[CALL_ID]id[ARGS]{…}`).
 * - phi4-mini: the Berkeley Function-Calling Leaderboard's Phi handler:
 *   `<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 150, "initial_velocity": 0}}]<|/tool_call|>`,
 *   "often the model will miss the `<|/tool_call|>`", and parallel calls "might not put them in a
 *   list"; Microsoft's Phi-4-mini function-calling sample reads a JSON array.
 * - gemma3: Google's "Function calling with Gemma" guide (`get_product_name_by_PID(PID="807ZPKBL9V")`,
 *   and the JSON variant `{"name": …, "parameters": …}`) and its meme-generator guide (the call in a
 *   ```tool_code block).
 */
const RECORDED: readonly Recorded[] = [
  {
    label: 'hermes: Qwen2.5 parallel calls',
    format: 'hermes',
    output:
      '<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "San Francisco, CA, USA"}}\n</tool_call>\n<tool_call>\n{"name": "get_temperature_date", "arguments": {"location": "San Francisco, CA, USA", "date": "2024-10-01"}}\n</tool_call>',
    text: '\n',
    calls: [
      call(1, 'get_current_temperature', { location: 'San Francisco, CA, USA' }),
      call(2, 'get_temperature_date', { location: 'San Francisco, CA, USA', date: '2024-10-01' }),
    ],
  },
  {
    label: 'hermes: Qwen3 thinks, then calls',
    format: 'hermes',
    output:
      '<think>\nThe user wants the current temperature in Paris. I should use get_current_temperature.\n</think>\n\n<tool_call>\n{"name": "get_current_temperature", "arguments": {"location": "Paris, France"}}\n</tool_call>',
    text: '<think>\nThe user wants the current temperature in Paris. I should use get_current_temperature.\n</think>\n\n',
    calls: [call(1, 'get_current_temperature', { location: 'Paris, France' })],
  },
  {
    label: 'hermes: SmolLM3, a sentence before the call',
    format: 'hermes',
    output:
      'Let me check the weather in Copenhagen.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Copenhagen"}}\n</tool_call>',
    text: 'Let me check the weather in Copenhagen.\n',
    calls: [call(1, 'get_weather', { city: 'Copenhagen' })],
  },
  {
    label: 'hermes: unicode, escaped quotes and backslashes, nested arguments',
    format: 'hermes',
    output:
      '<tool_call>\n{"name": "search", "arguments": {"query": "caf\\u00e9 \\"Z\\u00fcrich\\" 東京 😀", "path": "C:\\\\temp\\\\new", "filters": {"years": [2023, 2024], "exact": true, "range": {"min": -1.5e3, "max": null}}}}\n</tool_call>',
    text: '',
    calls: [
      call(1, 'search', {
        query: 'café "Zürich" 東京 😀',
        path: 'C:\\temp\\new',
        filters: { years: [2023, 2024], exact: true, range: { min: -1500, max: null } },
      }),
    ],
  },
  {
    label: 'hermes: arguments given as a JSON string holding an object',
    format: 'hermes',
    output: '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}\n</tool_call>',
    text: '',
    calls: [call(1, 'get_weather', { city: 'Paris' })],
  },
  {
    label: "hermes: Hermes 2 Pro's Python-dict call",
    format: 'hermes',
    output: "<tool_call>\n{'arguments': {'city': 'Paris'}, 'name': 'get_weather'}\n</tool_call>",
    text: '',
    calls: [call(1, 'get_weather', { city: 'Paris' })],
  },
  {
    label: 'hermes: no call at all, "<" and "<tool" in the text',
    format: 'hermes',
    output: 'Use a < b, and the <tools> tag, and <tool_calls> too.',
    text: 'Use a < b, and the <tools> tag, and <tool_calls> too.',
    calls: [],
  },
  {
    label: 'llama3: one bare JSON call',
    format: 'llama3',
    output: '{"name": "get_weather", "parameters": {"city": "San Francisco", "unit": "celsius"}}',
    text: '',
    calls: [call(1, 'get_weather', { city: 'San Francisco', unit: 'celsius' })],
  },
  {
    label: 'llama3: <|python_tag|> and two calls joined by "; "',
    format: 'llama3',
    output:
      '<|python_tag|>{"name": "searchTool", "parameters": {"query": "latest incidents"}}; {"name": "getOpenIncidentsTool", "parameters": {}}',
    text: '',
    calls: [call(1, 'searchTool', { query: 'latest incidents' }), call(2, 'getOpenIncidentsTool', {})],
  },
  {
    label: 'llama3: Llama 3.1\'s leading "type": "function", nested and unicode arguments',
    format: 'llama3',
    output:
      '{"type": "function", "name": "book_trip", "parameters": {"to": "Zürich", "legs": [{"from": "Oslo", "seats": 2}], "note": "say \\"hi\\""}}',
    text: '',
    calls: [call(1, 'book_trip', { to: 'Zürich', legs: [{ from: 'Oslo', seats: 2 }], note: 'say "hi"' })],
  },
  {
    label: 'llama3: JSON that is not a call is text',
    format: 'llama3',
    output: '{"city": "Oslo", "country": "Norway"}',
    text: '{"city": "Oslo", "country": "Norway"}',
    calls: [],
  },
  {
    label: 'llama3: a plain answer, with braces later on',
    format: 'llama3',
    output: 'The weather in Paris is sunny. In JSON: {"name": "x"}',
    text: 'The weather in Paris is sunny. In JSON: {"name": "x"}',
    calls: [],
  },
  {
    label: 'llama3: a sentence, then <|python_tag|> and the call',
    format: 'llama3',
    output: 'Let me look that up.<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
    text: 'Let me look that up.',
    calls: [call(1, 'get_weather', { city: 'Paris' })],
  },
  {
    label: 'mistral: v0.3 / Nemo, one call',
    format: 'mistral',
    output:
      '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"location": "San Francisco, CA", "unit": "fahrenheit"}}]',
    text: '',
    calls: [call(1, 'get_weather', { location: 'San Francisco, CA', unit: 'fahrenheit' })],
  },
  {
    label: 'mistral: text before, parallel calls in one array, unicode',
    format: 'mistral',
    output:
      'Sure, checking both.[TOOL_CALLS][{"name": "get_weather", "arguments": {"location": "Málaga"}}, {"name": "get_weather", "arguments": {"location": "北京"}}]',
    text: 'Sure, checking both.',
    calls: [call(1, 'get_weather', { location: 'Málaga' }), call(2, 'get_weather', { location: '北京' })],
  },
  {
    label: 'mistral v11: name[ARGS]{…}, twice, one with [CALL_ID]',
    format: 'mistral-v11',
    output:
      '[TOOL_CALLS]get_weather[ARGS]{"location": "Paris", "days": [1, 2]}[TOOL_CALLS]search[CALL_ID]a1B2c3D4e[ARGS]{"query": "\\"quoted\\" ünïcode", "opts": {"deep": {"x": 1}}}',
    text: '',
    calls: [
      call(1, 'get_weather', { location: 'Paris', days: [1, 2] }),
      call(2, 'search', { query: '"quoted" ünïcode', opts: { deep: { x: 1 } } }),
    ],
  },
  {
    label: 'mistral v11: text before the call',
    format: 'mistral-v11',
    output: 'I\'ll look it up.[TOOL_CALLS]get_weather[ARGS]{"location": "Lyon"}',
    text: "I'll look it up.",
    calls: [call(1, 'get_weather', { location: 'Lyon' })],
  },
  {
    label: 'phi4-mini: one call in a list',
    format: 'phi4-mini',
    output:
      '<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 150, "initial_velocity": 0}}]<|/tool_call|>',
    text: '',
    calls: [call(1, 'calculate_final_velocity', { height: 150, initial_velocity: 0 })],
  },
  {
    label: 'phi4-mini: the closing <|/tool_call|> missed at the end of the output',
    format: 'phi4-mini',
    output:
      '<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 150, "initial_velocity": 0}}]',
    text: '',
    calls: [call(1, 'calculate_final_velocity', { height: 150, initial_velocity: 0 })],
  },
  {
    label: 'phi4-mini: parallel calls not in a list, text before',
    format: 'phi4-mini',
    output:
      'I will compute both.<|tool_call|>{"name": "calculate_sales_tax", "arguments": {"purchase_amount": 30.45, "city": "Chicago", "state": "Illinois"}}, {"name": "calculate_sales_tax", "arguments": {"purchase_amount": 52.33, "city": "Sacramento", "state": "California"}}<|/tool_call|>',
    text: 'I will compute both.',
    calls: [
      call(1, 'calculate_sales_tax', { purchase_amount: 30.45, city: 'Chicago', state: 'Illinois' }),
      call(2, 'calculate_sales_tax', { purchase_amount: 52.33, city: 'Sacramento', state: 'California' }),
    ],
  },
  {
    label: 'gemma3: a Python call in a ```tool_code block',
    format: 'gemma3',
    output: '```tool_code\nget_product_name_by_PID(PID="807ZPKBL9V")\n```',
    text: '',
    calls: [call(1, 'get_product_name_by_PID', { PID: '807ZPKBL9V' })],
  },
  {
    label: 'gemma3: the guide\'s JSON variant, with "parameters"',
    format: 'gemma3',
    output: '```tool_code\n{"name": "get_product_name_by_PID", "parameters": {"PID": "807ZPKBL9V"}}\n```',
    text: '',
    calls: [call(1, 'get_product_name_by_PID', { PID: '807ZPKBL9V' })],
  },
  {
    label: 'gemma3: text before, two calls, Python literals, print() around a call',
    format: 'gemma3',
    output:
      "I'll check both cities.\n```tool_code\nget_weather(city='Zürich', days=3, hourly=True, units=None, stops=[\"a\", 'b'], opts={'deep': {'x': -1.5}}, note=\"it's \\\"fine\\\"\\n\")\nprint(get_weather(city=\"東京\"))\n```\nI will report back.",
    text: "I'll check both cities.\n\nI will report back.",
    calls: [
      call(1, 'get_weather', {
        city: 'Zürich',
        days: 3,
        hourly: true,
        units: null,
        stops: ['a', 'b'],
        opts: { deep: { x: -1.5 } },
        note: 'it\'s "fine"\n',
      }),
      call(2, 'get_weather', { city: '東京' }),
    ],
  },
  {
    label: 'gemma3: a ```python block is not a call',
    format: 'gemma3',
    output: 'Here is code:\n```python\nprint(get_weather(city="Paris"))\n```',
    text: 'Here is code:\n```python\nprint(get_weather(city="Paris"))\n```',
    calls: [],
  },
];

/** Malformed calls: each comes back as text, with a ToolCallError saying what is wrong. */
const MALFORMED: readonly Recorded[] = [
  {
    label: 'hermes: cut off mid-JSON',
    format: 'hermes',
    output: 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
    text: 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
        message: "The tool call was cut off: the output ended before its closing '</tool_call>'.",
      },
    ],
  },
  {
    label: 'hermes: complete JSON but no closing marker',
    format: 'hermes',
    output: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n',
    text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n',
        message: "The tool call was cut off: the output ended before its closing '</tool_call>'.",
      },
    ],
  },
  {
    label: 'hermes: not JSON, and a good call after it',
    format: 'hermes',
    output:
      '<tool_call>\nget_weather(city=Paris)\n</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    text: '<tool_call>\nget_weather(city=Paris)\n</tool_call>\n',
    calls: [call(1, 'get_weather', { city: 'Paris' })],
    errors: [
      {
        text: '<tool_call>\nget_weather(city=Paris)\n</tool_call>',
        message: 'The tool call is not valid JSON.',
      },
    ],
  },
  {
    label: 'hermes: unknown tool',
    format: 'hermes',
    output: '<tool_call>\n{"name": "get_wether", "arguments": {}}\n</tool_call>',
    text: '<tool_call>\n{"name": "get_wether", "arguments": {}}\n</tool_call>',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"name": "get_wether", "arguments": {}}\n</tool_call>',
        message: `Unknown tool 'get_wether': the tools are ${TOOLS.map((t) => `'${t.function.name}'`).join(', ')}.`,
      },
    ],
  },
  {
    label: 'hermes: arguments a string that is not JSON',
    format: 'hermes',
    output: '<tool_call>\n{"name": "get_weather", "arguments": "city=Paris"}\n</tool_call>',
    text: '<tool_call>\n{"name": "get_weather", "arguments": "city=Paris"}\n</tool_call>',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"name": "get_weather", "arguments": "city=Paris"}\n</tool_call>',
        message: "The arguments of 'get_weather' are a string that is not a JSON object.",
      },
    ],
  },
  {
    label: 'hermes: arguments not an object',
    format: 'hermes',
    output: '<tool_call>\n{"name": "get_weather", "arguments": ["Paris"]}\n</tool_call>',
    text: '<tool_call>\n{"name": "get_weather", "arguments": ["Paris"]}\n</tool_call>',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"name": "get_weather", "arguments": ["Paris"]}\n</tool_call>',
        message: "The arguments of 'get_weather' are not a JSON object (got an array).",
      },
    ],
  },
  {
    label: 'hermes: missing name',
    format: 'hermes',
    output: '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',
    text: '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',
    calls: [],
    errors: [
      {
        text: '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',
        message: 'The tool call has no name: it needs a "name" string.',
      },
    ],
  },
  {
    label: 'llama3: cut off mid-JSON',
    format: 'llama3',
    output: '{"name": "get_weather", "parameters": {"city": "Pa',
    text: '{"name": "get_weather", "parameters": {"city": "Pa',
    calls: [],
    errors: [
      {
        text: '{"name": "get_weather", "parameters": {"city": "Pa',
        message: 'The tool call was cut off: the output ended inside its JSON.',
      },
    ],
  },
  {
    label: 'llama3: a call that is not JSON (single quotes are Python, not JSON, after the first key)',
    format: 'llama3',
    output: '{"name": \'get_weather\', "parameters": {}}',
    text: '{"name": \'get_weather\', "parameters": {}}',
    calls: [],
    errors: [
      { text: '{"name": \'get_weather\', "parameters": {}}', message: 'The tool call is not valid JSON.' },
    ],
  },
  {
    label: 'llama3: the second of two calls names an unknown tool',
    format: 'llama3',
    output:
      '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_news", "parameters": {}}',
    text: '; {"name": "get_news", "parameters": {}}',
    calls: [call(1, 'get_weather', { city: 'Paris' })],
    errors: [
      {
        text: '; {"name": "get_news", "parameters": {}}',
        message: `Unknown tool 'get_news': the tools are ${TOOLS.map((t) => `'${t.function.name}'`).join(', ')}.`,
      },
    ],
  },
  {
    label: 'mistral: not JSON after [TOOL_CALLS]',
    format: 'mistral',
    output: 'Ok. [TOOL_CALLS] get_weather(location="Paris")',
    text: 'Ok. [TOOL_CALLS] get_weather(location="Paris")',
    calls: [],
    errors: [
      { text: '[TOOL_CALLS] get_weather(location="Paris")', message: 'The tool call is not valid JSON.' },
    ],
  },
  {
    label: 'mistral: cut off inside the array',
    format: 'mistral',
    output: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_wea',
    text: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_wea',
    calls: [],
    errors: [
      {
        text: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_wea',
        message: 'The tool call was cut off: the output ended inside its JSON.',
      },
    ],
  },
  {
    label: 'mistral: one bad call in the array fails the array, naming it',
    format: 'mistral',
    output:
      '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_weather", "arguments": 3}]',
    text: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_weather", "arguments": 3}]',
    calls: [],
    errors: [
      {
        text: '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_weather", "arguments": 3}]',
        message: "Call 2 of 2: The arguments of 'get_weather' are not a JSON object (got a number).",
      },
    ],
  },
  {
    label: 'mistral v11: arguments cut off, after a good call',
    format: 'mistral-v11',
    output: '[TOOL_CALLS]get_weather[ARGS]{"location": "Paris"}[TOOL_CALLS]search[ARGS]{"query": "x',
    text: '[TOOL_CALLS]search[ARGS]{"query": "x',
    calls: [call(1, 'get_weather', { location: 'Paris' })],
    errors: [
      {
        text: '[TOOL_CALLS]search[ARGS]{"query": "x',
        message: 'The tool call was cut off: the output ended inside its JSON.',
      },
    ],
  },
  {
    label: 'mistral v11: unknown tool',
    format: 'mistral-v11',
    output: '[TOOL_CALLS]get_time[ARGS]{}',
    text: '[TOOL_CALLS]get_time[ARGS]{}',
    calls: [],
    errors: [
      {
        text: '[TOOL_CALLS]get_time[ARGS]{}',
        message: `Unknown tool 'get_time': the tools are ${TOOLS.map((t) => `'${t.function.name}'`).join(', ')}.`,
      },
    ],
  },
  {
    label: 'phi4-mini: not JSON',
    format: 'phi4-mini',
    output: '<|tool_call|>calculate_final_velocity(height=150)<|/tool_call|>',
    text: '<|tool_call|>calculate_final_velocity(height=150)<|/tool_call|>',
    calls: [],
    errors: [
      {
        text: '<|tool_call|>calculate_final_velocity(height=150)<|/tool_call|>',
        message: 'The tool call is not valid JSON.',
      },
    ],
  },
  {
    label: 'phi4-mini: cut off mid-JSON without the closing marker',
    format: 'phi4-mini',
    output: '<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 15',
    text: '<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 15',
    calls: [],
    errors: [
      {
        text: '<|tool_call|>[{"name": "calculate_final_velocity", "arguments": {"height": 15',
        message: "The tool call was cut off: the output ended before its closing '<|/tool_call|>'.",
      },
    ],
  },
  {
    label: 'gemma3: a positional argument',
    format: 'gemma3',
    output: '```tool_code\nget_weather("Paris")\n```',
    text: '```tool_code\nget_weather("Paris")\n```',
    calls: [],
    errors: [
      {
        text: '```tool_code\nget_weather("Paris")\n```',
        message:
          'The tool_code block is neither a JSON call nor a Python call: get_weather() has positional arguments; write each as name=value.',
      },
    ],
  },
  {
    label: 'gemma3: a block that is neither JSON nor a call',
    format: 'gemma3',
    output: '```tool_code\nweather = get_weather(city="Paris")\n```',
    text: '```tool_code\nweather = get_weather(city="Paris")\n```',
    calls: [],
    errors: [
      {
        text: '```tool_code\nweather = get_weather(city="Paris")\n```',
        message:
          "The tool_code block is neither a JSON call nor a Python call: 'weather' is a variable, not a value; write a literal at 'weather = ge' (character 1).",
      },
    ],
  },
  {
    label: 'gemma3: the block is never closed',
    format: 'gemma3',
    output: '```tool_code\nget_weather(city="Paris")',
    text: '```tool_code\nget_weather(city="Paris")',
    calls: [],
    errors: [
      {
        text: '```tool_code\nget_weather(city="Paris")',
        message: "The tool call was cut off: the output ended before its closing '```'.",
      },
    ],
  },
];

const ALL = [...RECORDED, ...MALFORMED];

describe('recorded outputs, fed whole', () => {
  for (const recorded of ALL) {
    it(recorded.label, () => {
      const outcome = run(FORMATS[recorded.format], [recorded.output]);
      expect(outcome).toEqual({ text: recorded.text, calls: recorded.calls, errors: recorded.errors ?? [] });
    });
  }
});

describe('the same outputs in every split: same calls, same errors, same text', () => {
  for (const recorded of ALL) {
    it(recorded.label, () => {
      const format = FORMATS[recorded.format];
      const whole = run(format, [recorded.output]);
      expect(run(format, Array.from(recorded.output))).toEqual(whole);
      // One UTF-16 unit at a time (surrogate pairs split) as well.
      expect(run(format, recorded.output.split(''))).toEqual(whole);
      fc.assert(
        fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
          expect(run(format, split(recorded.output, cuts))).toEqual(whole);
        }),
        { seed: 20_251_101, numRuns: 60 },
      );
    });
  }
});

describe('streaming', () => {
  it('a call comes from the push that completes it (closing marker), not before, not only at end()', () => {
    const output = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    const parser = createToolCallParser(FORMATS.hermes, TOOLS, { createId: () => 'x' });
    expect(parser.push(output.slice(0, -1))).toEqual({ text: '', calls: [], errors: [] });
    expect(parser.push(output.slice(-1))).toEqual({
      text: '',
      calls: [{ id: 'x', name: 'get_weather', arguments: { city: 'Paris' } }],
      errors: [],
    });
    expect(parser.end()).toEqual({ text: '', calls: [], errors: [] });
  });

  it('a bare Llama 3 call comes from the push that balances its JSON', () => {
    const output = '{"name": "get_weather", "parameters": {"city": "Paris"}}';
    const parser = createToolCallParser(FORMATS.llama3, TOOLS, { createId: () => 'x' });
    expect(parser.push(output.slice(0, -1)).calls).toEqual([]);
    expect(parser.push(output.slice(-1)).calls).toEqual([
      { id: 'x', name: 'get_weather', arguments: { city: 'Paris' } },
    ]);
  });

  it('a Mistral v11 call comes from the push that closes its arguments', () => {
    const parser = createToolCallParser(FORMATS['mistral-v11'], TOOLS, { createId: () => 'x' });
    expect(parser.push('[TOOL_CALLS]get_weather[ARGS]{"location": "Paris"').calls).toEqual([]);
    expect(parser.push('}').calls).toEqual([
      { id: 'x', name: 'get_weather', arguments: { location: 'Paris' } },
    ]);
  });

  it('holds back text that may open a call, and releases it when it does not', () => {
    const parser = createToolCallParser(FORMATS.hermes, TOOLS);
    expect(parser.push('Hello <tool').text).toBe('Hello ');
    expect(parser.push('s>').text).toBe('<tools>');
    expect(parser.push(' <').text).toBe(' ');
    expect(parser.end().text).toBe('<');
    const gemma = createToolCallParser(FORMATS.gemma3, TOOLS);
    expect(gemma.push('Code:\n``').text).toBe('Code:\n');
    expect(gemma.push('`py').text).toBe('```py');
  });

  it('Llama 3: a leading "{" is held only until its first key shows whether it is a call', () => {
    const parser = createToolCallParser(FORMATS.llama3, TOOLS);
    expect(parser.push('  {').text).toBe('  ');
    expect(parser.push('"ci').text).toBe('');
    expect(parser.push('ty": "Oslo"').text).toBe('{"city": "Oslo"');
    expect(parser.push('}').text).toBe('}');
  });

  it('the parser takes a new output after end()', () => {
    const parser = createToolCallParser(FORMATS.llama3, TOOLS, { createId: () => 'x' });
    parser.push('{"name": "get_weather", "parameters": {"city": "Pa');
    expect(parser.end().errors).toHaveLength(1);
    expect(parser.push('{"name": "get_weather", "parameters": {}}').calls).toEqual([
      { id: 'x', name: 'get_weather', arguments: {} },
    ]);
  });
});

describe('ids', () => {
  const output = (format: string) =>
    format === 'mistral'
      ? '[TOOL_CALLS] [{"name": "get_weather", "arguments": {}}, {"name": "get_weather", "arguments": {}}]'
      : '<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call><tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>';

  it('default: call_ and 24 letters and digits, different for each call', () => {
    const { calls } = createToolCallParser(FORMATS.hermes, TOOLS).push(output('hermes'));
    expect(calls).toHaveLength(2);
    for (const { id } of calls) expect(id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(calls[0].id).not.toBe(calls[1].id);
  });

  it('Mistral: exactly 9 letters and digits, as its templates require', () => {
    const { calls } = createToolCallParser(FORMATS.mistral, TOOLS).push(output('mistral'));
    expect(calls).toHaveLength(2);
    for (const { id } of calls) expect(id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(calls[0].id).not.toBe(calls[1].id);
  });

  it('createId is used when given; a throwing one falls back to a generated id', () => {
    expect(
      createToolCallParser(FORMATS.mistral, TOOLS, { createId: () => 'mine' }).push(output('mistral'))
        .calls[0].id,
    ).toBe('mine');
    const calls = createToolCallParser(FORMATS.hermes, TOOLS, {
      createId: () => {
        throw new Error('no');
      },
    }).push(output('hermes')).calls;
    expect(calls[0].id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });
});

describe('constrainedCall parses back to its call, for every family', () => {
  const argsArbitrary = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.jsonValue({ maxDepth: 3 }),
    { maxKeys: 4 },
  ) as fc.Arbitrary<Record<string, unknown>>;
  for (const [label, format] of Object.entries(FORMATS)) {
    it(label, () => {
      fc.assert(
        fc.property(argsArbitrary, (args) => {
          const { begin, end } = format.constrainedCall('get_weather');
          const expected = JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
          const outcome = run(format, [begin + JSON.stringify(args) + end]);
          expect(outcome).toEqual({ text: '', calls: [call(1, 'get_weather', expected)], errors: [] });
        }),
        { seed: 7, numRuns: 100 },
      );
    });
  }
});

describe('never throws, never loses text', () => {
  const fragments = [
    '<tool_call>',
    '</tool_call>',
    '<|tool_call|>',
    '<|/tool_call|>',
    '[TOOL_CALLS]',
    '[ARGS]',
    '[CALL_ID]',
    '<|python_tag|>',
    '```tool_code',
    '```',
    '{',
    '}',
    '[',
    ']',
    '"',
    '\\',
    ';',
    ',',
    ':',
    '(',
    ')',
    '=',
    '\n',
    ' ',
    '"name"',
    '"arguments"',
    '"parameters"',
    '"get_weather"',
    'get_weather',
    'x',
    '😀',
    '\ud83d',
  ];
  const outputArbitrary = fc
    .array(fc.constantFrom(...fragments), { maxLength: 40 })
    .map((parts) => parts.join(''));
  for (const [label, format] of Object.entries(FORMATS)) {
    it(label, () => {
      fc.assert(
        fc.property(outputArbitrary, fc.array(fc.nat(), { maxLength: 8 }), (output, cuts) => {
          const whole = run(format, [output]);
          expect(run(format, split(output, cuts))).toEqual(whole);
          // Without a parsed call, the text is the output, unchanged; each error's text is in it.
          if (whole.calls.length === 0) expect(whole.text).toBe(output);
          else expect(whole.text.length).toBeLessThan(output.length);
          for (const error of whole.errors) expect(whole.text).toContain(error.text);
        }),
        { seed: 42, numRuns: 400 },
      );
    });
  }

  it('odd inputs: non-string pieces, no tools, a tool list that is not an array', () => {
    const parser = createToolCallParser(FORMATS.hermes, undefined as unknown as ToolDefinition[]);
    expect(parser.push(undefined as unknown as string)).toEqual({ text: '', calls: [], errors: [] });
    const delta = parser.push('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>');
    expect(delta.calls).toEqual([]);
    expect(delta.errors[0].message).toBe("Unknown tool 'get_weather': no tools were given.");
  });
});

describe('cost per push does not grow with the output', () => {
  /** CPU time of this process in milliseconds (not wall time: other processes on the machine do not count). */
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  /**
   * CPU milliseconds taken by each block of `size` one-character pushes of `output`; stops early
   * (`runaway`) when five blocks in a row take 30 times the fastest of the first ones, so that a
   * parser whose cost grows fails quickly instead of running for minutes.
   */
  function blockTimes(
    format: ToolFormat,
    output: string,
    size: number,
  ): { times: number[]; runaway: boolean } {
    const parser = createToolCallParser(format, TOOLS);
    const times: number[] = [];
    for (let at = 0; at + size <= output.length; at += size) {
      const start = cpu();
      for (let i = at; i < at + size; i++) parser.push(output[i]);
      times.push(cpu() - start);
      const recent = Math.min(...times.slice(-5));
      if (times.length > 10 && recent > 20 && recent > 30 * Math.min(...times.slice(1, 6)))
        return { times, runaway: true };
    }
    parser.end();
    return { times, runaway: false };
  }
  const shapes: [string, ToolFormat, (n: number) => string][] = [
    ['free text (hermes)', FORMATS.hermes, (n) => 'a <b '.repeat(n / 5)],
    [
      'inside a hermes call',
      FORMATS.hermes,
      (n) => `<tool_call>{"name": "search", "arguments": {"query": "${'q'.repeat(n)}"}}</tool_call>`,
    ],
    [
      'inside a bare Llama 3 call',
      FORMATS.llama3,
      (n) => `{"name": "search", "parameters": {"query": "${'q'.repeat(n)}"}}`,
    ],
    [
      'inside a Mistral array',
      FORMATS.mistral,
      (n) => `[TOOL_CALLS][{"name": "search", "arguments": {"q": [${'1,'.repeat(n / 2)}1]}}]`,
    ],
    [
      'inside a Mistral v11 call',
      FORMATS['mistral-v11'],
      (n) => `[TOOL_CALLS]search[ARGS]{"q": "${'q'.repeat(n)}"}`,
    ],
    [
      'inside a Phi-4-mini call',
      FORMATS['phi4-mini'],
      (n) => `<|tool_call|>[{"name": "search", "arguments": {"q": "${'q'.repeat(n)}"}}]<|/tool_call|>`,
    ],
    [
      'inside a gemma block',
      FORMATS.gemma3,
      (n) => `\`\`\`tool_code\nsearch(query="${'q'.repeat(n)}")\n\`\`\``,
    ],
  ];
  for (const [label, format, build] of shapes) {
    it(label, () => {
      // 300,000 characters pushed one by one, timed per block of 10,000: the blocks near the end
      // (with ~300,000 characters held) cost what the blocks near the start cost. The fastest of
      // five blocks is compared, which filters out garbage collections. A parser that rescanned
      // what it holds would be ~30x slower at the end.
      const { times, runaway } = blockTimes(format, build(300_000), 10_000);
      expect(runaway).toBe(false);
      const early = Math.min(...times.slice(1, 6));
      const late = Math.min(...times.slice(-5));
      // A quadratic parser is orders of magnitude slower by then; 10x leaves room for a loaded machine.
      expect(late / early).toBeLessThan(10);
    });
  }
});
