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
      checkExecutionProviders(options.executionProviders);
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

/** Refuses execution providers this onnxruntime-node build does not know, naming the ones it does. */
function checkExecutionProviders(requested: readonly string[] | undefined): void {
  const known = ort.listSupportedBackends().map((b) => b.name);
  const unknown = requested?.find((ep) => !known.includes(ep));
  if (unknown !== undefined) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Execution provider "${unknown}" is not available in onnxruntime-node; it knows ${known.join(', ')}.`,
    );
  }
}
