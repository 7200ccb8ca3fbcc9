import { CallQueue } from '../engine/call-queue.js';
import { queuedStream } from '../engine/generation-stream.js';
import { withToolVariables } from '../engine/prompts.js';
import { resolveGenerateOptions } from '../engine/resolve-options.js';
import { decodeSnapshot, encodeSnapshot } from '../engine/snapshot.js';
import { checkMessage as checkRenderedMessage } from '../model/chat-template.js';
import type { Chat, ChatOptions, ChatTurnOptions, ContextPolicy } from '../spec/chat.js';
import { isSlmkitError, SlmkitError, showValue } from '../spec/errors.js';
import type { GenerationResult, GenerationStream } from '../spec/generation.js';
import type { LanguageModel } from '../spec/language-model.js';
import type { ChatMessage } from '../spec/messages.js';
import type { Sequence } from '../spec/sequence.js';
import { checkContextPolicy, fitConversation } from './context-policy.js';
import { type ChatContinuation, continuationAfter, continuedPrompt } from './continuation.js';

/**
 * Checks a message as rendering would ({@link checkMessages}: INVALID_INPUT naming `where` and the
 * field or content part), and returns a copy of it as given: text parts stay parts in the history.
 */
function checkMessage(message: unknown, where: string): ChatMessage {
  checkRenderedMessage(message, where);
  const m = message as ChatMessage;
  return Array.isArray(m.content) ? { ...m, content: m.content.map((part) => ({ ...part })) } : { ...m };
}

/** The messages a turn adds: a string is a user message; messages are checked (INVALID_INPUT). */
function turnMessages(content: unknown): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  if (!Array.isArray(content)) return [checkMessage(content, 'message')];
  if (content.length === 0)
    throw new SlmkitError('INVALID_INPUT', 'A turn needs at least one message; got an empty array.');
  return content.map((m: unknown, i) => checkMessage(m, `messages[${i}]`));
}

/** The template variables of a turn: its templateVariables, with its tools as `tools`. */
const turnVariables = (turn: ChatTurnOptions) => withToolVariables(turn.templateVariables, turn.tools);

/**
 * The assistant message a reply adds to the conversation: its text, and its tool calls in the
 * OpenAI shape Hugging Face templates render (`tool_calls: [{ id, type, function: { name, arguments } }]`).
 */
function replyMessage(reply: GenerationResult): ChatMessage {
  const calls = reply.toolCalls ?? [];
  if (calls.length === 0) return { role: 'assistant', content: reply.text };
  return {
    role: 'assistant',
    content: reply.text,
    tool_calls: calls.map(({ id, name, arguments: args }) => ({
      id,
      type: 'function',
      function: { name, arguments: args },
    })),
  };
}

const isValidMessage = (message: unknown, i: number): boolean => {
  try {
    checkRenderedMessage(message, `messages[${i}]`);
    return true;
  } catch {
    return false;
  }
};

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `options` of a new chat with their defaults applied, after checking them: SlmkitError
 * 'INVALID_OPTION' when `options` is not an object, `messages` not an array, `system` not a string,
 * `contextPolicy` not one, or `defaults` break the rules of generation options (the model's own
 * option checker), so a bad option fails when the chat is made, not at some later turn;
 * 'INVALID_INPUT' for an invalid message.
 */
function checkChatOptions(options: unknown, model: LanguageModel) {
  if (!isObject(options)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Chat options must be an object (or left out); got ${showValue(options)}.`,
    );
  }
  const {
    messages = [],
    system,
    contextPolicy = 'error',
    defaults,
    history = 'tokens',
  } = options as ChatOptions;
  if (history !== 'tokens' && history !== 'text') {
    throw new SlmkitError(
      'INVALID_OPTION',
      `options.history must be 'tokens' or 'text' (or left out); got ${showValue(history)}.`,
    );
  }
  if (!Array.isArray(messages)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `options.messages must be an array of { role, content } messages (or left out); got ${showValue(messages)}.`,
    );
  }
  const initial = messages.map((m, i) => checkMessage(m, `options.messages[${i}]`));
  if (system !== undefined && typeof system !== 'string') {
    throw new SlmkitError('INVALID_OPTION', `options.system must be a string; got ${showValue(system)}.`);
  }
  checkContextPolicy(contextPolicy);
  if (defaults !== undefined) {
    try {
      resolveGenerateOptions(defaults, model.config);
    } catch (error) {
      if (!isSlmkitError(error, 'INVALID_OPTION')) throw error;
      throw new SlmkitError('INVALID_OPTION', `The chat's defaults are invalid: ${error.message}`, {
        cause: error,
      });
    }
  }
  return { messages: initial, system, contextPolicy, defaults, history };
}

