import { type CreateModelOptions, type LanguageModel, loadModel, SlmkitError } from '@slmkit/core';
import { createNodeBackend } from './backend.js';
import { isLocalFolder, openLocalFolder } from './local-folder.js';

/** Options of the Node.js {@link createModel}. */
export interface NodeCreateModelOptions extends Partial<CreateModelOptions> {}

/**
 * Loads a model for Node.js on onnxruntime-node (CPU).
 *
 * @param source a local folder in the Hugging Face layout (config.json, tokenizer.json, onnx/model.onnx, ...)
 * @example
 * ```ts
 * import { createModel } from '@slmkit/node';
 * const model = await createModel('./models/SmolLM2-135M-Instruct');
 * const { text } = await model.generate('Once upon a time', { maxNewTokens: 32 });
 * await model.dispose();
 * ```
 */
export async function createModel(
  source: string,
  options: NodeCreateModelOptions = {},
): Promise<LanguageModel> {
  if (!isLocalFolder(source)) {
    throw new SlmkitError('MODEL_FILE_MISSING', `No model folder at ${source}.`);
  }
  return loadModel(openLocalFolder(source), { ...options, backend: options.backend ?? createNodeBackend() });
}
