/**
 * `@slmkit/core/backend`: what runtime adapters need (@slmkit/node, @slmkit/web, the reference
 * backend, your own): the session contract, helpers for onnxruntime-common based runtimes, model
 * loading over a backend, and the pieces of the download cache a storage implements.
 */

export { type OpenStreams, queuedStream, type StreamedRun } from './engine/generation-stream.js';
export {
  type CreateModelOptions,
  createModelFromSource,
  type LoadModelOptions,
  loadModel,
} from './engine/load-model.js';
export { checkSequenceOption, isMessageList, type OwnedSequence } from './engine/prompts.js';
export {
  checkCachePrefixOptions,
  checkEncodeOptions,
  type ResolvedGenerateOptions,
  resolveGenerateOptions,
} from './engine/resolve-options.js';
export { slicedDims } from './engine/slice-axis.js';
export { snapshotChecksum } from './engine/snapshot.js';
// The types of `@slmkit/core` that the signatures here use, so this entry can name them all.
export type {
  CachedPrefix,
  CachePrefixOptions,
  Chat,
  ChatMessage,
  ChatOptions,
  ChatTurnOptions,
  ContextPolicy,
  ContextPolicyInfo,
  EncodeOptions,
  FinishReason,
  GenerateOptions,
  GenerationDefaults,
  GenerationResult,
  GenerationStream,
  GenerationUsage,
  LanguageModel,
  LoadProgress,
  LoadProgressCallback,
  LocalLanguageModel,
  LogitsContext,
  LogitsProcessor,
  LogitsStage,
  ModelConfig,
  ModelDtype,
  ModelSourceReader,
  ModelStorage,
  PrefixCacheOption,
  Prompt,
  ResponseFormat,
  Sequence,
  SlmkitError,
  SlmkitErrorCode,
  StorageWriter,
  StreamChunk,
  TextContentPart,
  TextTokenizer,
  TokenizedPrompt,
  VocabularyEncoding,
} from './index.js';
export type { PipelineOptions } from './logits/pipeline.js';
export type { SamplingParams } from './logits/sampler.js';
export { sampledFileDigest } from './model/fingerprint.js';
export {
  describeOrtValues,
  type OrtOutputOptions,
  toOrtSessionOptions,
  wrapOrtSession,
} from './ort/ort-session.js';
export type { ReadableStorageWriter } from './sources/download.js';
export { parseHubStorageKey } from './sources/keys.js';
export {
  DEFAULT_HUB_ENDPOINT,
  type FetchFileRequest,
  type FetchFilesOptions,
  openRemoteSource,
  type RemoteModelSource,
  type RemoteSourceOptions,
} from './sources/remote.js';
export { dataFilesIn } from './sources/repo-files.js';
export {
  type Backend,
  type HostTensor,
  type InferenceSession,
  isResident,
  type ModelFile,
  type ResidentTensor,
  type RunOptions,
  type SessionOptions,
  type SessionValue,
  type TensorData,
  type TensorType,
  type ValueInfo,
} from './spec/backend.js';
export { abortedError } from './spec/errors.js';
export { splitStorageKey, storageKeyParts } from './spec/storage.js';
