import type { LocalLanguageModel, ModelSourceReader, ModelStorage } from '@slmkit/core';
import { type CreateModelOptions, createModelFromSource, loadModel } from '@slmkit/core/backend';
import { createWebBackend, type WebBackendOptions } from './backend.js';
import { isPickedFiles, openPickedFiles, type PickedFiles } from './local-files.js';
import { createCacheStorage } from './storage/cache-storage.js';
import { createOpfsStorage } from './storage/opfs-storage.js';

/** Where downloaded files are kept: a storage object, or the name of a built-in one. */
export type WebStorageChoice = ModelStorage | 'cache' | 'opfs';

/**
 * Options of the browser {@link createModel}: core's loading and download options (`dtype`,
 * `modelFile`, `revision`, `endpoint`, `token`, `fetch`, `allowRemote`, `onProgress`, `signal`,
 * `sessionOptions`), the backend's (`device`, `numThreads`, `wasmPaths`, `onWarning`), and `storage`.
 */
export interface WebCreateModelOptions
  extends Omit<Partial<CreateModelOptions>, 'storage'>,
    Omit<WebBackendOptions, 'ort'> {
  /** Where downloads are cached (default `'cache'`: the Cache API; `'opfs'`: the origin private file system). */
  storage?: WebStorageChoice;
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
 * @param source an http(s) base URL of a model folder (`https://host/models/SmolLM2-135M/`, or a
 *   path on the page's own server such as `/models/SmolLM2-135M/` or `./models/x/`), a hub
 *   repository id (`onnx-community/SmolLM2-135M-Instruct`), files the user picked, or any
 *   `ModelSourceReader`. URLs and hub ids are downloaded once into `storage` and served from it
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
): Promise<LocalLanguageModel> {
  const { storage, device, numThreads, wasmPaths, onWarning, ...rest } = options;
  const backend = options.backend ?? createWebBackend({ device, numThreads, wasmPaths, onWarning });
  const resolvedStorage = resolveWebStorage(storage);
  // Saved prefixes (cachePrefix with persist) go to the same storage, also for picked files.
  const loading = { ...rest, backend, stateStorage: rest.stateStorage ?? resolvedStorage };
  if (isPickedFiles(source)) return loadModel(openPickedFiles(source), loading);
  if (typeof source !== 'string') return loadModel(source, loading);
  return createModelFromSource(resolveRelativeUrl(source), { ...loading, storage: resolvedStorage });
}

/**
 * A path on the page's own server (`/…`, `./…`, `../…`) as an absolute URL; anything else unchanged.
 * @internal
 */
export function resolveRelativeUrl(source: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  return base && /^\.{0,2}\//.test(source) ? new URL(source, base).href : source;
}
