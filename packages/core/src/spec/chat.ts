import type { GenerateOptions, GenerationResult, GenerationStream } from './generation.js';
import type { ChatMessage } from './messages.js';

/** What a {@link ContextPolicy} function is told about a conversation that does not fit. */
export interface ContextPolicyInfo {
  /** The model's context window, in tokens. */
  readonly contextLength: number;
  /** Tokens the turn needs besides its prompt (its maxNewTokens). */
  readonly reservedTokens: number;
  /** Tokens of the conversation as rendered with the model's template. */
  readonly promptTokens: number;
  /** Counts the tokens of any message list, rendered as the turn would render it. */
  countTokens(messages: readonly ChatMessage[]): Promise<number>;
}

/**
 * What a chat does when the conversation (rendered prompt plus the turn's `maxNewTokens`) no longer
 * fits the context window:
 * - `'error'` (default): SlmkitError 'CONTEXT_OVERFLOW' before any work; the chat is unchanged.
 * - `'drop-oldest'`: drops whole turns, oldest first (a user message with the replies after it),
 *   keeps system messages and the newest turn, and prefills what is left.
 * - a function: returns the messages to keep (it may also summarise or rewrite them); they must fit.
 */
export type ContextPolicy =
  | 'error'
  | 'drop-oldest'
  | ((
      messages: readonly ChatMessage[],
      info: ContextPolicyInfo,
    ) => readonly ChatMessage[] | Promise<readonly ChatMessage[]>);

/** Options of `model.createChat()`. */
export interface ChatOptions {
  /** A system message put first. */
  system?: string;
  /** Messages the conversation starts with (after `system`), e.g. restored from your own store. */
  messages?: readonly ChatMessage[];
  /** What to do when the conversation no longer fits (default 'error'). */
  contextPolicy?: ContextPolicy;
  /** Defaults for every turn, overridden by the options of `send` / `stream`. */
  defaults?: Omit<GenerateOptions, 'sequence' | 'signal'>;
  /**
   * What a turn's prompt tokens are (see docs/chat.md):
   * - `'tokens'` (default): the tokens the model read and generated in the previous turn, then the
   *   tokens of the rendering's text after the reply. Nothing is cut back and prefilled again.
   * - `'text'`: the whole rendered conversation, encoded, as `generate(messages)` (or a stateless
   *   chat server) sees it: a turn equals recomputing the conversation from scratch, and the
   *   sequence is cut back wherever encoding the previous reply again gives other tokens.
   */
  history?: 'tokens' | 'text';
}

/** Options of one chat turn: generation options, without `sequence` (the chat has its own). */
export type ChatTurnOptions = Omit<GenerateOptions, 'sequence'>;

/**
 * A multi-turn conversation that keeps its own sequence: each turn renders the whole conversation
 * with the model's chat template and continues from what the sequence already holds (see
 * `ChatOptions.history`), so a turn prefills only what is new (an edited earlier message is found
 * by comparing tokens).
 *
 * @example
 * ```ts
 * const chat = model.createChat({ system: 'You are terse.' });
 * for await (const chunk of chat.stream('Hi!')) process.stdout.write(chunk.text);
 * const { text } = await chat.send('And now?');
 * const saved = await chat.save(); // later: const again = await model.restoreChat(saved);
 * await chat.dispose();
 * ```
 */
export interface Chat {
  /** The conversation so far (system, user, assistant and any other messages). */
  readonly messages: readonly ChatMessage[];
  /**
   * Adds a user message (a string), any message, or several (e.g. the `role: 'tool'` results of the
   * previous reply's tool calls), generates the reply and adds it. A reply with tool calls joins
   * `messages` with them as `tool_calls`, as chat templates render them.
   */
  send(
    content: string | ChatMessage | readonly ChatMessage[],
    options?: ChatTurnOptions,
  ): Promise<GenerationResult>;
  /**
   * {@link Chat.send}, streamed. The reply joins `messages` when the stream ends; a stream left early
   * adds what was generated so far; a failed or aborted turn leaves the chat as it was.
   */
  stream(
    content: string | ChatMessage | readonly ChatMessage[],
    options?: ChatTurnOptions,
  ): GenerationStream<GenerationResult>;
  /** Replaces the conversation (e.g. to edit an earlier message); the next turn reuses what still matches. */
  setMessages(messages: readonly ChatMessage[]): void;
  /** An independent copy of the conversation and its cache. */
  fork(): Promise<Chat>;
  /** Messages and the sequence snapshot, as bytes for `model.restoreChat()`. */
  save(): Promise<Uint8Array>;
  /** Frees the chat's sequence. Safe to call twice; later turns throw 'DISPOSED'. */
  dispose(): Promise<void>;
}
