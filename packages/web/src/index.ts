export * from '@slmkit/core';
export * from './backend.js';
export {
  createModel,
  resolveWebStorage,
  type WebCreateModelOptions,
  type WebStorageChoice,
} from './create-model.js';
export * from './local-files.js';
export {
  type BrowserModelStorage,
  type CacheStorageOptions,
  createCacheStorage,
} from './storage/cache-storage.js';
export { isQuotaError } from './storage/errors.js';
export { createOpfsStorage, type OpfsStorageOptions } from './storage/opfs-storage.js';
export {
  createWorkerModel,
  type WorkerLanguageModel,
  type WorkerLike,
  type WorkerModelOptions,
} from './worker/client.js';
export type {
  WorkerCachePrefixOptions,
  WorkerGenerateOptions,
  WorkerLoadOptions,
} from './worker/protocol.js';
export { serveModelWorker, type WorkerScope } from './worker/serve.js';
