/**
 * Scenario workloads: what an application does across calls rather than one generation. Each round
 * runs every role of a scenario in its own fresh process (bench/scenario-child.ts), setup roles
 * first, the others in an order that rotates from round to round.
 *
 * - `chat-10`: a 10-turn chat; time to first token of every turn for slmkit's `createChat()` (its
 *   sequence keeps the conversation), slmkit recomputing the whole conversation each turn
 *   (`generate(messages)` with `prefixCache: false`), and transformers.js as its users write it
 *   (`apply_chat_template` + `generate` on the whole conversation, no cache).
 * - `profile-1000`: a ~1,000-token system message (a user profile) saved with
 *   `cachePrefix(profile, { persist: true })` in one process, then in fresh processes a request of
 *   profile + question that starts from the saved prefix, against the same request recomputed.
 * - `structured-output`: what a `responseFormat` costs (bench/lib/structured.ts): compile times
 *   and the token mask per token at 32k and 152k vocabularies, and greedy decoding with and
 *   without the constraint.
 */
import type { DecodeMeasure, MaskMeasure, StructuredRole } from './structured.js';
import { STRUCTURED_ROLES } from './structured.js';

export type ScenarioId = 'chat-10' | 'profile-1000' | 'structured-output';

/** chat-10: `chat` = `model.createChat()`, `recompute` = `generate(messages)` without any cache. */
export type ChatRole = 'chat' | 'recompute' | 'transformers';

/**
 * profile-1000: `save` computes and persists the prefix (then asks the question from it, in
 * memory); `restore` loads it from storage in a fresh process and asks; `recompute` asks with no
 * saved prefix and `prefixCache: false`.
 */
export type ProfileRole = 'save' | 'restore' | 'recompute';

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  /** Roles that run first in every round, in this order (what the others depend on). */
  readonly setup: readonly string[];
  /** Roles run after the setup, in an order that rotates between rounds. */
  readonly roles: readonly string[];
}

export const SCENARIOS: Record<ScenarioId, Scenario> = {
  'chat-10': {
    id: 'chat-10',
    title:
      '10-turn chat, 32 new tokens per turn, greedy: createChat() vs recomputing each turn vs transformers.js',
    setup: [],
    roles: ['chat', 'recompute', 'transformers'] satisfies ChatRole[],
  },
  'profile-1000': {
    id: 'profile-1000',
    title:
      '~1,000-token profile (system message) saved with cachePrefix({ persist: true }), then profile + question in a fresh process, vs recomputed',
    setup: ['save'] satisfies ProfileRole[],
    roles: ['restore', 'recompute'] satisfies ProfileRole[],
  },
  'structured-output': {
    id: 'structured-output',
    title:
      'responseFormat (a nested JSON schema): compile times and the token mask per token at 32k and 152k vocabularies, greedy decoding with and without it',
    setup: [],
    roles: STRUCTURED_ROLES,
  },
};

export function isScenarioId(id: string): id is ScenarioId {
  return Object.hasOwn(SCENARIOS, id);
}

/** New tokens of every chat turn and of the profile request (end-of-sequence ignored: always this many). */
export const NEW_TOKENS = 32;

/**
 * Prompt length of each process's warm-up generation (4 tokens, unrelated token ids): about the
 * longest prompt the chat reaches, so ONNX Runtime's arena already has its size, as in
 * bench/child.ts.
 */
export const CHAT_WARMUP_TOKENS = 640;

/**
 * Messages every process renders and tokenizes once before measuring (text unrelated to the
 * conversation): the first text a tokenizer encodes in a process costs ~100 ms more than later ones
 * (compiling its regular expressions, cold code), which would otherwise land on turn 1 only.
 */
export const WARMUP_MESSAGES: readonly { role: string; content: string }[] = [
  { role: 'system', content: 'You are a warm-up.' },
  {
    role: 'user',
    content: 'Please repeat: the quick brown fox jumps over the lazy dog, 12 times; ß, ø, 日本, 🎉.',
  },
];

export const CHAT_SYSTEM =
  'You are a concise assistant for a small travel agency in Oslo. Answer in one or two short sentences, ' +
  'and ask a question back when a request is unclear.';

