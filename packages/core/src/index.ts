/**
 * `@slmkit/core`: the contracts of slmkit (LanguageModel, Sequence, Chat, call options, stream
 * chunks, errors) and the in-process engine behind them. Apps usually import `createModel` from
 * @slmkit/node or @slmkit/web, which re-export everything here; runtime adapters use
 * `@slmkit/core/backend`.
 */
export { ChatSession, restoreChatSession } from './chat/chat-session.js';
export type { LocalLanguageModel, PrefixCacheOption } from './engine/local-model.js';
export type { ModelSourceReader } from './model/model-source.js';
export type { TextTokenizer, VocabularyEncoding } from './model/tokenizer.js';
export type { ModelDtype } from './sources/dtype.js';
export type { LoadProgress, LoadProgressCallback } from './sources/progress.js';
export type { ModelFile } from './spec/backend.js';
export type { Chat, ChatOptions, ChatTurnOptions, ContextPolicy, ContextPolicyInfo } from './spec/chat.js';
export { isSlmkitError, SlmkitError, type SlmkitErrorCode } from './spec/errors.js';
export type {
  CachedPrefix,
  CachePrefixOptions,
  EncodeOptions,
  FinishReason,
  GenerateOptions,
  GenerationResult,
  GenerationStream,
  GenerationUsage,
  Prompt,
  ResponseFormat,
  StreamChunk,
  TokenizedPrompt,
  TokenLogprob,
  TopLogprob,
} from './spec/generation.js';
export type { LanguageModel } from './spec/language-model.js';
export type { LogitsContext, LogitsProcessor, LogitsStage } from './spec/logits.js';
export type { ChatMessage, TextContentPart } from './spec/messages.js';
export type { GenerationDefaults, ModelConfig } from './spec/model-config.js';
export type { Sequence } from './spec/sequence.js';
export type { ModelStorage, StorageWriter } from './spec/storage.js';
export type { ToolCall, ToolCallError, ToolChoice, ToolDefinition } from './spec/tools.js';
