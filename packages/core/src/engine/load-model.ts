import { type ChatTemplate, compileChatTemplate, selectChatTemplateSource } from '../model/chat-template.js';
import { parseModelConfig, readJsonFile } from '../model/config.js';
import { inspectDecoder } from '../model/decoder-signature.js';
import { graphIdentity } from '../model/fingerprint.js';
import type { ModelSourceReader } from '../model/model-source.js';
import { createTokenizer } from '../model/tokenizer.js';
import { type ModelDtype, missingVariantError, onnxFileForDtype } from '../sources/dtype.js';
import type { LoadProgressCallback } from '../sources/progress.js';
import { openRemoteSource, type RemoteSourceOptions } from '../sources/remote.js';
import type { Backend, InferenceSession, ModelFile, SessionOptions } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelConfig } from '../spec/model-config.js';
import type { ModelStorage } from '../spec/storage.js';
import { LocalLanguageModel, type PrefixCacheOption } from './local-model.js';
import { checkGenerationDefaults } from './resolve-options.js';

/** Options of {@link loadModel} that every backend understands. */
export interface LoadModelOptions {
  /** The runtime to use; @slmkit/node and @slmkit/web fill this in. */
  backend: Backend;
  /**
   * Which ONNX variant to load, named as onnx-community repositories name them: 'fp32'
   * (`onnx/model.onnx`, the default), 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'.
   */
  dtype?: ModelDtype;
  /** The .onnx file to load, relative to the model folder; wins over `dtype`. */
  modelFile?: string;
  /** Runtime session settings (threads, execution providers, ...). */
  sessionOptions?: SessionOptions;
  /** Download and loading progress: per-file and overall bytes, then 'load' and 'ready'. */
  onProgress?: LoadProgressCallback;
  /**
   * Aborts loading: downloads stop at once; a session being created is released as soon as it is
   * ready (ONNX Runtime cannot interrupt that), and the call rejects with code 'ABORTED'.
   */
  signal?: AbortSignal;
  /**
   * The automatic prefix cache: the KV caches of recent single-prompt calls, kept so a next prompt
   * that starts with the same tokens (the next turn of a conversation, a shared system prompt) only
   * runs its new part. Least recently used caches go first once they hold more than `maxBytes`
   * (default 256 MiB). `false` turns it off. Calls with a `sequence` and batches do not use it.
   */
  prefixCache?: PrefixCacheOption;
  /**
   * How the adapter hashes an .onnx file given by local path (and its external data) for the
   * model's fingerprint, when the source has no digest of it (@slmkit/node fills this in).
   */
  hashLocalFile?: (file: ModelFile) => Promise<string>;
  /**
   * Where `cachePrefix(prompt, { persist: true })` saves prefilled prefixes, under the model's
   * fingerprint (@slmkit/node: the model cache directory; @slmkit/web: the Cache API or OPFS).
   */
  stateStorage?: ModelStorage;
}

/** Options of {@link createModelFromSource}: loading, plus where and how to download remote models. */
export interface CreateModelOptions extends LoadModelOptions, Partial<Omit<RemoteSourceOptions, 'signal'>> {}

/** The files a model load reads besides the .onnx file; optional ones may be absent. */
const MODEL_TEXT_FILES = [
  { path: 'config.json' },
  { path: 'generation_config.json', optional: true },
  { path: 'tokenizer.json' },
  { path: 'tokenizer_config.json', optional: true },
  { path: 'chat_template.jinja', optional: true },
] as const;

/** The .onnx path the options ask for. */
function modelPathOf(options: LoadModelOptions): string {
  return options.modelFile ?? onnxFileForDtype(options.dtype ?? 'fp32');
}

/**
 * Loads a model from a local reader or a remote source: a hub repo id (`org/name`) or an http(s)
 * base URL is downloaded into `options.storage` first (only what is missing or changed), with
 * progress, then loaded. @slmkit/node and @slmkit/web wrap this with their backend and storage.
 */
