import type { ModelFile } from '@slmkit/core/backend';
import * as ort from 'onnxruntime-node';

/** The parts of a {@link ModelFile} onnxruntime-node loads from (it also crosses to the session thread). */
export type OrtModelSource = Pick<ModelFile, 'path' | 'data' | 'externalData'>;

/**
 * Creates an onnxruntime-node session from a local path (external data is found beside it) or from
 * the graph's bytes plus its external data files. Used in-process and on the session thread.
 */
export function loadOrtSession(
  model: OrtModelSource,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  if (model.path) return ort.InferenceSession.create(model.path, options);
  return ort.InferenceSession.create(model.data as Uint8Array, {
    ...options,
    externalData: model.externalData ? [...model.externalData] : undefined,
  });
}
