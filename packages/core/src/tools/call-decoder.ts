import type { ToolDefinition } from '../spec/tools.js';
import { parsePythonCalls, parsePythonLiteral } from './python-call.js';

/** A call whose name and arguments checked out, before it gets an id. */
export interface DecodedCall {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

/** The calls one piece of model output holds, or what is wrong with it. */
export type Decoded = { readonly calls: DecodedCall[] } | { readonly error: string };

export const NOT_JSON = 'The tool call is not valid JSON.';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** `text` parsed as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * Turns what a model wrote into calls of the given tools: checks the name against them and the
 * arguments (a JSON object, or a string holding one), and says precisely what is wrong otherwise.
 */
export class CallDecoder {
  private readonly names: ReadonlySet<string>;

  constructor(tools: readonly ToolDefinition[]) {
    const names = new Set<string>();
    if (Array.isArray(tools)) {
      for (const tool of tools) {
        const name = tool?.function?.name;
        if (typeof name === 'string') names.add(name);
      }
    }
    this.names = names;
  }

  /** A call given as its name and its arguments' value. */
  call(name: unknown, args: unknown): DecodedCall | string {
    if (typeof name !== 'string' || name.trim() === '')
      return 'The tool call has no name: it needs a "name" string.';
    if (!this.names.has(name)) {
      const known = [...this.names].map((tool) => `'${tool}'`).join(', ');
      return `Unknown tool '${name}': ${known === '' ? 'no tools were given' : `the tools are ${known}`}.`;
    }
    if (args === undefined || args === null) return { name, arguments: {} };
    if (isPlainObject(args)) return { name, arguments: args };
    if (typeof args === 'string') {
      const parsed = parseJson(args);
      if (parsed && isPlainObject(parsed.value)) return { name, arguments: parsed.value };
      return `The arguments of '${name}' are a string that is not a JSON object.`;
    }
    return `The arguments of '${name}' are not a JSON object (got ${kindOf(args)}).`;
  }

  /** A call written as an object: `{"name": …, "arguments": …}` (or Llama's `"parameters"`). */
  callObject(value: unknown): DecodedCall | string {
    if (!isPlainObject(value))
      return `The tool call is not a JSON object with a name and arguments (got ${kindOf(value)}).`;
    const args = value.arguments !== undefined ? value.arguments : value.parameters;
    return this.call(value.name, args);
  }

  /** Several calls: all of them, or the first problem, naming the call. */
  callList(values: readonly unknown[]): Decoded {
    if (values.length === 0) return { error: 'The tool call list is empty.' };
    const calls: DecodedCall[] = [];
    for (let i = 0; i < values.length; i++) {
      const call = this.callObject(values[i]);
      if (typeof call === 'string')
        return { error: values.length === 1 ? call : `Call ${i + 1} of ${values.length}: ${call}` };
      calls.push(call);
    }
    return { calls };
  }

  /** A JSON object or array of call objects, already parsed. */
  callValue(value: unknown): Decoded {
    if (Array.isArray(value)) return this.callList(value);
    const call = this.callObject(value);
    return typeof call === 'string' ? { error: call } : { calls: [call] };
  }

  /**
   * The body of a call block written as JSON (an object, or an array of objects). Also accepted:
   * objects separated by commas without the brackets (Phi-4-mini does that with parallel calls), and
   * a Python dict (Hermes 2 Pro was trained on `{'arguments': …, 'name': …}`).
   */
  jsonBody(body: string): Decoded {
    const text = body.trim();
    const parsed = parseJson(text) ?? (text.startsWith('{') ? parseJson(`[${text}]`) : undefined);
    if (parsed) return this.callValue(parsed.value);
    const literal = parsePythonLiteral(text);
    if ('value' in literal && (isPlainObject(literal.value) || Array.isArray(literal.value)))
      return this.callValue(literal.value);
    return { error: NOT_JSON };
  }

  /** A ```tool_code block of Gemma: JSON call objects, or Python calls. */
  toolCode(body: string): Decoded {
    const text = body.trim();
    if (text.startsWith('{')) return this.jsonBody(text);
    if (text.startsWith('[')) {
      const parsed = parseJson(text);
      if (parsed) return this.callValue(parsed.value);
    }
    const python = parsePythonCalls(text);
    if ('error' in python)
      return { error: `The tool_code block is neither a JSON call nor a Python call: ${python.error}.` };
    return this.callList(python.calls.map((call) => ({ name: call.name, arguments: call.arguments })));
  }
}
