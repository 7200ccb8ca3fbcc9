export { createFsStorage, type FsStorage } from './fs-storage.js';
export { hfHubCacheDir, withHfHubCache } from './hf-cache.js';
export { acquireFileLock, type FileLock, type FileLockOptions } from './lock.js';
