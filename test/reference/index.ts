export { floatToHalf, halfToFloat } from '../../packages/core/src/engine/float16.js';
export { createReferenceBackend, hostTensor } from './backend.js';
export { type ForwardInputs, type ForwardOutputs, LlamaReference, type ReferenceConfig } from './llama.js';
export { type LoadedModel, loadOnnxModel } from './onnx-model.js';
