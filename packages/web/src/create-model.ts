import {
  type Backend,
  type LanguageModel,
  type LoadProgress,
  loadModel,
  type ModelDtype,
  type ModelSourceReader,
  type ModelStorage,
  onnxFileForDtype,
  openRemoteSource,
  type SessionOptions,
} from '@slmkit/core';
import { createWebBackend, type WebBackendOptions } from './backend.js';
import { isPickedFiles, openPickedFiles, type PickedFiles } from './local-files.js';
import { createCacheStorage, isDeletedCorruptEntry } from './storage/cache-storage.js';
import { createOpfsStorage } from './storage/opfs-storage.js';

/** Where downloaded files are kept: a storage object, or the name of a built-in one. */
export type WebStorageChoice = ModelStorage | 'cache' | 'opfs';

/** Options of the browser {@link createModel}. */
export interface WebCreateModelOptions extends Omit<WebBackendOptions, 'ort'> {
  /** The runtime (default: {@link createWebBackend} with `device`, `numThreads`, `wasmPaths`, `onWarning`). */
  backend?: Backend;
  /** Where downloads are cached (default `'cache'`: the Cache API; `'opfs'`: the origin private file system). */
  storage?: WebStorageChoice;
  /** Weight format to load (`onnx/model_q4.onnx` for `'q4'`, ...); default fp32 (`onnx/model.onnx`). */
  dtype?: ModelDtype;
  /** The .onnx file to load, relative to the repository (overrides `dtype`). */
  modelFile?: string;
  /** Branch, tag or commit of a hub repository (default `'main'`). */
  revision?: string;
  /** Hub endpoint (default https://huggingface.co), e.g. a mirror or your own server. */
  endpoint?: string;
  /** Access token for private or gated hub repositories. */
  token?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** `false` loads only from storage and fails with `OFFLINE` when something is missing (default true). */
  allowRemote?: boolean;
  /** Download and load progress. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts the download and load (SlmkitError `ABORTED`); partial downloads are kept for the next try. */
  signal?: AbortSignal;
  /** Runtime session settings; `executionProviders` here overrides `device`. */
  sessionOptions?: SessionOptions;
}

/** Resolves a {@link WebStorageChoice} to a storage object. */
export function resolveWebStorage(choice: WebStorageChoice = 'cache'): ModelStorage {
  if (choice === 'cache') return createCacheStorage();
  if (choice === 'opfs') return createOpfsStorage();
  return choice;
}

/**
 * Loads a model in a browser page or worker, on onnxruntime-web.
 *
 * @param source an http(s) base URL of a model folder (`https://host/models/SmolLM2-135M/`), a hub
 *   repository id (`onnx-community/SmolLM2-135M-Instruct`), files the user picked, or any
 *   {@link ModelSourceReader}. URLs and hub ids are downloaded once into `storage` and served from it
 *   afterwards.
 * @example
 * ```ts
 * import { createModel } from '@slmkit/web';
 * const model = await createModel('/models/tiny/', { onProgress: (p) => console.log(p) });
 * for await (const chunk of model.stream('Once upon a time', { maxNewTokens: 32 })) out.append(chunk.text);
 * await model.dispose();
 * ```
 */
export async function createModel(
  source: string | PickedFiles | ModelSourceReader,
  options: WebCreateModelOptions = {},
): Promise<LanguageModel> {
  const backend = options.backend ?? createWebBackend(options);
  const modelFile = options.modelFile ?? (options.dtype ? onnxFileForDtype(options.dtype) : undefined);
  const common = { backend, modelFile, sessionOptions: options.sessionOptions };
  if (isPickedFiles(source)) return loadWithProgress(openPickedFiles(source), common, options.onProgress);
  if (typeof source !== 'string') return loadWithProgress(source, common, options.onProgress);
  const storage = resolveWebStorage(options.storage);
  const load = async () => {
    const remote = await openRemoteSource(source, {
      storage,
      revision: options.revision,
      endpoint: options.endpoint,
      token: options.token,
      fetch: options.fetch,
      allowRemote: options.allowRemote,
      signal: options.signal,
    });
    const onnx = modelFile ?? 'onnx/model.onnx';
    await remote.fetchFiles(
      [
        { path: 'config.json' },
        { path: 'tokenizer.json' },
        { path: 'tokenizer_config.json', optional: true },
        { path: 'generation_config.json', optional: true },
        { path: 'chat_template.jinja', optional: true },
        { path: onnx },
      ],
      { onProgress: options.onProgress, signal: options.signal },
    );
    return loadWithProgress(remote, common, options.onProgress);
  };
  try {
    return await load();
  } catch (error) {
    // A cache entry that failed verification was deleted: loading again downloads it anew.
    if (isDeletedCorruptEntry(error)) return load();
    throw error;
  }
}

async function loadWithProgress(
  reader: ModelSourceReader,
  options: Parameters<typeof loadModel>[1],
  onProgress: ((progress: LoadProgress) => void) | undefined,
): Promise<LanguageModel> {
  onProgress?.({ phase: 'load', file: options.modelFile ?? 'onnx/model.onnx' });
  const model = await loadModel(reader, options);
  onProgress?.({ phase: 'ready' });
  return model;
}
