import { type LocalLanguageModel, SlmkitError } from '@slmkit/core';
import { type CreateModelOptions, createModelFromSource, loadModel } from '@slmkit/core/backend';
import { createNodeBackend, type NodeBackendOptions } from './backend.js';
import { hashLocalModelFile } from './file-digest.js';
import { isLocalFolder, openLocalFolder } from './local-folder.js';
import { type NodeSourceDefaultsOptions, nodeSourceDefaults } from './sources.js';

/**
 * Options of the Node.js {@link createModel}. `sessionThread` applies to the default backend (not
 * to a `backend` you pass).
 */
export interface NodeCreateModelOptions
  extends Partial<CreateModelOptions>,
    NodeSourceDefaultsOptions,
    NodeBackendOptions {}

/** Sources that can only mean a local path. */
const LOOKS_LIKE_PATH = /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/;

/**
 * Loads a model for Node.js on onnxruntime-node (CPU).
 *
 * @param source a local folder in the Hugging Face layout (config.json, tokenizer.json,
 *   onnx/model.onnx, ...), a Hugging Face hub repo id such as `onnx-community/SmolLM2-135M-Instruct`
 *   (downloaded once into the cache: `cacheDir` / `SLMKIT_CACHE_DIR`, default `~/.cache/slmkit`),
 *   or an http(s) base URL laid out the same way.
 * @example
 * ```ts
 * import { createModel } from '@slmkit/node';
 * const model = await createModel('onnx-community/SmolLM2-135M-Instruct', { dtype: 'q4', onProgress: console.log });
 * const { text } = await model.generate('Once upon a time', { maxNewTokens: 32 });
 * await model.dispose();
 * ```
 */
export async function createModel(
  source: string,
  options: NodeCreateModelOptions = {},
): Promise<LocalLanguageModel> {
  const backend = options.backend ?? createNodeBackend({ sessionThread: options.sessionThread });
  const defaults = nodeSourceDefaults(options);
  const storage = options.storage ?? defaults.storage;
  // Saved prefixes (cachePrefix with persist) go to the cache too, also for local folders.
  const loading = {
    ...options,
    backend,
    stateStorage: options.stateStorage ?? storage,
    hashLocalFile: hashLocalModelFile,
  };
  if (isLocalFolder(source)) return loadModel(openLocalFolder(source), loading);
  if (LOOKS_LIKE_PATH.test(source)) {
    throw new SlmkitError('MODEL_FILE_MISSING', `No model folder at ${source}: check the path.`);
  }
  return createModelFromSource(source, {
    ...loading,
    storage,
    endpoint: defaults.endpoint,
    token: defaults.token,
    allowRemote: options.allowRemote ?? defaults.allowRemote,
  });
}
