export * from '@slmkit/core';
export * from './backend.js';
export * from './create-model.js';
export * from './local-folder.js';
export * from './sources.js';
export * from './storage/index.js';
