import type { ToolDefinition } from '../spec/tools.js';

/** The tool-call formats slmkit parses, one per template family. */
export type ToolFormatName = 'hermes' | 'llama3' | 'mistral' | 'phi4-mini' | 'gemma3';

/**
 * How Mistral models write a call:
 * - `'json-array'`: `[TOOL_CALLS]` then a JSON array of `{"name", "arguments"}` objects (tokenizers
 *   before v11: Mistral 7B v0.3, Nemo, Small 3.1);
 * - `'name-args'`: `[TOOL_CALLS]name[ARGS]{…arguments…}`, once per call (tokenizer v11 and later,
 *   whose vocabulary has an `[ARGS]` token: Mistral Small 3.2, Magistral, Devstral).
 */
export type MistralToolSyntax = 'json-array' | 'name-args';

/**
 * Where a family's chat template expects the tools:
 * - `'tools'`: the template's `tools` variable (Qwen, Llama 3, Mistral, llama.cpp's Phi-4-mini template);
 * - `'xml_tools'`: the `xml_tools` variable (SmolLM3's template ignores `tools`);
 * - `'system-message'`: the system message's `tools` field, a JSON string of the functions
 *   (`JSON.stringify(tools.map((t) => t.function))`), which Phi-4-mini's own template writes between
 *   `<|tool|>` and `<|/tool|>`;
 * - `'prompt'`: nowhere in the template: {@link ToolFormat.toolsPrompt} gives system text (Gemma 3).
 */
export type ToolsPlacement = 'tools' | 'xml_tools' | 'system-message' | 'prompt';

/** How one model family writes tool calls in its output. */
export interface ToolFormat {
  /** The family. */
  readonly name: ToolFormatName;
  /** Special tokens, by their text, that the output must be decoded with (not skipped) for calls to be seen, e.g. '[TOOL_CALLS]', '<|python_tag|>'. */
  readonly markerTokens: readonly string[];
  /** Text that opens a call in free text (e.g. '<tool_call>'); undefined where a call has no opening marker (Llama 3's bare JSON). */
  readonly callStart?: string;
  /** Where the chat template takes the tools (see {@link ToolsPlacement}). */
  readonly toolsPlacement: ToolsPlacement;
  /** Mistral only: which of the two call syntaxes the model writes. */
  readonly mistralSyntax?: MistralToolSyntax;
  /** One call as constrained decoding writes it: `begin` + the arguments' JSON + `end` (e.g. hermes: begin '<tool_call>\n{"name": "get_weather", "arguments": ', end '}\n</tool_call>'). Must parse back with this format's parser. */
  constrainedCall(name: string): { readonly begin: string; readonly end: string };
  /** Only for formats whose templates do not render `tools` themselves (Gemma 3): the system text that describes the tools and the call format to the model. */
  toolsPrompt?(tools: readonly ToolDefinition[]): string;
}

const HERMES_MARKERS = ['<tool_call>', '</tool_call>'];
const LLAMA3_MARKERS = ['<|python_tag|>'];
const PHI4_MARKERS = ['<|tool_call|>', '<|/tool_call|>'];

/**
 * The format descriptor of a family, with every marker token it can use (detection keeps only those
 * of the model's vocabulary). For Mistral, `mistralSyntax` picks the call syntax (default
 * 'json-array'); `toolsPlacement` overrides where the tools go in the template.
 */
export function getToolFormat(
  name: ToolFormatName,
  options: {
    mistralSyntax?: MistralToolSyntax;
    toolsPlacement?: ToolsPlacement;
    markerTokens?: readonly string[];
  } = {},
): ToolFormat {
  const base = baseFormat(name, options.mistralSyntax ?? 'json-array');
  return {
    ...base,
    ...(options.toolsPlacement ? { toolsPlacement: options.toolsPlacement } : {}),
    ...(options.markerTokens ? { markerTokens: Object.freeze([...options.markerTokens]) } : {}),
  };
}