export const CHAT_USER_MESSAGES: readonly string[] = [
  'Hi! I would like to plan a weekend trip in early spring.',
  'Somewhere by the sea, not too far from Oslo.',
  'Two adults, and we would rather take the train than drive.',
  'What would a hotel for two nights cost, roughly?',
  'Is there anything to do there if it rains all weekend?',
  'We like seafood. Any restaurant you would recommend?',
  'Could we also fit in a short hike on Sunday morning?',
  'What should we pack for the weather in April?',
  'Do we need to book the train tickets in advance?',
  'Great, please summarise the plan in three bullet points.',
];

const NAMES = ['Ada', 'Bjørn', 'Chen', 'Dara', 'Emil', 'Farah', 'Gustav', 'Hana'];
const TOPICS = [
  'travel',
  'food',
  'work',
  'music',
  'sports',
  'reading',
  'family',
  'health',
  'money',
  'gardening',
];
const LIKES = [
  'prefers short answers with concrete numbers',
  'likes early morning plans and quiet places',
  'avoids anything that needs a car',
  'wants prices in Norwegian kroner',
  'asks for vegetarian options first',
  'enjoys long walks along the coast',
  'dislikes crowded tourist spots in summer',
  'keeps a strict budget and compares offers',
  'reads reviews before booking anything',
  'travels with a small dog on most trips',
  'prefers trains over planes whenever possible',
];

/**
 * The profile: a system message of about 1,000 tokens (the report gives the exact count). Built
 * deterministically, so every process and every run renders the same tokens.
 */
export function profileText(): string {
  const lines = [
    'You are the personal assistant of one user. Everything below is what you know about them; use it in every answer.',
  ];
  for (let i = 0; i < 34; i++) {
    lines.push(
      `Note ${i + 1} (${TOPICS[i % TOPICS.length]}): ${NAMES[i % NAMES.length]}'s household ${LIKES[(i * 7) % LIKES.length]}, and last year mentioned it ${i % 3 === 0 ? 'twice' : 'once'}.`,
    );
  }
  return lines.join('\n');
}

export const PROFILE_QUESTION =
  'Suggest one weekend activity for next month that fits everything you know about me.';

/** One chat turn as one system saw it. */
export interface ChatTurn {
  /** From the call until the caller received the first new token (template and tokenization included). */
  readonly ttftMs: number;
  /** Tokens of the rendered conversation this turn. */
  readonly promptTokens: number;
  /** Of those, tokens whose keys and values were reused (slmkit's usage.cachedPromptTokens; 0 for transformers.js). */
  readonly cachedPromptTokens: number;
  /** The prompt's token ids (recompute and transformers.js: to check that both fed the same). */
  readonly promptIds?: number[];
  readonly tokenIds: number[];
  /** Time from the first new token to the last. */
  readonly decodeMs: number;
}

/** What one profile-1000 process measured. */
export interface ProfileMeasure {
  /** Tokens of the profile as cachePrefix renders it (system message + generation prompt). */
  readonly prefixTokens: number;
  /** Tokens of the request (profile + question). */
  readonly requestTokens: number;
  /** Of those, reused (usage.cachedPromptTokens). */
  readonly cachedPromptTokens: number;
  /** save: compute + persist; restore: load from storage (the model's fingerprint computed on the way). */
  readonly cachePrefixMs?: number;
  readonly cachePrefixSource?: string;
  /** restore: the same prefix released and loaded from storage again (fingerprint already known). */
  readonly reloadMs?: number;
  /** save: bytes of the files under the cache directory's slmkit-state/ folder, and how many. */
  readonly snapshotBytes?: number;
  readonly snapshotFiles?: number;
  /** save: bytes of keys and values the prefix holds (tokens × layers × 2 × KV heads × head dim × 4). */
  readonly kvBytes?: number;
  /** Time to first token of the request (after cachePrefix where there is one). */
  readonly ttftMs: number;
  readonly tokenIds: number[];
}

export type ScenarioResult =
  | {
      readonly scenario: 'chat-10';
      readonly role: ChatRole;
      readonly loadMs: number;
      readonly peakRssMb: number;
      readonly turns: ChatTurn[];
    }
  | {
      readonly scenario: 'profile-1000';
      readonly role: ProfileRole;
      readonly loadMs: number;
      readonly peakRssMb: number;
      readonly profile: ProfileMeasure;
    }
  | {
      readonly scenario: 'structured-output';
      readonly role: StructuredRole;
      readonly peakRssMb: number;
      /** The mask roles' measures, or the decode roles'. */
      readonly mask?: MaskMeasure;
      readonly decode?: DecodeMeasure;
    };
