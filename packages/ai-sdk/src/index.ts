/**
 * `@slmkit/ai-sdk`: a Vercel AI SDK provider for slmkit models. `slmkit(model)` turns a slmkit
 * `LanguageModel` (from `createModel` of @slmkit/node or @slmkit/web, or `createWorkerModel`) into
 * the AI SDK's `LanguageModelV4`, for `generateText`, `streamText`, structured output and tools.
 */
export type { SlmkitCallOptions } from './call-options.js';
export { SlmkitLanguageModel, type SlmkitModelSettings } from './language-model.js';
export { createSlmkit, type SlmkitProvider, type SlmkitProviderSettings, slmkit } from './provider.js';