export async function createModelFromSource(
  source: string | ModelSourceReader,
  options: CreateModelOptions,
): Promise<LocalLanguageModel> {
  if (typeof source !== 'string') return loadModel(source, options);
  const { storage, revision, endpoint, token, fetch, allowRemote, signal, onDebug } = options;
  if (!storage) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Loading ${source} needs a storage to download into (options.storage).`,
    );
  }
  const remote = await openRemoteSource(source, {
    storage,
    revision,
    endpoint,
    token,
    fetch,
    allowRemote,
    signal,
    onDebug,
  });
  await remote.fetchFiles([...MODEL_TEXT_FILES, { path: modelPathOf(options) }], {
    onProgress: options.onProgress,
    signal,
  });
  return loadModel(remote, options);
}

/**
 * Loads a model from a {@link ModelSourceReader}: config, tokenizer, chat template and the ONNX
 * session, and checks that the graph is a causal LM. Most apps call the `createModel` of
 * @slmkit/node or @slmkit/web instead, which take a folder, hub id or URL.
 */
export async function loadModel(
  reader: ModelSourceReader,
  options: LoadModelOptions,
): Promise<LocalLanguageModel> {
  const modelPath = modelPathOf(options);
  const [configJson, generationJson, tokenizerJson, tokenizerConfig, jinjaTemplate] = await Promise.all([
    readJsonFile(reader, 'config.json', true),
    readJsonFile(reader, 'generation_config.json', false),
    readJsonFile(reader, 'tokenizer.json', true),
    readJsonFile(reader, 'tokenizer_config.json', false),
    reader.readText('chat_template.jinja'),
  ]);
  checkGenerationDefaults(generationJson, reader.location);
  const config = parseModelConfig(configJson!, generationJson, reader.location);
  let tokenizer: ReturnType<typeof createTokenizer>;
  try {
    // transformers rebuilds a Llama-class SentencePiece tokenizer unless model_type maps elsewhere.
    const modelType = typeof configJson!.model_type === 'string' ? configJson!.model_type : undefined;
    tokenizer = createTokenizer(tokenizerJson!, tokenizerConfig ?? {}, { modelType });
  } catch (cause) {
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `tokenizer.json in ${reader.location} could not be loaded: ${(cause as Error).message}`,
      { cause },
    );
  }
  const templateSource = selectChatTemplateSource(tokenizerConfig ?? {}, jinjaTemplate);
  const chatTemplate: ChatTemplate | undefined =
    templateSource === undefined ? undefined : compileChatTemplate(templateSource, tokenizer.specialTokens);

  checkLoadAborted(options.signal, modelPath);
  const file = await reader.modelFile(modelPath);
  if (!file) throw missingVariantError(modelPath, await reader.listModelFiles(), reader.location);
  options.onProgress?.({ phase: 'load', file: modelPath });
  let session: Awaited<ReturnType<Backend['createSession']>>;
  try {
    session = await options.backend.createSession(file, options.sessionOptions ?? {});
  } catch (cause) {
    if (cause instanceof SlmkitError) throw cause;
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `${modelPath} in ${reader.location} could not be loaded by ${options.backend.name}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    checkLoadAborted(options.signal, modelPath);
    const signature = inspectDecoder(session, config, modelPath);
    checkVocabulary(session, config, modelPath, reader.location);
    const model = new LocalLanguageModel({
      session,
      signature,
      config,
      tokenizer,
      chatTemplate,
      location: reader.location,
      prefixCache: options.prefixCache,
      stateStorage: options.stateStorage,
      fingerprint: graphIdentity(reader, modelPath, file, options.hashLocalFile),
    });
    options.onProgress?.({ phase: 'ready' });
    return model;
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * The sampler chooses among the logits of a position, and every token id below vocab_size (what
 * the tokenizer, eosTokenIds, logitBias and the penalties may name) must have one: a graph whose
 * logits are shorter than vocab_size is refused. Longer is fine (a vocabulary padded to a round
 * size); the ids from vocab_size on are never chosen (see LogitsPipeline). A graph that declares
 * no fixed size for the last dimension of its logits is not checked here.
 */
function checkVocabulary(
  session: InferenceSession,
  config: ModelConfig,
  modelPath: string,
  location: string,
): void {
  const shape = session.outputMetadata.logits?.shape;
  const size = shape?.[shape.length - 1];
  if (typeof size !== 'number' || size <= 0 || size >= config.vocabSize) return;
  throw new SlmkitError(
    'MODEL_FILE_INVALID',
    `config.json in ${location} says vocab_size ${config.vocabSize}, but ${modelPath} gives ${size} logits per position: every token id below vocab_size needs a logit for the sampler to choose it (a graph may have more logits than vocab_size, for a padded vocabulary, but not fewer). Set vocab_size to the model's vocabulary size (at most ${size}), or load the .onnx file exported with this config.`,
  );
}

function checkLoadAborted(signal: AbortSignal | undefined, modelPath: string): void {
  if (signal?.aborted)
    throw new SlmkitError('ABORTED', `Loading ${modelPath} was aborted.`, { cause: signal.reason });
}
