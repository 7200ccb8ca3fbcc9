import type { ToolCallConstraint } from '../constraints/response-format.js';
import { pythonJsonDumps } from '../model/python-jinja.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { SlmkitError } from '../spec/errors.js';
import type { ChatMessage } from '../spec/messages.js';
import type { ToolDefinition } from '../spec/tools.js';
import { createToolCallParser, type ToolCallParser } from './tool-call-parser.js';
import { detectToolFormat, type ToolFormat } from './tool-format.js';
import { constrainedTools, type ResolvedTools } from './tool-options.js';

/** What a generation run with tools needs. */
export interface RunTools {
  /** A parser of each sequence's output; undefined with toolChoice 'none' (nothing is parsed). */
  readonly parsers: readonly ToolCallParser[] | undefined;
  /** Special tokens the parser must see, by id: they are decoded to this text instead of being left out. */
  readonly markers: ReadonlyMap<number, string>;
}

/** What one call with tools runs with. */
export interface CallTools extends RunTools {
  /** With toolChoice 'required' or `{ name }`: the grammar the call is constrained to. */
  readonly constraint: ToolCallConstraint | undefined;
  /** Tokens the model may not choose (the token that opens a call, with toolChoice 'none'). */
  readonly bannedTokenIds: readonly number[];
}

/**
 * A model's tool calling: the format of its template's family (detected once, from the template's
 * source and the vocabulary), and what each call with tools runs with.
 */
export class ModelToolCalling {
  /** The family's format, or undefined when the model's template defines none. */
  readonly format: ToolFormat | undefined;
  private readonly markers = new Map<number, string>();

  constructor(
    templateSource: string | undefined,
    private readonly tokenizer: TextTokenizer,
    private readonly location: string,
  ) {
    const hasToken = (text: string) => tokenizer.tokenToId(text) !== undefined;
    this.format = templateSource === undefined ? undefined : detectToolFormat(templateSource, hasToken);
    for (const text of this.format?.markerTokens ?? []) {
      const id = tokenizer.tokenToId(text);
      if (id !== undefined) this.markers.set(id, text);
    }
  }

  /**
   * What a call with `resolved` tools and `count` prompts runs with; INVALID_OPTION when the model's
   * template has no tool-call format.
   */
  forCall(resolved: ResolvedTools, count: number): CallTools {
    const format = this.requireFormat();
    const { tools, choice } = resolved;
    const start = format.callStart === undefined ? undefined : this.tokenizer.tokenToId(format.callStart);
    const constrained = constrainedTools(resolved);
    return {
      parsers:
        choice === 'none'
          ? undefined
          : Array.from({ length: count }, () => createToolCallParser(format, tools)),
      markers: this.markers,
      constraint:
        constrained.length === 0
          ? undefined
          : {
              type: 'tool_call',
              calls: constrained.map((tool) => ({
                ...format.constrainedCall(tool.function.name),
                parameters: tool.function.parameters ?? { type: 'object' },
              })),
            },
      bannedTokenIds: choice === 'none' && start !== undefined ? [start] : [],
    };
  }

  /**
   * What a rendering with `tools` gives the template besides its `tools` variable, where the
   * family's template looks for them (see `ToolFormat.toolsPlacement`): SmolLM3's `xml_tools`
   * variable; Phi-4-mini's system message `tools` field (`json.dumps` of the functions); for a
   * template with no place for tools (Gemma 3), their description at the end of the system message,
   * and tool turns written as the prompt describes them (see {@link toolTurnsAsText}).
   * A system message is added first where one is needed and there is none.
   */
  templateInput(
    messages: readonly ChatMessage[],
    tools: readonly ToolDefinition[],
  ): { messages: readonly ChatMessage[]; variables: Record<string, unknown> } {
    const format = this.format;
    if (!format || tools.length === 0) return { messages, variables: {} };
    switch (format.toolsPlacement) {
      case 'tools':
        return { messages, variables: {} };
      case 'xml_tools':
        return { messages, variables: { xml_tools: tools } };
      case 'system-message': {
        // As Phi-4-mini's model card writes them: `json.dumps` of the functions.
        const functions = pythonJsonDumps(tools.map((tool) => tool.function));
        return {
          messages: withSystem(messages, (system) => ({ ...system, tools: functions })),
          variables: {},
        };
      }
      case 'prompt': {
        const prompt = format.toolsPrompt?.(tools) ?? '';
        const described = withSystem(toolTurnsAsText(messages), (system) => ({
          ...system,
          content: system.content === '' ? prompt : `${system.content}\n\n${prompt}`,
        }));
        return { messages: described, variables: {} };
      }
    }
  }

  private requireFormat(): ToolFormat {
    if (this.format) return this.format;
    throw new SlmkitError(
      'INVALID_OPTION',
      `The model at ${this.location} has no tool-call format: its chat template is not one of the families slmkit parses calls of (Qwen2.5/Qwen3/Hermes/SmolLM3, Llama 3.1/3.2, Mistral, Phi-4-mini, Gemma 3; see docs/tools.md). Use responseFormat to constrain the output instead.`,
    );
  }
}

/** `messages` with their first system message (one with empty content added first, if none) rewritten by `edit`. */
function withSystem(
  messages: readonly ChatMessage[],
  edit: (system: ChatMessage & { content: string }) => ChatMessage,
): ChatMessage[] {
  const [first, ...rest] = messages;
  if (first?.role === 'system' && typeof first.content === 'string')
    return [edit(first as ChatMessage & { content: string }), ...rest];
  return [edit({ role: 'system', content: '' }), ...messages];
}

/**
 * Tool turns for a template that knows only user and assistant turns (Gemma 3's refuses any other
 * role): an assistant message's `tool_calls` become a ```tool_code block (JSON calls) after its
 * text, and the `tool` messages after it one user turn of ```tool_output blocks, as the tools
 * prompt tells the model.
 */
function toolTurnsAsText(messages: readonly ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  // Index in `out` of the user turn the current run of tool results goes into (-1: none open).
  let results = -1;
  for (const message of messages) {
    if (message.role === 'tool') {
      const block = `\`\`\`tool_output\n${typeof message.content === 'string' ? message.content : ''}\n\`\`\``;
      if (results >= 0) out[results] = { ...out[results], content: `${out[results].content}\n${block}` };
      else results = out.push({ role: 'user', content: block }) - 1;
      continue;
    }
    results = -1;
    const calls = message.role === 'assistant' && Array.isArray(message.tool_calls) ? message.tool_calls : [];
    if (calls.length === 0) {
      out.push(message);
      continue;
    }
    const { tool_calls: _, ...rest } = message;
    const code = calls
      .map((call: { function?: { name?: unknown; arguments?: unknown } }) =>
        JSON.stringify({ name: call.function?.name, arguments: call.function?.arguments }),
      )
      .join('\n');
    const text = typeof message.content === 'string' && message.content !== '' ? `${message.content}\n` : '';
    out.push({ ...rest, content: `${text}\`\`\`tool_code\n${code}\n\`\`\`` });
  }
  return out;
}
