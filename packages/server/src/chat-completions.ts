// POST /v1/chat/completions: OpenAI chat requests as slmkit message prompts.
import type {
  ChatMessage,
  GenerationResult,
  ModelConfig,
  ResponseFormat,
  TextContentPart,
  TokenLogprob,
  TopLogprob,
} from '@slmkit/core';
import {
  checkFields,
  checkN,
  describeType,
  invalidType,
  invalidValue,
  isObject,
  type JsonObject,
  missing,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalString,
  streamFields,
  unsupported,
} from './params.js';
import { finishReasonOf, type Generation, type OutputFormat, usageOf } from './run.js';
import { IGNORED_FIELDS, maxTokensField, SAMPLING_FIELDS, samplingOptions } from './sampling.js';
import { assistantToolCalls, openAIToolCalls, TOOL_FIELDS, toolOptions } from './tools.js';

const KNOWN = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'n',
  'max_completion_tokens',
  'response_format',
  'logprobs',
  'top_logprobs',
  'chat_template_kwargs',
  ...SAMPLING_FIELDS,
  ...IGNORED_FIELDS,
  ...TOOL_FIELDS,
]);

/** OpenAI fields that would change the output in ways slmkit cannot: refused unless off. */
const REFUSED: Record<string, (value: unknown) => string | undefined> = {
  modalities: (v) =>
    Array.isArray(v) && v.every((m) => m === 'text') ? undefined : 'slmkit models produce text only.',
  audio: () => 'slmkit models produce text only.',
  prediction: () => 'predicted outputs are not supported.',
  web_search_options: () => 'the server has no web search.',
  reasoning_effort: () => "the model's own template decides; pass chat_template_kwargs instead.",
  verbosity: () => 'the output length is set with max_completion_tokens.',
  functions: () => "the deprecated 'functions' API is not supported.",
  function_call: () => "the deprecated 'functions' API is not supported.",
};

/** Roles OpenAI defines, and what the chat template gets ('developer' is the system role). */
const ROLES: Record<string, string> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
};

/** The fields of a message of each role (`name` is accepted and not passed to the template). */
const MESSAGE_FIELDS: Record<string, ReadonlySet<string>> = {
  system: new Set(['role', 'content', 'name']),
  user: new Set(['role', 'content', 'name']),
  assistant: new Set(['role', 'content', 'name', 'refusal', 'tool_calls']),
  tool: new Set(['role', 'content', 'tool_call_id', 'name']),
};

/** A chat request as slmkit call options. */
export function chatGeneration(body: JsonObject, config: ModelConfig): Generation {
  checkFields(body, KNOWN, REFUSED);
  checkN(body);
  const logprobs = optionalBoolean(body, 'logprobs');
  const topLogprobs = optionalInteger(body, 'top_logprobs', { min: 0, max: 20 });
  if (topLogprobs !== undefined && logprobs !== true) {
    throw invalidValue('top_logprobs', 'logprobs must be set to true when top_logprobs is used.');
  }
  const messages = chatMessages(body.messages);
  const maxTokens = maxTokensField(body, 'max_completion_tokens') ?? maxTokensField(body, 'max_tokens');
  const options = samplingOptions(body, config, maxTokens);
  const templateVariables = optionalObject(body, 'chat_template_kwargs');
  if (templateVariables) options.templateVariables = templateVariables;
  const responseFormat = responseFormatField(body);
  if (responseFormat) options.responseFormat = responseFormat;
  const { tools, toolChoice } = toolOptions(body);
  if (tools) options.tools = tools;
  if (toolChoice) options.toolChoice = toolChoice;
  if (logprobs) {
    options.logprobs = true;
    options.topLogprobs = topLogprobs ?? 0;
  }
  return { prompt: messages, options, ...streamFields(body), promptParam: 'messages' };
}

/** The request's messages as slmkit chat messages; each wrong field is named, e.g. messages[1].content. */
function chatMessages(value: unknown): ChatMessage[] {
  if (value === undefined || value === null) throw missing('messages');
  if (!Array.isArray(value)) throw invalidType('messages', 'an array of messages', value);
  if (value.length === 0) throw invalidValue('messages', 'expected at least one message, but got none.');
  return value.map((message, i) => chatMessage(message, `messages[${i}]`));
}

function chatMessage(message: unknown, at: string): ChatMessage {
  if (!isObject(message)) throw invalidType(at, 'an object', message);
  const role = message.role;
  if (role === undefined || role === null) throw missing(`${at}.role`);
  if (typeof role !== 'string') throw invalidType(`${at}.role`, 'a string', role);
  const templateRole = ROLES[role];
  if (!templateRole) {
    throw invalidValue(
      `${at}.role`,
      `expected one of 'system', 'developer', 'user', 'assistant', 'tool', but got ${JSON.stringify(role)}.`,
    );
  }
  checkFields(
    message,
    MESSAGE_FIELDS[templateRole],
    { audio: () => 'slmkit models take text only.' },
    `${at}.`,
  );
  optionalString(message, 'name', `${at}.name`);
  const content = messageContent(message.content, `${at}.content`, role);
  if (templateRole === 'tool') {
    const id = optionalString(message, 'tool_call_id', `${at}.tool_call_id`);
    if (id === undefined) throw missing(`${at}.tool_call_id`);
    return { role: 'tool', content, tool_call_id: id };
  }
  const calls = message.tool_calls;
  if (templateRole === 'assistant' && calls !== undefined && calls !== null) {
    return { role: 'assistant', content, tool_calls: assistantToolCalls(calls, `${at}.tool_calls`) };
  }
  return { role: templateRole, content };
}

