import { checkJsonSchema } from '../constraints/json-schema.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { GenerateOptions } from '../spec/generation.js';
import type { ToolChoice, ToolDefinition } from '../spec/tools.js';

/** `tools` and `toolChoice` of a call, checked; undefined when the call has no tools. */
export interface ResolvedTools {
  readonly tools: readonly ToolDefinition[];
  readonly choice: ToolChoice;
}

/** What OpenAI accepts as a function name (and what every template family can write). */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function invalid(message: string): never {
  throw new SlmkitError('INVALID_OPTION', message);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Throws INVALID_OPTION unless `tool` (at `where`) is an OpenAI-shaped function definition; returns its name. */
function checkTool(tool: unknown, where: string): string {
  if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function))
    invalid(
      `${where} must be { type: 'function', function: { name, description?, parameters? } }; got ${showValue(tool)}.`,
    );
  const { name, description, parameters } = tool.function;
  if (typeof name !== 'string' || !TOOL_NAME.test(name))
    invalid(`${where}.function.name must be 1 to 64 letters, digits, '_' or '-'; got ${showValue(name)}.`);
  if (description !== undefined && typeof description !== 'string')
    invalid(`${where}.function.description must be a string; got ${showValue(description)}.`);
  if (parameters !== undefined && !isObject(parameters))
    invalid(`${where}.function.parameters must be a JSON Schema object; got ${showValue(parameters)}.`);
  return name;
}

/**
 * Checks a call's `tools` and `toolChoice` (INVALID_OPTION naming the field): well-formed, unique
 * names, a choice that names one of them, not together with `responseFormat`. With 'required' or
 * `{ name }` the arguments are constrained, so the schemas of the tools that can be called must be
 * in the supported subset of JSON Schema.
 */
export function resolveTools(options: GenerateOptions): ResolvedTools | undefined {
  const { tools, toolChoice } = options;
  if (tools === undefined) {
    if (toolChoice !== undefined) invalid('toolChoice needs tools: pass the functions the model may call.');
    return undefined;
  }
  if (!Array.isArray(tools))
    invalid(`tools must be an array of function definitions; got ${showValue(tools)}.`);
  const names = new Set<string>();
  tools.forEach((tool: unknown, i) => {
    const name = checkTool(tool, `tools[${i}]`);
    if (names.has(name))
      invalid(`tools[${i}] is named ${showValue(name)} like an earlier tool: names must be unique.`);
    names.add(name);
  });
  const choice = toolChoice ?? 'auto';
  if (choice !== 'auto' && choice !== 'none' && choice !== 'required') {
    if (!isObject(choice) || typeof choice.name !== 'string')
      invalid(`toolChoice must be 'auto', 'none', 'required' or { name }; got ${showValue(choice)}.`);
    if (!names.has(choice.name))
      invalid(
        `toolChoice names ${showValue(choice.name)}, which is not one of the tools (${[...names].join(', ')}).`,
      );
  }
  if ((choice === 'required' || typeof choice === 'object') && tools.length === 0)
    invalid(`toolChoice ${showValue(choice)} needs at least one tool.`);
  if (options.responseFormat !== undefined && tools.length > 0)
    invalid(
      'tools and responseFormat cannot be used together: a tool call has its own format (use toolChoice to require a call).',
    );
  if (choice === 'required' || typeof choice === 'object') {
    tools.forEach((tool, i) => {
      if (typeof choice === 'object' && tool.function.name !== choice.name) return;
      try {
        checkJsonSchema(tool.function.parameters ?? { type: 'object' });
      } catch (error) {
        if (!(error instanceof SlmkitError)) throw error;
        invalid(`tools[${i}].function.parameters (${tool.function.name}): ${error.message}`);
      }
    });
  }
  return { tools, choice };
}

/** The tools a constrained call may call: all of them for 'required', the named one for `{ name }`, none otherwise. */
export function constrainedTools(resolved: ResolvedTools): readonly ToolDefinition[] {
  const { choice, tools } = resolved;
  if (choice === 'required') return tools;
  if (typeof choice === 'object') return tools.filter((t) => t.function.name === choice.name);
  return [];
}
