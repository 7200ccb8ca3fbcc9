import type {
  JSONObject,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4Content,
  LanguageModelV4FinishReason,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
  LanguageModelV4Usage,
  SharedV4ProviderMetadata,
} from '@ai-sdk/provider';
import {
  type ChatMessage,
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStream,
  type GenerationUsage,
  isSlmkitError,
  type LanguageModel,
  type ToolCall,
} from '@slmkit/core';
import { prepareOptions, type SlmkitCallOptions } from './call-options.js';
import { convertPrompt } from './convert-prompt.js';

/** Settings of one model of the provider. */
export interface SlmkitModelSettings {
  /**
   * The model's id in the AI SDK (results' `response.modelId`, telemetry). Default: the name the
   * provider knows it by, else config.json's `_name_or_path`, else its `model_type`.
   */
  modelId?: string;
  /** slmkit options of every call on this model, under those of the call's `providerOptions.slmkit`. */
  defaults?: SlmkitCallOptions;
}

/**
 * A slmkit `LanguageModel` (in this process, or in a Web Worker) as an AI SDK language model
 * (`LanguageModelV4`, `provider: 'slmkit'`). Get one from {@link slmkit} or {@link createSlmkit}.
 *
 * @example
 * ```ts
 * import { generateText } from 'ai';
 * import { slmkit } from '@slmkit/ai-sdk';
 * const aiModel: SlmkitLanguageModel = slmkit(model);
 * const { text, usage } = await generateText({ model: aiModel, prompt: 'Hi!' });
 * ```
 */
export class SlmkitLanguageModel implements LanguageModelV4 {
  /** The AI SDK's language model interface version this implements. */
  readonly specificationVersion = 'v4';
  /** Always 'slmkit'; the key of its `providerOptions` and `providerMetadata`. */
  readonly provider = 'slmkit';
  /** See {@link SlmkitModelSettings.modelId}. */
  readonly modelId: string;
  /** No URL is read by the model: the AI SDK downloads files itself (and slmkit refuses file parts). */
  readonly supportedUrls: Record<string, RegExp[]> = {};
  /** The slmkit model every call runs on. */
  readonly model: LanguageModel;
  private readonly defaults: SlmkitCallOptions;

  /** @internal Use {@link slmkit} or {@link createSlmkit}. */
  constructor(model: LanguageModel, settings: SlmkitModelSettings = {}) {
    this.model = model;
    this.defaults = settings.defaults ?? {};
    const name = model.config?.raw?._name_or_path;
    this.modelId =
      settings.modelId ?? (typeof name === 'string' && name !== '' ? name : model.config.modelType);
  }

  /** The AI SDK's non-streaming call, made by `generateText` and `generateObject` (not meant to be called directly). */
  async doGenerate(call: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const { messages, options, warnings } = this.prepare(call);
    const timestamp = new Date();
    let result: GenerationResult;
    try {
      result = await this.model.generate(messages, options);
    } catch (error) {
      throw callError(error, call.abortSignal);
    }
    const content: LanguageModelV4Content[] = [];
    if (result.text !== '') content.push({ type: 'text', text: result.text });
    for (const toolCall of result.toolCalls ?? []) content.push(toolCallPart(toolCall));
    const providerMetadata = metadata(result);
    return {
      content,
      finishReason: mapFinishReason(result.finishReason),
      usage: mapUsage(result.usage),
      warnings,
      request: { body: requestBody(messages, options) },
      response: { modelId: this.modelId, timestamp },
      ...(providerMetadata ? { providerMetadata } : {}),
    };
  }

