/**
 * `@slmkit/core/testing`: a real model for the tests of code built on slmkit. `createTestModel()`
 * gives a tiny Llama-architecture model with seeded weights, computed in TypeScript (no ONNX
 * Runtime, no files, no network), that behaves like any model `createModel` loads.
 */
export { createTestModel, type TestModelOptions } from './testing/test-model.js';
