import type { LogitsProcessor } from './logits.js';
import type { ChatMessage } from './messages.js';
import type { Sequence } from './sequence.js';
import type { ToolCall, ToolCallError, ToolChoice, ToolDefinition } from './tools.js';

/** Token ids given directly: no chat template and no encoding is applied. */
export interface TokenizedPrompt {
  /** The prompt's token ids, fed as they are (nothing is added, not even a BOS token). */
  inputIds: readonly number[];
}

/** What a model can be asked to continue: plain text, chat messages, or token ids. */
export type Prompt = string | readonly ChatMessage[] | TokenizedPrompt;

/** Options of one generate() or stream() call. Defaults come from the model's generation_config.json. */
export interface GenerateOptions {
  /** Most tokens to generate (default: generation_config's max_new_tokens, else 256). */
  maxNewTokens?: number;
  /** Sample (true) or pick the most likely token (false). Default: true when `temperature` > 0 is given, else generation_config's do_sample, else false. */
  doSample?: boolean;
  /** Softmax temperature; 0 means greedy. Default: generation_config's, else 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens; 0 turns it off. Default: generation_config's top_k, else 50 (as in Hugging Face). */
  topK?: number;
  /** Nucleus sampling: the smallest set of tokens whose probability reaches topP, in (0, 1]. Default: generation_config's top_p, else 1 (off). */
  topP?: number;
  /** Drop tokens less likely than minP × the top token's probability, in [0, 1]. Default: generation_config's min_p, else 0 (off). */
  minP?: number;
  /** Hugging Face repetition penalty over prompt and output (> 0; 1 = off). Default: generation_config's repetition_penalty, else 1. */
  repetitionPenalty?: number;
  /** OpenAI presence penalty: subtracted once from every token already generated. */
  presencePenalty?: number;
  /** OpenAI frequency penalty: subtracted per occurrence of a token already generated. */
  frequencyPenalty?: number;
  /** Added to the logits of the given token ids (use -Infinity to ban a token). */
  logitBias?: Readonly<Record<number, number>>;
  /**
   * Your own stages of the logits pipeline, run in order after the built-in penalties and bias and
   * before the sampler (docs/architecture.md has the whole order).
   */
  logitsProcessors?: readonly LogitsProcessor[];
  /** Seed of the sampler: the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** Stop when the output contains one of these strings; the stop string is not part of the output. */
  stop?: string | readonly string[];
  /** Token ids that end generation (default: the model's eos_token_id list). */
  eosTokenIds?: readonly number[];
  /** Aborts the call: the promise rejects (or the stream throws) with SlmkitError code 'ABORTED'. */
  signal?: AbortSignal;
  /** Extra variables for the chat template (e.g. `{ enable_thinking: false }` for Qwen3). */
  templateVariables?: Readonly<Record<string, unknown>>;
  /**
   * Run on this sequence's KV cache (single prompts only). The prompt is the whole text: the
   * longest token prefix it shares with `sequence.tokenIds` is reused, the sequence is cut back
   * where they differ, and only the rest is prefilled. Afterwards the sequence holds the prompt and
   * the new tokens. Without it, the model's automatic prefix cache is used.
   */
  sequence?: Sequence;
  /**
   * Constrains the output to a format (docs/structured-output.md): any JSON value, JSON that
   * matches a schema, text that matches a regular expression, or a grammar. Only tokens that keep
   * the output valid can be chosen, with greedy decoding and with sampling; the end-of-sequence
   * token only where the format can end, and generation stops (finishReason 'stop') once nothing
   * but the end can follow. For JSON the result carries the parsed value in `object`.
   */
  responseFormat?: ResponseFormat;
  /**
   * Functions the model may call (docs/tools.md). With chat messages they are rendered by the
   * model's chat template as Hugging Face's apply_chat_template renders them (a template that has
   * no place for tools gets them in a system message); with a string or token ids, the prompt must
   * describe them itself. Calls in the output are parsed in the format of the model's template
   * family and returned as `toolCalls`, not as text. Not together with `responseFormat`.
   */
  tools?: readonly ToolDefinition[];
  /** Whether and which tool the model calls (default 'auto'; see {@link ToolChoice}). Needs `tools`. */
  toolChoice?: ToolChoice;
  /**
   * Report the log-probability of every chosen token (`result.logprobs`, `chunk.logprob`), in the
   * distribution it was chosen from: after the logits pipeline (penalties, bias, a responseFormat,
   * your processors), with sampling the temperature-scaled softmax renormalised over what top-k,
   * top-p and min-p kept, greedy the softmax at temperature 1 (default false).
   */
  logprobs?: boolean;
  /** With `logprobs`: also the most likely tokens at each step, up to this many (0–20, default 0). */
  topLogprobs?: number;
}

/** One alternative of a {@link TokenLogprob}: a token and its log-probability. */
export interface TopLogprob {
  readonly tokenId: number;
  /** The token's text (special tokens included). */
  readonly token: string;
  readonly logprob: number;
}

/** The log-probability of a chosen token, and of the most likely tokens at its step (with `logprobs`). */
export interface TokenLogprob extends TopLogprob {
  /** The `topLogprobs` most likely tokens of the step, most likely first (those of probability 0 left out). */
  readonly topLogprobs: readonly TopLogprob[];
}

