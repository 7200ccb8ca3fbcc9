export { createReferenceBackend, hostTensor } from './backend.js';
export { floatToHalf, halfToFloat } from './float16.js';
export { type ForwardInputs, type ForwardOutputs, LlamaReference, type ReferenceConfig } from './llama.js';
export { type LoadedModel, loadOnnxModel } from './onnx-model.js';