  /** The AI SDK's streaming call, made by `streamText` and `streamObject` (not meant to be called directly). */
  async doStream(call: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    const { messages, options, warnings } = this.prepare(call);
    const timestamp = new Date();
    const signal = call.abortSignal;
    let generation: GenerationStream<GenerationResult>;
    try {
      generation = this.model.stream(messages, options);
    } catch (error) {
      throw callError(error, signal);
    }
    // Read through the iterator (its errors end the stream); `result` only once it is done, since
    // reading `result` first would consume the stream.
    const iterator = generation[Symbol.asyncIterator]();
    const modelId = this.modelId;
    const textId = 'txt-0';
    let textStarted = false;
    let cancelled = false;
    const emitted = new Set<string>();

    const stream = new ReadableStream<LanguageModelV4StreamPart>({
      start(controller) {
        controller.enqueue({ type: 'stream-start', warnings });
        controller.enqueue({ type: 'response-metadata', modelId, timestamp });
      },
      async pull(controller) {
        const enqueue = (part: LanguageModelV4StreamPart) => {
          if (!cancelled) controller.enqueue(part);
        };
        const emitCall = (toolCall: ToolCall) => {
          if (emitted.has(toolCall.id)) return;
          emitted.add(toolCall.id);
          const part = toolCallPart(toolCall);
          enqueue({ type: 'tool-input-start', id: part.toolCallId, toolName: part.toolName });
          enqueue({ type: 'tool-input-delta', id: part.toolCallId, delta: part.input });
          enqueue({ type: 'tool-input-end', id: part.toolCallId });
          enqueue(part);
        };
        try {
          // Chunks whose text is held back ('') give no part: read on until one does.
          for (;;) {
            const next = await iterator.next();
            if (cancelled) return;
            if (next.done) {
              const result = await generation.result;
              for (const toolCall of result.toolCalls ?? []) emitCall(toolCall);
              if (textStarted) enqueue({ type: 'text-end', id: textId });
              const providerMetadata = metadata(result);
              enqueue({
                type: 'finish',
                finishReason: mapFinishReason(result.finishReason),
                usage: mapUsage(result.usage),
                ...(providerMetadata ? { providerMetadata } : {}),
              });
              controller.close();
              return;
            }
            const chunk = next.value;
            let emits = false;
            if (call.includeRawChunks) {
              enqueue({ type: 'raw', rawValue: chunk });
              emits = true;
            }
            if (chunk.text !== '') {
              if (!textStarted) enqueue({ type: 'text-start', id: textId });
              textStarted = true;
              enqueue({ type: 'text-delta', id: textId, delta: chunk.text });
              emits = true;
            }
            for (const toolCall of chunk.toolCalls ?? []) {
              emitCall(toolCall);
              emits = true;
            }
            if (emits) return;
          }
        } catch (error) {
          if (!cancelled) controller.error(callError(error, signal));
        }
      },
      async cancel() {
        // The reader stopped (or the AI SDK's abort cancelled it): stop generating.
        cancelled = true;
        await iterator.return?.();
      },
    });
    return { stream, request: { body: requestBody(messages, options) } };
  }

  private prepare(
    call: LanguageModelV4CallOptions,
  ): ReturnType<typeof prepareOptions> & { messages: ChatMessage[] } {
    const prepared = prepareOptions(call, this.defaults);
    const messages = convertPrompt(call.prompt, prepared.warnings);
    return { ...prepared, messages };
  }
}

/** slmkit's finish reason as the AI SDK's: `unified` mapped, `raw` slmkit's own. */
export function mapFinishReason(reason: FinishReason): LanguageModelV4FinishReason {
  const unified: Record<FinishReason, LanguageModelV4FinishReason['unified']> = {
    eos: 'stop',
    stop: 'stop',
    length: 'length',
    'tool-calls': 'tool-calls',
    cancelled: 'other',
  };
  return { unified: unified[reason] ?? 'other', raw: reason };
}

/** slmkit's usage as the AI SDK's: cached prompt tokens as `cacheRead`, the rest as `noCache`. */
export function mapUsage(usage: GenerationUsage): LanguageModelV4Usage {
  return {
    inputTokens: {
      total: usage.promptTokens,
      noCache: usage.promptTokens - usage.cachedPromptTokens,
      cacheRead: usage.cachedPromptTokens,
      cacheWrite: undefined,
    },
    outputTokens: { total: usage.completionTokens, text: usage.completionTokens, reasoning: undefined },
    raw: { ...usage },
  };
}

function toolCallPart(toolCall: ToolCall) {
  return {
    type: 'tool-call' as const,
    toolCallId: toolCall.id,
    toolName: toolCall.name,
    input: JSON.stringify(toolCall.arguments),
  };
}

/** `providerMetadata.slmkit`: what slmkit returns beyond the AI SDK's result (absent when nothing). */
function metadata(result: GenerationResult): SharedV4ProviderMetadata | undefined {
  const slmkit: JSONObject = {};
  if (result.toolCallErrors && result.toolCallErrors.length > 0) {
    slmkit.toolCallErrors = result.toolCallErrors.map((e) => ({ text: e.text, message: e.message }));
  }
  if (result.logprobs) slmkit.logprobs = JSON.parse(JSON.stringify(result.logprobs));
  return Object.keys(slmkit).length > 0 ? { slmkit } : undefined;
}

/** The call as slmkit gets it, for the AI SDK's `request.body` (telemetry, debugging), less what is not JSON. */
function requestBody(messages: ChatMessage[], options: GenerateOptions): unknown {
  const { signal, logitsProcessors, ...rest } = options;
  return { messages, options: rest };
}

/**
 * The error a call rejects with: an abort through the call's `abortSignal` as the signal's reason
 * (what `fetch` gives, so the AI SDK sees an AbortError), any other error as slmkit threw it.
 */
function callError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && isSlmkitError(error, 'ABORTED')) return signal.reason;
  return error;
}