/** A string, or text parts (kept as parts: slmkit joins them as the template needs). */
function messageContent(content: unknown, at: string, role: string): string | TextContentPart[] {
  if (typeof content === 'string') return content;
  if ((content === null || content === undefined) && role === 'assistant') return '';
  if (content === undefined || content === null) throw missing(at);
  if (!Array.isArray(content)) throw invalidType(at, 'a string or an array of content parts', content);
  return content.map((part, j): TextContentPart => {
    const where = `${at}[${j}]`;
    if (!isObject(part)) throw invalidType(where, 'an object', part);
    // An assistant's refusal part is text it wrote.
    const textKey = role === 'assistant' && part.type === 'refusal' ? 'refusal' : 'text';
    if (part.type !== 'text' && textKey !== 'refusal') {
      if (typeof part.type !== 'string') throw invalidType(`${where}.type`, 'a string', part.type);
      throw unsupported(`${where}.type`, `slmkit models take text only, got a '${part.type}' part.`);
    }
    const text = part[textKey];
    if (typeof text !== 'string') throw invalidType(`${where}.${textKey}`, 'a string', text);
    return { type: 'text', text };
  });
}

/** `response_format`: text (no constraint), json_object → slmkit 'json', json_schema → 'json_schema'. */
function responseFormatField(body: JsonObject): ResponseFormat | undefined {
  const format = optionalObject(body, 'response_format');
  if (!format) return undefined;
  const type = format.type;
  if (type === 'text') return undefined;
  if (type === 'json_object') return { type: 'json' };
  if (type === 'json_schema') {
    const spec = format.json_schema;
    if (spec === undefined || spec === null) throw missing('response_format.json_schema');
    if (!isObject(spec)) throw invalidType('response_format.json_schema', 'an object', spec);
    const name = optionalString(spec, 'name', 'response_format.json_schema.name');
    optionalString(spec, 'description', 'response_format.json_schema.description');
    // Output is always held to the schema, so strict: false gets stricter output than it asks for.
    optionalBoolean(spec, 'strict', 'response_format.json_schema.strict');
    const schema = optionalObject(spec, 'schema', 'response_format.json_schema.schema');
    if (!schema) return { type: 'json' };
    return name === undefined ? { type: 'json_schema', schema } : { type: 'json_schema', schema, name };
  }
  if (type === undefined || type === null) throw missing('response_format.type');
  throw invalidValue(
    'response_format.type',
    `expected one of 'text', 'json_object', 'json_schema', but got ${typeof type === 'string' ? JSON.stringify(type) : describeType(type)}.`,
  );
}

/** The response bodies and stream chunks of one chat completion. */
export function chatFormat(model: string, includeUsage: boolean): OutputFormat {
  const id = `chatcmpl-${crypto.randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: object = {}) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices,
    // With include_usage every chunk has a usage field: null until the last one.
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const choice = (delta: object, finishReason: string | null = null, logprobs?: readonly TokenLogprob[]) => ({
    index: 0,
    delta,
    logprobs: logprobs ? openAILogprobs(logprobs) : null,
    finish_reason: finishReason,
  });
  return {
    complete: (result: GenerationResult) => ({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: assistantMessage(result),
          logprobs: result.logprobs ? openAILogprobs(shownLogprobs(result)) : null,
          finish_reason: finishReasonOf(result.finishReason),
        },
      ],
      usage: usageOf(result.usage),
    }),
    opening: () => [chunk([choice({ role: 'assistant', content: '' })])],
    text: (text, logprobs) => chunk([choice({ content: text }, null, logprobs)]),
    toolCalls: (calls, first) => chunk([choice({ tool_calls: openAIToolCalls(calls, first) })]),
    finish: (result) => chunk([choice({}, finishReasonOf(result.finishReason))]),
    usage: (result) => chunk([], { usage: usageOf(result.usage) }),
  };
}

/** The reply message: its text, and the calls it made (content is null when a reply is calls only). */
function assistantMessage(result: GenerationResult) {
  const calls = result.toolCalls ?? [];
  if (calls.length === 0) return { role: 'assistant', content: result.text, refusal: null };
  return {
    role: 'assistant',
    content: result.text === '' ? null : result.text,
    refusal: null,
    tool_calls: openAIToolCalls(calls).map(({ index: _, ...call }) => call),
  };
}

const utf8 = new TextEncoder();

/** OpenAI's `logprobs` of a choice: `{ content: [{ token, logprob, bytes, top_logprobs }] }`. */
function openAILogprobs(logprobs: readonly TokenLogprob[]) {
  const entry = ({ token, logprob }: TopLogprob) => ({ token, logprob, bytes: [...utf8.encode(token)] });
  return {
    content: logprobs.map((l) => ({ ...entry(l), top_logprobs: l.topLogprobs.map(entry) })),
    refusal: null,
  };
}

/** The logprobs of the tokens a reply shows: a final end-of-sequence token is not part of it (as in OpenAI's). */
function shownLogprobs(result: GenerationResult): readonly TokenLogprob[] {
  const all = result.logprobs ?? [];
  return result.finishReason === 'eos' ? all.slice(0, -1) : all;
}
