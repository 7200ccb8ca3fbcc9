/**
 * A function the model may call, in the OpenAI shape (the one Hugging Face chat templates take as
 * `tools`): a name, a description and the JSON Schema of its arguments.
 *
 * @example
 * ```ts
 * const weather: ToolDefinition = {
 *   type: 'function',
 *   function: {
 *     name: 'get_weather',
 *     description: 'Current weather in a city',
 *     parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
 *   },
 * };
 * ```
 */
export interface ToolDefinition {
  /** Always 'function'. */
  readonly type: 'function';
  readonly function: {
    /** The name the model calls it by: letters, digits, '_' and '-', at most 64 characters. */
    readonly name: string;
    /** What it does and when to call it; templates show it to the model. */
    readonly description?: string;
    /**
     * JSON Schema of the arguments (an object schema; default: an object with any properties). With
     * `toolChoice` 'required' or `{ name }`, the arguments are constrained to it (the subset of
     * docs/structured-output.md).
     */
    readonly parameters?: Readonly<Record<string, unknown>>;
  };
}

/**
 * Whether and which tool the model calls:
 * - `'auto'` (default when `tools` are given): the model decides; calls in its output are parsed.
 * - `'none'`: the tools are still shown to the model, but it cannot start a call.
 * - `'required'`: the output is one call of one of the tools, constrained so that it is valid.
 * - `{ name }`: the output is one call of that tool, constrained so that it is valid.
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { readonly name: string };

/** A call the model made, parsed from its output. */
export interface ToolCall {
  /** An id for this call, to give back as the `tool_call_id` of the tool's result message. */
  readonly id: string;
  /** The tool's name (one of `tools`). */
  readonly name: string;
  /** The arguments, as parsed from the model's JSON. */
  readonly arguments: Record<string, unknown>;
}

/**
 * A call the model began but that could not be parsed (cut off, not JSON, an unknown tool, arguments
 * that are not an object). Its text stays in the result's `text`.
 */
export interface ToolCallError {
  /** The call's text as the model wrote it (markers included). */
  readonly text: string;
  /** What is wrong with it. */
  readonly message: string;
}