/**
 * A {@link Chat} over any {@link LanguageModel}: it keeps the messages and a sequence of the model,
 * renders the whole conversation each turn and lets the sequence reuse the longest token prefix.
 * Turns of one chat run one after another.
 */
export class ChatSession implements Chat {
  private history: ChatMessage[];
  private readonly turns = new CallQueue();
  private readonly policy: ContextPolicy;
  private readonly defaults: ChatOptions['defaults'];
  private isDisposed = false;
  /** Whether turns continue from the tokens the sequence holds (`history: 'tokens'`). */
  private readonly continues: boolean;
  /** What the sequence holds after the last turn, so the next one continues from its tokens. */
  private continuation: ChatContinuation | undefined;

  /**
   * A chat on `sequence`, a sequence of `model` that the chat owns from now on (`dispose()` frees it).
   * Throws SlmkitError 'INVALID_OPTION' for invalid options and 'INVALID_INPUT' for invalid messages
   * (see checkChatOptions).
   */
  constructor(
    private readonly model: LanguageModel,
    private readonly sequence: Sequence,
    options: ChatOptions,
  ) {
    const { messages, system, contextPolicy, defaults, history } = checkChatOptions(options, model);
    this.history = system === undefined ? messages : [{ role: 'system', content: system }, ...messages];
    this.policy = contextPolicy;
    this.defaults = defaults;
    this.continues = history === 'tokens';
  }

  /**
   * A chat whose sequence holds `continuation` (a fork's, a restored chat's), so its next turn
   * continues from those tokens.
   * @internal
   */
  static continuing(
    model: LanguageModel,
    sequence: Sequence,
    options: ChatOptions,
    continuation: ChatContinuation | undefined,
  ): ChatSession {
    const chat = new ChatSession(model, sequence, options);
    if (chat.continues) chat.continuation = continuation;
    return chat;
  }

  /** A copy of the conversation so far. */
  get messages(): readonly ChatMessage[] {
    return this.history.map((m) => ({ ...m }));
  }

  /** Replaces the conversation (see {@link Chat.setMessages}); the messages are copied. */
  setMessages(messages: readonly ChatMessage[]): void {
    this.assertLive();
    if (!Array.isArray(messages))
      throw new SlmkitError('INVALID_INPUT', 'setMessages takes an array of messages.');
    this.history = messages.map((m, i) => checkMessage(m, `messages[${i}]`));
    this.continuation = undefined;
  }

  /** One turn: adds `content`, generates the reply and adds it (see {@link Chat.send}). */
  async send(
    content: string | ChatMessage | readonly ChatMessage[],
    options?: ChatTurnOptions,
  ): Promise<GenerationResult> {
    return this.stream(content, options).result;
  }

  /**
   * One turn, streamed (see {@link Chat.stream}): it waits for earlier turns, applies the context
   * policy, then runs on the chat's sequence with `options` over the chat's `defaults`. Invalid
   * content or options throw here (INVALID_INPUT, INVALID_OPTION), before the turn is queued.
   */
  stream(
    content: string | ChatMessage | readonly ChatMessage[],
    options: ChatTurnOptions = {},
  ): GenerationStream<GenerationResult> {
    this.assertLive();
    const added = turnMessages(content);
    // Spread into the defaults, `options` that are not an object would vanish: refused alone first.
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      resolveGenerateOptions(options, this.model.config);
    const turn = { ...this.defaults, ...options };
    const { maxNewTokens } = resolveGenerateOptions(turn, this.model.config);
    return queuedStream(
      () => this.turns.acquire(),
      async () => {
        this.assertLive();
        const messages = await this.fit([...this.history, ...added], turn, maxNewTokens);
        const rendered = await this.model.applyChatTemplate(messages, turnVariables(turn));
        const inputIds =
          (this.continuation && (await continuedPrompt(this.model, this.continuation, rendered))) ??
          (await this.model.encode(rendered, { addSpecialTokens: false }));
        const inner = this.model.stream({ inputIds }, { ...turn, sequence: this.sequence });
        return {
          chunks: () => inner,
          // Only after a turn that did not fail: also when the caller left early ('cancelled').
          result: async () => {
            const reply = await inner.result;
            this.history = [...messages, replyMessage(reply)];
            if (this.continues) {
              this.continuation = await continuationAfter(this.model, rendered, inputIds, reply);
            }
            return reply;
          },
        };
      },
    );
  }

