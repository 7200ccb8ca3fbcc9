/**
 * The pure-TypeScript reference backend: a `Backend` whose sessions run the float64 Llama forward
 * pass of `@slmkit/core/testing` (packages/core/src/testing/) on the weights of the given .onnx
 * file. Declares the same inputs/outputs as the graph, so core code can run against it exactly as
 * against ONNX Runtime.
 */
import type { Backend, InferenceSession, ModelFile, SessionOptions } from '@slmkit/core/backend';
import { ReferenceSession } from '../../packages/core/src/testing/session.js';
import { LlamaReference } from './llama.js';
import { loadOnnxModel } from './onnx-model.js';

export { hostTensor } from '../../packages/core/src/testing/session.js';

/** A Backend running the float64 reference forward pass (fast enough for the tiny test models). */
export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    async createSession(file: ModelFile, _options: SessionOptions): Promise<InferenceSession> {
      const loaded = await loadOnnxModel(file);
      return new ReferenceSession(new LlamaReference(loaded), loaded.inputs, loaded.outputs);
    },
  };
}
