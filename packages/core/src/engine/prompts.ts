import { type ChatTemplate, checkMessages } from '../model/chat-template.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { Prompt, TokenizedPrompt } from '../spec/generation.js';
import type { ChatMessage } from '../spec/messages.js';
import type { Sequence } from '../spec/sequence.js';
import type { ToolDefinition } from '../spec/tools.js';
import type { ModelToolCalling } from '../tools/tool-calling.js';
import { checkTemplateVariables } from './resolve-options.js';

/** True for a non-empty list of `{ role, … }` messages (as opposed to a batch of prompts). */
export function isMessageList(input: unknown): input is readonly ChatMessage[] {
  return (
    Array.isArray(input) &&
    input.length > 0 &&
    input.every((m) => typeof m === 'object' && m !== null && 'role' in m && !('inputIds' in m))
  );
}

function isTokenized(input: unknown): input is TokenizedPrompt {
  return typeof input === 'object' && input !== null && !Array.isArray(input) && 'inputIds' in input;
}

/** What turning prompts into token ids needs. */
export interface PromptEncoder {
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplate | undefined;
  readonly vocabSize: number;
  /** Where the model came from, for messages. */
  readonly location: string;
  /** The template family's tool-call format (a template without a place for tools gets them in a system message). */
  readonly toolCalling: ModelToolCalling;
}

/**
 * Renders chat messages with the model's template, or explains that it has none. Messages are
 * checked before rendering (INVALID_INPUT naming the message and field), `templateVariables` too
 * (INVALID_OPTION unless an object). Their `tools` (a call's tools, or a caller's own variable, as
 * in Hugging Face's apply_chat_template) go to the template as its `tools` variable, and also
 * where the family's template looks for them (SmolLM3's `xml_tools`, Phi-4-mini's system message,
 * or described in the system message for a template with no place for them).
 */
export function renderMessages(
  encoder: PromptEncoder,
  messages: readonly ChatMessage[],
  templateVariables: Readonly<Record<string, unknown>> | undefined,
): string {
  checkTemplateVariables(templateVariables);
  if (!encoder.chatTemplate) {
    throw new SlmkitError(
      'INVALID_INPUT',
      `The model at ${encoder.location} has no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja): pass a plain string or token ids instead of messages.`,
    );
  }
  const { tools, ...variables } = templateVariables ?? {};
  if (!Array.isArray(tools))
    return encoder.chatTemplate.render(messages, templateVariables as Record<string, unknown> | undefined);
  const toolList = tools as readonly ToolDefinition[];
  // Messages are checked first, so the tools' system message is edited as the template will see it.
  const input = encoder.toolCalling.templateInput(checkMessages(messages), toolList);
  return encoder.chatTemplate.render(input.messages, { ...variables, ...input.variables }, toolList);
}

/** `templateVariables` with the call's `tools` as the template's `tools` variable (unchanged without tools). */
export function withToolVariables(
  templateVariables: Readonly<Record<string, unknown>> | undefined,
  tools: readonly ToolDefinition[] | undefined,
): Readonly<Record<string, unknown>> | undefined {
  return tools === undefined ? templateVariables : { ...templateVariables, tools };
}

/**
 * Throws INVALID_INPUT unless `ids` is an array (possibly empty) of token ids, integers in
 * [0, vocabSize); the message names `what` (e.g. 'inputIds') and the first id that is not one.
 */
export function checkTokenIds(ids: unknown, vocabSize: number, what: string): asserts ids is number[] {
  if (!Array.isArray(ids)) {
    throw new SlmkitError(
      'INVALID_INPUT',
      `${what} must be an array of token ids (integers in [0, ${vocabSize})); got ${showValue(ids)}.`,
    );
  }
  // An index loop, so the holes of a sparse array are seen (as undefined).
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `${what}[${i}] is ${showValue(id)}, which is not a token id (an integer in [0, ${vocabSize})).`,
      );
    }
  }
}

/** Token ids of one prompt: a string is encoded, messages are rendered then encoded, token ids are checked. */
export function encodePrompt(
  encoder: PromptEncoder,
  prompt: Prompt,
  templateVariables: Readonly<Record<string, unknown>> | undefined,
): number[] {
  const { tokenizer, vocabSize } = encoder;
  if (typeof prompt === 'string') return tokenizer.encode(prompt);
  if (isMessageList(prompt)) {
    return tokenizer.encode(renderMessages(encoder, prompt, templateVariables), { addSpecialTokens: false });
  }
  if (isTokenized(prompt)) {
    const ids: unknown = prompt.inputIds;
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `inputIds must be a non-empty array of token ids; got ${showValue(ids)}.`,
      );
    }
    checkTokenIds(ids, vocabSize, 'inputIds');
    return [...ids];
  }
  throw new SlmkitError(
    'INVALID_INPUT',
    'A prompt must be a string, an array of { role, content } messages, or { inputIds: number[] }.',
  );
}

/** A sequence type of one LanguageModel implementation, which can tell the model it belongs to. */
export interface OwnedSequence extends Sequence {
  /** Whether the sequence belongs to `owner` (the model's own handle for its sequences). */
  belongsTo(owner: unknown): boolean;
  /** Throws DISPOSED when the sequence or its model was disposed. */
  assertLive(): void;
}

/**
 * Checks `GenerateOptions.sequence` for a model: a live sequence of the `kind` this model makes, owned
 * by `owner`, with a single prompt. Throws INVALID_OPTION or DISPOSED naming what is wrong.
 */
export function checkSequenceOption<S extends OwnedSequence>(
  sequence: Sequence | undefined,
  kind: abstract new (...args: never[]) => S,
  owner: unknown,
  batched: boolean,
): S | undefined {
  if (sequence === undefined) return undefined;
  if (!(sequence instanceof kind) || !sequence.belongsTo(owner)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      'options.sequence must be a sequence of this model (from model.createSequence() or model.restoreSequence()).',
    );
  }
  if (batched) {
    throw new SlmkitError('INVALID_OPTION', 'options.sequence works with a single prompt, not with a batch.');
  }
  sequence.assertLive();
  return sequence;
}
