// OpenAI's tool calling fields ↔ slmkit's tools, toolChoice and toolCalls (docs/tools.md).
import type { ToolCall, ToolChoice, ToolDefinition } from '@slmkit/core';
import {
  describeType,
  invalidType,
  invalidValue,
  isObject,
  type JsonObject,
  missing,
  optionalBoolean,
  optionalString,
  unsupported,
} from './params.js';

/** The tool fields of a chat request. */
export const TOOL_FIELDS = ['tools', 'tool_choice', 'parallel_tool_calls'];

/**
 * `tools` and `tool_choice` as slmkit options (both undefined without tools). The functions are
 * checked for their OpenAI shape here; slmkit checks the rest (names, uniqueness, schemas) and its
 * INVALID_OPTION names the field. `parallel_tool_calls` is accepted and ignored: 'required' and a
 * named choice make one call, 'auto' as many as the model writes.
 */
export function toolOptions(body: JsonObject): { tools?: ToolDefinition[]; toolChoice?: ToolChoice } {
  optionalBoolean(body, 'parallel_tool_calls');
  const value = body.tools;
  const choice = toolChoiceField(body.tool_choice);
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    if (choice === undefined || choice === 'none' || choice === 'auto') return {};
    throw invalidValue(
      'tool_choice',
      `tool_choice ${JSON.stringify(choice)} needs tools, but none were given.`,
    );
  }
  if (!Array.isArray(value)) throw invalidType('tools', 'an array of tools', value);
  const tools = value.map((tool, i) => toolDefinition(tool, `tools[${i}]`));
  return choice === undefined ? { tools } : { tools, toolChoice: choice };
}

function toolDefinition(tool: unknown, at: string): ToolDefinition {
  if (!isObject(tool)) throw invalidType(at, 'an object', tool);
  if (tool.type !== 'function') {
    throw invalidValue(`${at}.type`, `expected 'function', but got ${shown(tool.type)}.`);
  }
  const fn = tool.function;
  if (fn === undefined || fn === null) throw missing(`${at}.function`);
  if (!isObject(fn)) throw invalidType(`${at}.function`, 'an object', fn);
  const name = optionalString(fn, 'name', `${at}.function.name`);
  if (name === undefined) throw missing(`${at}.function.name`);
  const description = optionalString(fn, 'description', `${at}.function.description`);
  const parameters = fn.parameters ?? undefined;
  if (parameters !== undefined && !isObject(parameters)) {
    throw invalidType(`${at}.function.parameters`, 'an object', parameters);
  }
  // `strict` asks for arguments held to the schema: 'required' and named choices always are.
  optionalBoolean(fn, 'strict', `${at}.function.strict`);
  return {
    type: 'function',
    function: {
      name,
      ...(description === undefined ? {} : { description }),
      ...(parameters === undefined ? {} : { parameters }),
    },
  };
}

function toolChoiceField(value: unknown): ToolChoice | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (typeof value === 'string') {
    throw invalidValue(
      'tool_choice',
      `expected 'auto', 'none', 'required' or a function, but got ${shown(value)}.`,
    );
  }
  if (!isObject(value)) throw invalidType('tool_choice', 'a string or an object', value);
  if (value.type !== 'function') {
    throw unsupported(
      'tool_choice',
      `only { type: 'function', function: { name } } is, not type ${shown(value.type)}.`,
    );
  }
  const fn = value.function;
  if (!isObject(fn)) throw invalidType('tool_choice.function', 'an object', fn);
  const name = optionalString(fn, 'name', 'tool_choice.function.name');
  if (name === undefined) throw missing('tool_choice.function.name');
  return { name };
}

/** A call of an assistant message as chat templates take it. */
export interface TemplateToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: JsonObject };
}

/**
 * An assistant message's `tool_calls`, in the shape chat templates render (and slmkit's chats keep):
 * `{ id, type: 'function', function: { name, arguments } }` with the arguments parsed from their
 * JSON string, as templates expect an object (vLLM's server does the same).
 */
export function assistantToolCalls(value: unknown, at: string): TemplateToolCall[] {
  if (!Array.isArray(value)) throw invalidType(at, 'an array of tool calls', value);
  return value.map((call, j) => {
    const where = `${at}[${j}]`;
    if (!isObject(call)) throw invalidType(where, 'an object', call);
    const id = optionalString(call, 'id', `${where}.id`);
    if (id === undefined) throw missing(`${where}.id`);
    if (call.type !== undefined && call.type !== 'function') {
      throw invalidValue(`${where}.type`, `expected 'function', but got ${shown(call.type)}.`);
    }
    const fn = call.function;
    if (!isObject(fn)) throw invalidType(`${where}.function`, 'an object', fn);
    const name = optionalString(fn, 'name', `${where}.function.name`);
    if (name === undefined) throw missing(`${where}.function.name`);
    const text = optionalString(fn, 'arguments', `${where}.function.arguments`) ?? '{}';
    let args: unknown;
    try {
      args = JSON.parse(text);
    } catch {
      throw invalidValue(`${where}.function.arguments`, `expected a JSON object, but got ${shown(text)}.`);
    }
    if (!isObject(args)) {
      throw invalidValue(
        `${where}.function.arguments`,
        `expected a JSON object, but got ${describeType(args)}.`,
      );
    }
    return { id, type: 'function', function: { name, arguments: args } };
  });
}

/** slmkit's tool calls in OpenAI's shape, the arguments as a JSON string; `first` is the index of the first. */
export function openAIToolCalls(calls: readonly ToolCall[], first = 0) {
  return calls.map((call, i) => ({
    index: first + i,
    id: call.id,
    type: 'function' as const,
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  }));
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : describeType(value);
}
