import { type Backend, SlmkitError, toOrtSessionOptions, wrapOrtSession } from '@slmkit/core';
import * as ort from 'onnxruntime-node';

/**
 * The onnxruntime-node backend. It loads .onnx files from a local path (external data files are
 * found beside it) or from bytes.
 *
 * onnxruntime-node copies every output into a fresh buffer on return, even into preallocated
 * fetches, so it reports no preallocated-output capability and core does not preallocate.
 */
export function createNodeBackend(): Backend {
  return {
    name: 'onnxruntime-node',
    capabilities: { preallocatedOutputs: false, deviceResidentOutputs: false },
    async createSession(model, options) {
      const ortOptions = toOrtSessionOptions({ executionProviders: ['cpu'], ...options });
      if (model.path) return wrapOrtSession(await ort.InferenceSession.create(model.path, ortOptions));
      if (!model.data) {
        throw new SlmkitError(
          'MODEL_FILE_MISSING',
          `${model.name} has neither a local path nor data to load.`,
        );
      }
      const externalData = model.externalData?.map((file) => ({ path: file.path, data: file.data }));
      return wrapOrtSession(await ort.InferenceSession.create(model.data, { ...ortOptions, externalData }));
    },
    createTensor: (type, data, dims) => new ort.Tensor(type, data as never, dims),
  };
}