  /** A copy of the conversation on a fork of the sequence, after any running turn (see {@link Chat.fork}). */
  async fork(): Promise<Chat> {
    this.assertLive();
    return this.turns.run(async () =>
      ChatSession.continuing(
        this.model,
        await this.sequence.fork(),
        {
          messages: this.history,
          contextPolicy: this.policy,
          defaults: this.defaults,
          history: this.continues ? 'tokens' : 'text',
        },
        this.continuation,
      ),
    );
  }

  /** The messages and the sequence's snapshot, after any running turn (see {@link Chat.save}). */
  async save(): Promise<Uint8Array> {
    this.assertLive();
    return this.turns.run(async () => {
      return encodeSnapshot('chat', { messages: this.history, continuation: this.savedContinuation() }, [
        await this.sequence.save(),
      ]);
    });
  }

  /** Frees the chat's sequence once a running turn ends (see {@link Chat.dispose}). */
  async dispose(): Promise<void> {
    if (this.isDisposed) return;
    this.isDisposed = true;
    await this.turns.run(() => this.sequence.dispose());
  }

  /** The messages this turn runs on, after the context policy (room is left for `maxNewTokens`). */
  private fit(
    messages: readonly ChatMessage[],
    turn: ChatTurnOptions,
    maxNewTokens: number,
  ): Promise<readonly ChatMessage[]> {
    return fitConversation(messages, this.policy, {
      contextLength: this.model.config.contextLength,
      reservedTokens: Math.max(1, maxNewTokens),
      countTokens: (list) => this.model.countTokens(list, turnVariables(turn)),
    });
  }

  /**
   * The continuation as a snapshot keeps it: its ids start with the sequence's (all but a last
   * generated token, which the sequence feeds at the next call), so only the ones after them are kept.
   */
  private savedContinuation(): SavedContinuation | undefined {
    const held = this.sequence.tokenIds;
    const last = this.continuation;
    if (!last || last.tokenIds.length < held.length || held.some((id, i) => last.tokenIds[i] !== id)) {
      return undefined;
    }
    return {
      promptText: last.promptText,
      replyText: last.replyText,
      nextIds: last.tokenIds.slice(held.length),
    };
  }

  private assertLive(): void {
    if (this.isDisposed)
      throw new SlmkitError('DISPOSED', 'This chat was disposed; create a new one with model.createChat().');
  }
}

/**
 * A chat from `chat.save()` bytes: its messages and its sequence, restored on `model`. Invalid
 * `options` throw INVALID_OPTION as `createChat`'s do, before anything is restored.
 */
export async function restoreChatSession(
  model: LanguageModel,
  snapshot: Uint8Array,
  options: Omit<ChatOptions, 'system' | 'messages'> = {},
): Promise<Chat> {
  const { header, payload } = decodeSnapshot(snapshot, 'chat');
  const messages = header.messages;
  if (!Array.isArray(messages) || !messages.every(isValidMessage)) {
    throw new SlmkitError('INVALID_SNAPSHOT', 'The chat snapshot is corrupt: it has no valid message list.');
  }
  const saved = header.continuation;
  if (saved !== undefined && !isSavedContinuation(saved, model)) {
    throw new SlmkitError('INVALID_SNAPSHOT', 'The chat snapshot is corrupt: its continuation is not valid.');
  }
  checkChatOptions(options, model);
  const sequence = await model.restoreSequence(payload);
  const continuation = saved && {
    promptText: saved.promptText,
    replyText: saved.replyText,
    tokenIds: [...sequence.tokenIds, ...saved.nextIds],
  };
  return ChatSession.continuing(model, sequence, { ...options, messages }, continuation);
}

/** A {@link ChatContinuation} in a chat snapshot: the ids it has after the sequence's. */
interface SavedContinuation {
  promptText: string;
  replyText: string;
  nextIds: number[];
}

/** Whether `value` is a continuation as `save()` writes it, with ids of `model`'s vocabulary. */
function isSavedContinuation(value: unknown, model: LanguageModel): value is SavedContinuation {
  const v = value as Partial<Record<keyof SavedContinuation, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.promptText === 'string' &&
    typeof v.replyText === 'string' &&
    Array.isArray(v.nextIds) &&
    v.nextIds.every((id) => Number.isInteger(id) && id >= 0 && id < model.config.vocabSize)
  );
}
