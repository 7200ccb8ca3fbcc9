export * from './backend.js';
export * from './errors.js';
export * from './model-source.js';
export * from './storage.js';
