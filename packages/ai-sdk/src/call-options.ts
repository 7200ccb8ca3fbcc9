import type { LanguageModelV4CallOptions, SharedV4Warning } from '@ai-sdk/provider';
import { type GenerateOptions, SlmkitError, type ToolDefinition } from '@slmkit/core';

/**
 * slmkit's own options of a call, beyond the AI SDK's standard settings: give them per call as
 * `providerOptions: { slmkit: { … } }`, or as `defaults` of {@link createSlmkit} or of a model.
 * Each means what it means in slmkit's `GenerateOptions`.
 *
 * @example
 * ```ts
 * await generateText({
 *   model: slmkit(model),
 *   prompt: 'Hi!',
 *   providerOptions: { slmkit: { templateVariables: { enable_thinking: false }, repetitionPenalty: 1.1 } },
 * });
 * ```
 */
export type SlmkitCallOptions = Pick<
  GenerateOptions,
  | 'doSample'
  | 'minP'
  | 'repetitionPenalty'
  | 'logitBias'
  | 'logitsProcessors'
  | 'templateVariables'
  | 'eosTokenIds'
  | 'logprobs'
  | 'topLogprobs'
>;

const CALL_OPTION_KEYS: readonly (keyof SlmkitCallOptions)[] = [
  'doSample',
  'minP',
  'repetitionPenalty',
  'logitBias',
  'logitsProcessors',
  'templateVariables',
  'eosTokenIds',
  'logprobs',
  'topLogprobs',
];

/** slmkit option names that have an AI SDK setting of their own, and that setting. */
const STANDARD_SETTINGS: Readonly<Record<string, string>> = {
  maxNewTokens: 'maxOutputTokens',
  temperature: 'temperature',
  topK: 'topK',
  topP: 'topP',
  presencePenalty: 'presencePenalty',
  frequencyPenalty: 'frequencyPenalty',
  seed: 'seed',
  stop: 'stopSequences',
  signal: 'abortSignal',
  responseFormat: 'output (or responseFormat)',
  tools: 'tools',
  toolChoice: 'toolChoice',
};

/**
 * Checks `options` (from `where`) hold only {@link SlmkitCallOptions} keys; the values are checked
 * by slmkit itself when the call runs.
 */
export function checkCallOptions(options: unknown, where: string): SlmkitCallOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `${where} must be an object of slmkit options (${CALL_OPTION_KEYS.join(', ')}).`,
    );
  }
  for (const key of Object.keys(options)) {
    if ((CALL_OPTION_KEYS as readonly string[]).includes(key)) continue;
    const standard = STANDARD_SETTINGS[key];
    throw new SlmkitError(
      'INVALID_OPTION',
      standard
        ? `${where}.${key}: give the AI SDK's own setting \`${standard}\` instead.`
        : `${where}.${key} is not an option of @slmkit/ai-sdk; the options are ${CALL_OPTION_KEYS.join(', ')}.`,
    );
  }
  return options as SlmkitCallOptions;
}

/** What a call of the AI SDK becomes for slmkit. */
export interface PreparedOptions {
  options: GenerateOptions;
  warnings: SharedV4Warning[];
}

/**
 * The AI SDK's call settings as slmkit's `GenerateOptions`, over `defaults` (the provider's and the
 * model's slmkit options), with a warning for each setting slmkit cannot honour.
 */
export function prepareOptions(
  call: LanguageModelV4CallOptions,
  defaults: SlmkitCallOptions,
): PreparedOptions {
  const warnings: SharedV4Warning[] = [];
  const own = checkCallOptions(call.providerOptions?.slmkit, 'providerOptions.slmkit');
  const options: GenerateOptions = { ...defaults, ...(own as SlmkitCallOptions) };
  const set = <K extends keyof GenerateOptions>(key: K, value: GenerateOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('maxNewTokens', call.maxOutputTokens);
  set('temperature', call.temperature);
  set('topP', call.topP);
  set('topK', call.topK);
  set('presencePenalty', call.presencePenalty);
  set('frequencyPenalty', call.frequencyPenalty);
  set('seed', call.seed);
  if (call.stopSequences && call.stopSequences.length > 0) options.stop = call.stopSequences;
  set('signal', call.abortSignal);

  const format = call.responseFormat;
  if (format?.type === 'json') {
    options.responseFormat = format.schema
      ? {
          type: 'json_schema',
          schema: format.schema as Record<string, unknown>,
          ...(format.name !== undefined ? { name: format.name } : {}),
        }
      : { type: 'json' };
    if (format.description !== undefined) {
      warnings.push({
        type: 'unsupported',
        feature: 'responseFormat.description',
        details: 'slmkit constrains the output to the schema; the description is not shown to the model.',
      });
    }
  }

  const tools: ToolDefinition[] = [];
  for (const tool of call.tools ?? []) {
    if (tool.type !== 'function') {
      warnings.push({
        type: 'unsupported',
        feature: `provider-defined tool ${tool.name}`,
        details: `${tool.id} runs on its provider's servers; slmkit calls function tools only, so it was left out.`,
      });
      continue;
    }
    tools.push({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        parameters: tool.inputSchema as Record<string, unknown>,
      },
    });
    if (tool.inputExamples && tool.inputExamples.length > 0) {
      warnings.push({
        type: 'unsupported',
        feature: `inputExamples of tool ${tool.name}`,
        details:
          "Chat templates have no place for them; add them to the tool's description (or use addToolInputExamplesMiddleware).",
      });
    }
  }
  const choice = call.toolChoice;
  if (tools.length > 0) {
    options.tools = tools;
    if (choice) options.toolChoice = choice.type === 'tool' ? { name: choice.toolName } : choice.type;
    const constrained = choice?.type === 'required' || choice?.type === 'tool';
    const strict =
      call.tools?.filter((t) => t.type === 'function' && t.strict === true).map((t) => t.name) ?? [];
    if (!constrained && strict.length > 0) {
      warnings.push({
        type: 'unsupported',
        feature: 'strict tools with toolChoice auto or none',
        details: `slmkit constrains a call's input to its schema only with toolChoice 'required' or { type: 'tool' }; the input of ${strict.join(', ')} is parsed, not constrained.`,
      });
    }
  } else if (choice && choice.type !== 'auto' && choice.type !== 'none') {
    throw new SlmkitError(
      'INVALID_OPTION',
      `toolChoice ${JSON.stringify(choice)} needs tools, and the call has no function tools: give the tool in \`tools\`.`,
    );
  }

  if (call.reasoning !== undefined && call.reasoning !== 'provider-default') {
    warnings.push({
      type: 'unsupported',
      feature: `reasoning ${JSON.stringify(call.reasoning)}`,
      details:
        "slmkit runs the model's chat template as it is; a template variable may switch reasoning (Qwen3: providerOptions.slmkit.templateVariables { enable_thinking: false }).",
    });
  }
  return { options, warnings };
}
