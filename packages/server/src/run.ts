// Runs one generation for a request, in its model's queue: a JSON response, or Server-Sent Events.
import type {
  FinishReason,
  GenerateOptions,
  GenerationResult,
  GenerationUsage,
  LanguageModel,
  Prompt,
  StreamChunk,
  TokenLogprob,
  ToolCall,
} from '@slmkit/core';
import { fromModelError, jsonResponse } from './errors.js';
import type { RequestQueue } from './queue.js';

/** A model as the server serves it: under a name, with its queue. */
export interface ServedModel {
  readonly name: string;
  readonly model: LanguageModel;
  readonly queue: RequestQueue;
}

/** What an endpoint asks the model for. */
export interface Generation {
  readonly prompt: Prompt;
  readonly options: GenerateOptions;
  readonly stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage. */
  readonly includeUsage: boolean;
  /** The field holding the prompt, named by errors about it. */
  readonly promptParam: string;
}

/** How an endpoint writes its response bodies (each value is one JSON body or one SSE event). */
export interface OutputFormat {
  /** The body of a call that is not streamed. */
  complete(result: GenerationResult): unknown;
  /** The events before any text (chat: the assistant role). */
  opening(): unknown[];
  /** The event of new text (with the logprobs of the tokens since the last text event, when asked for). */
  text(text: string, logprobs?: readonly TokenLogprob[]): unknown;
  /** The event of tool calls a token completed (`first`: the index of the first among the reply's calls). */
  toolCalls?(calls: readonly ToolCall[], first: number): unknown;
  /** The event that gives the finish reason. */
  finish(result: GenerationResult): unknown;
  /** The event with the usage (include_usage). */
  usage(result: GenerationResult): unknown;
}

/** OpenAI's finish_reason of a slmkit one. */
export function finishReasonOf(reason: FinishReason | 'tool-calls'): string {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool-calls':
      return 'tool_calls';
    default:
      // eos and stop strings are both 'stop' in OpenAI's API; 'cancelled' only reaches a client
      // that has gone.
      return 'stop';
  }
}

/** OpenAI's usage object, with the prompt tokens slmkit reused as cached_tokens. */
export function usageOf(usage: GenerationUsage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
  };
}

const encoder = new TextEncoder();
const event = (data: unknown) => encoder.encode(`data: ${JSON.stringify(data)}\n\n`);

/**
 * Waits for the model's turn (429 when its queue is full), runs the generation with `signal` (the
 * request's: a client that leaves aborts it, or frees its place in the queue) and answers. Errors
 * before the first token are error responses with their status; once a stream has begun, an error
 * is sent as a last `data: {"error": …}` event (and told to `onServerError` when it is a 500).
 */
export async function runGeneration(
  served: ServedModel,
  generation: Generation,
  format: OutputFormat,
  signal: AbortSignal,
  onServerError: (error: unknown) => void,
): Promise<Response> {
  const release = await served.queue.acquire(signal);
  const { prompt, promptParam } = generation;
  if (!generation.stream) {
    try {
      const result = await served.model.generate(prompt, { ...generation.options, signal });
      return jsonResponse(200, format.complete(result));
    } catch (error) {
      throw fromModelError(error, promptParam);
    } finally {
      release();
    }
  }

  // The stream is also stopped when its reader cancels (a runtime that does not abort the request).
  const cancelled = new AbortController();
  const runSignal = AbortSignal.any([signal, cancelled.signal]);
  let iterator: AsyncIterator<StreamChunk>;
  let result: Promise<GenerationResult>;
  try {
    const stream = served.model.stream(prompt, { ...generation.options, signal: runSignal });
    iterator = stream[Symbol.asyncIterator]();
    // Read only after iterating began: reading `result` first would consume the stream.
    result = stream.result;
  } catch (error) {
    release();
    throw fromModelError(error, promptParam);
  }
  // The model is free for the next request once this generation has ended, however it ended.
  result.then(release, release);
  let pending: IteratorResult<StreamChunk>;
  try {
    // Errors found when the generation starts (a prompt that does not fit, a schema the engine
    // refuses) still get their own status.
    pending = await iterator.next();
  } catch (error) {
    throw fromModelError(error, promptParam);
  }

  let next: IteratorResult<StreamChunk> | undefined = pending;
  let callsSent = 0;
  // Tokens whose text is still held back: their logprobs go with the event that shows it.
  let heldLogprobs: TokenLogprob[] = [];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const data of format.opening()) controller.enqueue(event(data));
    },
    async pull(controller) {
      try {
        // A pull must enqueue something, or the stream is not pulled again: tokens that show no
        // text yet (held back) are read past here.
        for (;;) {
          const step = next ?? (await iterator.next());
          next = undefined;
          if (step.done) break;
          const { text, toolCalls, logprob } = step.value;
          if (logprob) heldLogprobs.push(logprob);
          const calls = format.toolCalls && toolCalls?.length ? toolCalls : undefined;
          if (text !== '') {
            controller.enqueue(event(format.text(text, logprob ? heldLogprobs : undefined)));
            heldLogprobs = [];
          }
          if (calls && format.toolCalls) {
            controller.enqueue(event(format.toolCalls(calls, callsSent)));
            callsSent += calls.length;
          }
          if (text !== '' || calls) return;
        }
        const final = await result;
        controller.enqueue(event(format.finish(final)));
        if (generation.includeUsage) controller.enqueue(event(format.usage(final)));
        controller.enqueue(encoder.encode('data: [DONE]\n\n'));
        controller.close();
      } catch (error) {
        // A client that has gone reads nothing more.
        if (runSignal.aborted) return closeQuietly(controller);
        const failure = fromModelError(error, promptParam);
        if (failure.status >= 500) onServerError(failure);
        controller.enqueue(event(failure.toJSON()));
        controller.close();
      }
    },
    cancel() {
      cancelled.abort();
      void iterator.return?.().catch(() => {});
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    },
  });
}

function closeQuietly(controller: ReadableStreamDefaultController<Uint8Array>): void {
  try {
    controller.close();
  } catch {
    // Already cancelled.
  }
}
