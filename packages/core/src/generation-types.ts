/** Why a sequence stopped: an end-of-sequence token, a stop string, the token limit or context window, or the caller stopped reading the stream. */
export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled';

/** Token counts and timings of one sequence. */
export interface GenerationUsage {
  promptTokens: number;
  /** Prompt tokens taken from the prefix cache (an earlier call's KV cache) instead of being run again. */
  cachedPromptTokens: number;
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
  finishReason: FinishReason;
  usage: GenerationUsage;
}

/** One step of a stream: the token chosen and the text it made safe to show ('' while text is held back). */
export interface StreamChunk {
  text: string;
  tokenId: number;
  /** Which prompt of a batch this token belongs to (0 for a single prompt). */
  sequenceIndex: number;
}

/**
 * Chunks as they are generated, plus the final result. Breaking out of the `for await` loop stops
 * generation and frees its resources; `result` then resolves with finishReason 'cancelled'.
 * Awaiting `result` without iterating consumes the stream.
 */
export interface GenerationStream<R> extends AsyncIterable<StreamChunk> {
  readonly result: Promise<R>;
}
