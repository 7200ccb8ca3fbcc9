export * from './download.js';
export * from './dtype.js';
export * from './keys.js';
export * from './progress.js';
export * from './remote.js';
export * from './sha256.js';