function baseFormat(name: ToolFormatName, mistralSyntax: MistralToolSyntax): ToolFormat {
  const quoted = (tool: string) => JSON.stringify(tool);
  switch (name) {
    case 'hermes':
      return {
        name,
        markerTokens: HERMES_MARKERS,
        callStart: '<tool_call>',
        toolsPlacement: 'tools',
        constrainedCall: (tool) => ({
          begin: `<tool_call>\n{"name": ${quoted(tool)}, "arguments": `,
          end: '}\n</tool_call>',
        }),
      };
    case 'llama3':
      return {
        name,
        markerTokens: LLAMA3_MARKERS,
        toolsPlacement: 'tools',
        constrainedCall: (tool) => ({ begin: `{"name": ${quoted(tool)}, "parameters": `, end: '}' }),
      };
    case 'mistral':
      return mistralSyntax === 'name-args'
        ? {
            name,
            markerTokens: ['[TOOL_CALLS]', '[ARGS]', '[CALL_ID]'],
            callStart: '[TOOL_CALLS]',
            toolsPlacement: 'tools',
            mistralSyntax,
            constrainedCall: (tool) => ({ begin: `[TOOL_CALLS]${tool}[ARGS]`, end: '' }),
          }
        : {
            name,
            markerTokens: ['[TOOL_CALLS]'],
            callStart: '[TOOL_CALLS]',
            toolsPlacement: 'tools',
            mistralSyntax,
            constrainedCall: (tool) => ({
              begin: `[TOOL_CALLS][{"name": ${quoted(tool)}, "arguments": `,
              end: '}]',
            }),
          };
    case 'phi4-mini':
      return {
        name,
        markerTokens: PHI4_MARKERS,
        callStart: '<|tool_call|>',
        toolsPlacement: 'system-message',
        constrainedCall: (tool) => ({
          begin: `<|tool_call|>[{"name": ${quoted(tool)}, "arguments": `,
          end: '}]<|/tool_call|>',
        }),
      };
    case 'gemma3':
      return {
        name,
        markerTokens: [],
        callStart: '```tool_code',
        toolsPlacement: 'prompt',
        constrainedCall: (tool) => ({
          begin: `\`\`\`tool_code\n{"name": ${quoted(tool)}, "arguments": `,
          end: '}\n```',
        }),
        toolsPrompt: gemmaToolsPrompt,
      };
  }
}

/**
 * Gemma 3's tool prompt, after Google's function-calling guide for Gemma: the functions as JSON, a
 * call written in a ```tool_code block as a Python call, the result coming back in ```tool_output.
 */
function gemmaToolsPrompt(tools: readonly ToolDefinition[]): string {
  const functions = tools.map((tool) => JSON.stringify(tool.function, null, 2)).join(',\n');
  return [
    'You have access to the functions below. If you decide to call any of them, reply with a code block ' +
      'labelled tool_code that holds only the call or calls, one per line, written as Python calls with ' +
      'keyword arguments and Python literals, like this:',
    '```tool_code\nfunction_name(argument_name="value", other_argument=3)\n```',
    'The result of each call comes back to you in a code block labelled tool_output; use it to answer. ' +
      'Do not write a tool_output block yourself. If no function is needed, answer normally.',
    `Functions:\n[\n${functions}\n]`,
  ].join('\n\n');
}

/**
 * The tool-call format a chat template's source uses, or undefined when the template defines none.
 * `hasToken` says whether a string is a single token of the model's vocabulary; it picks Mistral's
 * call syntax (an `[ARGS]` token means `[TOOL_CALLS]name[ARGS]{…}`), recognises Phi-4-mini (whose own
 * template only shows `<|tool|>`, the `<|tool_call|>` token being in the vocabulary), and keeps in
 * `markerTokens` only the markers that are tokens. Never throws.
 *
 * @example
 * ```ts
 * const format = detectToolFormat(tokenizerConfig.chat_template, (text) => vocab.has(text));
 * if (format?.name === 'hermes') { … }
 * ```
 */
export function detectToolFormat(
  templateSource: string,
  hasToken: (text: string) => boolean,
): ToolFormat | undefined {
  if (typeof templateSource !== 'string') return undefined;
  const has = (text: string) => templateSource.includes(text);
  const isToken = (text: string) => {
    try {
      return hasToken(text) === true;
    } catch {
      return false;
    }
  };
  const withTokens = (format: ToolFormat): ToolFormat =>
    getToolFormat(format.name, {
      mistralSyntax: format.mistralSyntax,
      toolsPlacement: format.toolsPlacement,
      markerTokens: format.markerTokens.filter(isToken),
    });

  // Qwen3-Coder's XML calls and GLM's <arg_key> calls also open with <tool_call>, but are not JSON.
  if (has('<tool_call>') && !has('<function=') && !has('<arg_key>')) {
    const xmlToolsOnly = has('xml_tools') && !/\b(?:if|in)\s+tools\b|\btools\s+is\b/.test(templateSource);
    return withTokens(getToolFormat('hermes', { toolsPlacement: xmlToolsOnly ? 'xml_tools' : 'tools' }));
  }
  if (has('[TOOL_CALLS]')) {
    const nameArgs = has('[ARGS]') || isToken('[ARGS]');
    return withTokens(getToolFormat('mistral', { mistralSyntax: nameArgs ? 'name-args' : 'json-array' }));
  }
  if (has('<|tool_call|>') || (has('<|tool|>') && isToken('<|tool_call|>'))) {
    const inSystemMessage = /message\s*(?:\[\s*['"]tools['"]\s*\]|\.tools\b)/.test(templateSource);
    return withTokens(
      getToolFormat('phi4-mini', { toolsPlacement: inSystemMessage ? 'system-message' : 'tools' }),
    );
  }
  if (has('<|python_tag|>') || has('ipython') || has('"parameters": dictionary of argument name')) {
    return withTokens(getToolFormat('llama3'));
  }
  if (has('<start_of_turn>')) return getToolFormat('gemma3');
  return undefined;
}
