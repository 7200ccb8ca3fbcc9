import type { ContextPolicy, ContextPolicyInfo } from '../spec/chat.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { ChatMessage } from '../spec/messages.js';

/** What fitting a conversation needs: the window, the room the turn reserves, and a token counter. */
export interface FitRequest {
  readonly contextLength: number;
  readonly reservedTokens: number;
  countTokens(messages: readonly ChatMessage[]): Promise<number>;
}

const overflow = (what: string, tokens: number, request: FitRequest) =>
  new SlmkitError(
    'CONTEXT_OVERFLOW',
    `${what} ${tokens} tokens, and the turn reserves ${request.reservedTokens} for the answer (maxNewTokens), but the model's context window is ${request.contextLength}: lower maxNewTokens, shorten the messages, or use contextPolicy 'drop-oldest'.`,
  );

/**
 * Splits a conversation into its leading system messages and its turns: each turn starts at a user
 * message and holds the replies (assistant, tool) after it.
 */
export function splitTurns(messages: readonly ChatMessage[]): {
  system: ChatMessage[];
  turns: ChatMessage[][];
} {
  let start = 0;
  while (start < messages.length && messages[start].role === 'system') start++;
  const turns: ChatMessage[][] = [];
  for (const message of messages.slice(start)) {
    if (message.role === 'user' || turns.length === 0) turns.push([message]);
    else turns[turns.length - 1].push(message);
  }
  return { system: messages.slice(0, start), turns };
}

/** Throws INVALID_OPTION unless `policy` is a {@link ContextPolicy}: 'error', 'drop-oldest' or a function. */
export function checkContextPolicy(policy: unknown): asserts policy is ContextPolicy {
  if (policy !== 'error' && policy !== 'drop-oldest' && typeof policy !== 'function') {
    throw new SlmkitError(
      'INVALID_OPTION',
      `contextPolicy must be 'error', 'drop-oldest' or a function (messages, info) => messages; got ${showValue(policy)}.`,
    );
  }
}

/**
 * The messages to run under `policy` (checked by {@link checkContextPolicy} when the chat was
 * made): `messages` when they fit, else what the policy keeps (or an error). */
export async function fitConversation(
  messages: readonly ChatMessage[],
  policy: ContextPolicy,
  request: FitRequest,
): Promise<readonly ChatMessage[]> {
  const fits = (tokens: number) => tokens + request.reservedTokens <= request.contextLength;
  const tokens = await request.countTokens(messages);
  if (fits(tokens)) return messages;
  if (policy === 'error') throw overflow('The conversation has', tokens, request);
  if (policy === 'drop-oldest') {
    const { system, turns } = splitTurns(messages);
    while (turns.length > 1) {
      turns.shift();
      const kept = [...system, ...turns.flat()];
      const keptTokens = await request.countTokens(kept);
      if (fits(keptTokens)) return kept;
    }
    throw overflow(
      'Even with only the system messages and the newest turn, the conversation has',
      await request.countTokens([...system, ...turns.flat()]),
      request,
    );
  }
  const info: ContextPolicyInfo = { ...request, promptTokens: tokens };
  const kept = await policy(messages, info);
  if (!Array.isArray(kept) || kept.length === 0) {
    throw new SlmkitError(
      'INVALID_OPTION',
      'The contextPolicy function must return a non-empty array of messages.',
    );
  }
  const keptTokens = await request.countTokens(kept);
  if (!fits(keptTokens))
    throw overflow('The messages the contextPolicy function kept have', keptTokens, request);
  return kept;
}