/**
 * The format of `responseFormat` (docs/structured-output.md):
 * - `{ type: 'json' }`: any JSON value, compact (no whitespace between tokens);
 * - `{ type: 'json_schema', schema, name? }`: JSON valid against `schema`, in the documented
 *   subset of JSON Schema (another keyword is an INVALID_OPTION error naming it), compact;
 * - `{ type: 'regex', pattern }`: text matching the whole regular expression (JavaScript syntax,
 *   without flags or lookaround);
 * - `{ type: 'grammar', grammar }`: text of the grammar's `root` rule, in xgrammar's EBNF (a GBNF
 *   dialect: `rule ::= …`, `"literals"`, `[character classes]`, `( )`, `|`, `* + ? {m,n}`).
 *
 * @example
 * ```ts
 * const { object } = await model.generate('A city:', {
 *   responseFormat: { type: 'json_schema', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
 * });
 * ```
 */
export type ResponseFormat =
  | { readonly type: 'json' }
  | {
      readonly type: 'json_schema';
      readonly schema: Readonly<Record<string, unknown>>;
      readonly name?: string;
    }
  | { readonly type: 'regex'; readonly pattern: string }
  | { readonly type: 'grammar'; readonly grammar: string };

/**
 * Why a sequence stopped: an end-of-sequence token, a stop string, the token limit or context
 * window, the caller stopped reading the stream, or the model called tools (`toolCalls`: it ended
 * after making at least one call).
 */
export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled' | 'tool-calls';

/** Token counts and timings of one sequence. */
export interface GenerationUsage {
  /** Tokens of the prompt as fed (template applied), cached ones included. */
  promptTokens: number;
  /** Prompt tokens whose keys and values were reused (a sequence, the prefix cache) instead of being run again. */
  cachedPromptTokens: number;
  /** New tokens generated (the same count as `tokenIds` of the result). */
  completionTokens: number;
  /** From the call until the first new token was chosen (includes waiting for earlier calls and the prefill). */
  timeToFirstTokenMs: number;
  /** New tokens after the first one, per second of decoding (0 when fewer than two tokens). */
  decodeTokensPerSecond: number;
  /** Whole call, in milliseconds. */
  totalMs: number;
}

/** The outcome of one prompt. */
export interface GenerationResult {
  /** The new text (special tokens and any stop string left out). */
  text: string;
  /** The new token ids, including a final end-of-sequence token when that ended the sequence. */
  tokenIds: number[];
  /** Why generation of this prompt stopped. */
  finishReason: FinishReason;
  /**
   * With `responseFormat` `json` or `json_schema`: the parsed value once the output is a complete
   * value. A generation cut before that (finishReason 'length' or 'cancelled') has no `object`,
   * never a half-parsed one; `text` then holds the valid beginning of a value.
   */
  object?: unknown;
  /**
   * With `tools`: the calls the model made, in order (empty when it made none). Their text is not
   * part of `text`.
   */
  toolCalls?: ToolCall[];
  /**
   * With `tools`: calls the model began but that do not parse (cut off, not JSON, an unknown tool);
   * their text stays in `text`. Absent when there are none.
   */
  toolCallErrors?: ToolCallError[];
  /** With `logprobs`: one entry per token of `tokenIds`, in order. */
  logprobs?: TokenLogprob[];
  /** Token counts and timings. */
  usage: GenerationUsage;
}

/** One step of a stream: the token chosen and the text it made safe to show ('' while text is held back). */
export interface StreamChunk {
  /** Text to append to what was shown so far; '' while a stop string or a UTF-8 character is incomplete. */
  text: string;
  /** The token chosen at this step. */
  tokenId: number;
  /** Which prompt of a batch this token belongs to (0 for a single prompt). */
  sequenceIndex: number;
  /** With `tools`: the calls this token completed (absent when it completed none). */
  toolCalls?: readonly ToolCall[];
  /** With `logprobs`: the token's log-probability (and the step's most likely tokens). */
  logprob?: TokenLogprob;
}

/**
 * Chunks as they are generated, plus the final result. Breaking out of the `for await` loop stops
 * generation and frees its resources; `result` then resolves with finishReason 'cancelled'.
 * Awaiting `result` without iterating consumes the stream.
 */
export interface GenerationStream<R> extends AsyncIterable<StreamChunk> {
  /** The result once generation ended (after the last chunk); rejects with the error that ended it. */
  readonly result: Promise<R>;
}

/** Options of `model.cachePrefix()`. */
export interface CachePrefixOptions {
  /**
   * Also save the prefilled prefix to the model's storage under the model's fingerprint, and load it
   * from there when it is saved already: later `cachePrefix` calls with `persist` and the same
   * prompt, in this process or another (or after a page load), load it instead of computing it
   * (default false: kept in memory only, never read from storage).
   */
  persist?: boolean;
  /** Extra variables for the chat template, when the prompt is messages. */
  templateVariables?: Readonly<Record<string, unknown>>;
  /** Aborts the prefill (SlmkitError 'ABORTED'); nothing is kept or saved. */
  signal?: AbortSignal;
}

/** Options of `model.encode()`. */
export interface EncodeOptions {
  /**
   * Add the tokenizer's special tokens (e.g. BOS) as a string prompt gets them (default true).
   * False for text that continues a prompt, as rendered chat messages are encoded.
   */
  addSpecialTokens?: boolean;
}

/** A prefix the model keeps ready (see `model.cachePrefix()`). */
export interface CachedPrefix {
  /** Tokens of the prefix. */
  readonly tokenCount: number;
  /** Where its keys and values came from: prefilled now, loaded from storage, or already in memory. */
  readonly source: 'computed' | 'storage' | 'memory';
  /** Stops keeping it in memory (a saved copy stays in storage). */
  release(): Promise<void>;
}
