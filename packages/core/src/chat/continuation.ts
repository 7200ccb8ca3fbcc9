import type { GenerationResult } from '../spec/generation.js';
import type { LanguageModel } from '../spec/language-model.js';

/**
 * What a chat's sequence holds after a turn: the text of the turn's prompt as the template rendered
 * it, the reply's text, and the token ids of both as the model read and generated them.
 */
export interface ChatContinuation {
  readonly promptText: string;
  readonly replyText: string;
  readonly tokenIds: readonly number[];
}

/**
 * The state after a turn whose prompt was `promptText` (`promptIds`) and whose reply is `reply`, or
 * undefined when the reply's tokens do not spell its text (a stop string cut it, text held back):
 * then the next turn renders the whole conversation again. A final end-of-sequence token is left
 * out, since the template writes the end of the turn itself.
 */
export async function continuationAfter(
  model: LanguageModel,
  promptText: string,
  promptIds: readonly number[],
  reply: GenerationResult,
): Promise<ChatContinuation | undefined> {
  const replyIds = reply.finishReason === 'eos' ? reply.tokenIds.slice(0, -1) : reply.tokenIds;
  if ((await model.decode(replyIds)) !== reply.text) return undefined;
  return { promptText, replyText: reply.text, tokenIds: [...promptIds, ...replyIds] };
}

/**
 * The prompt ids of `rendered` (the conversation rendered for the next turn) when it continues
 * `last`: the tokens the sequence holds, then the tokens of the text after the reply. Undefined when
 * it does not (earlier messages changed or were dropped, the template rewrites past replies).
 *
 * Re-encoding the whole rendering instead would often differ from what the model generated (a
 * SentencePiece reply loses its leading "▁" in the text, tokens merge differently, a template adds
 * a newline before the reply), and the sequence would be cut back and the reply prefilled again on
 * every turn. Whitespace the template puts around the reply, or trims from it, is allowed for.
 */
export async function continuedPrompt(
  model: LanguageModel,
  last: ChatContinuation,
  rendered: string,
): Promise<number[] | undefined> {
  if (!rendered.startsWith(last.promptText)) return undefined;
  const core = last.replyText.trim();
  const at = rendered.indexOf(core, last.promptText.length);
  if (at === -1 || rendered.slice(last.promptText.length, at).trim() !== '') return undefined;
  let end = at + core.length;
  const trailing = last.replyText.slice(last.replyText.trimEnd().length);
  if (rendered.startsWith(trailing, end)) end += trailing.length;
  const rest = await model.encode(rendered.slice(end), { addSpecialTokens: false });
  return [...last.tokenIds, ...rest];
}
