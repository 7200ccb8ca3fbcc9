/**
 * The float64 Llama forward pass (packages/core/src/testing/llama.ts) on the weights of an ONNX
 * file: only weights and a few constants (rotary inverse frequencies, RMSNorm epsilon) come from
 * the file; the dimensions are read from the initializers' shapes and the graph's past inputs.
 */

import { type LlamaConfig, LlamaForward } from '../../packages/core/src/testing/llama.js';
import { names } from '../../packages/core/src/testing/llama-layout.js';
import type { LoadedModel } from './onnx-model.js';

export type {
  ForwardInputs,
  ForwardOutputs,
  LlamaConfig as ReferenceConfig,
} from '../../packages/core/src/testing/llama.js';

/** The float32 initializer `name` of `model`, checked against `dims` when given. */
function initializer(model: LoadedModel, name: string, dims?: readonly number[]): Float32Array {
  const t = model.initializers.get(name);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`reference: no float32 initializer '${name}'`);
  if (dims && t.dims.join() !== dims.join())
    throw new Error(`reference: ${name} is [${t.dims}], expected [${dims}]`);
  return t.data;
}

/** The forward pass's config, from the graph's inputs and initializers. */
function configOf(model: LoadedModel): LlamaConfig {
  const input = (name: string) => model.inputs.find((i) => i.name === name);
  let numLayers = 0;
  while (input(`past_key_values.${numLayers}.key`)) numLayers++;
  const past0 = input('past_key_values.0.key');
  const kvHeads = past0?.shape?.[1];
  const headDim = past0?.shape?.[3];
  if (typeof kvHeads !== 'number' || typeof headDim !== 'number') {
    throw new Error('reference: past_key_values.0.key must have fixed num_key_value_heads and head_dim');
  }
  const embedT = model.initializers.get(names.embed);
  if (!embedT) throw new Error(`reference: no '${names.embed}'`);
  const [vocabSize, hiddenSize] = embedT.dims;
  const qDims = model.initializers.get(names.layer(0).q)?.dims;
  const gateDims = model.initializers.get(names.layer(0).gate)?.dims;
  if (!qDims || !gateDims) throw new Error('reference: layer 0 weights missing');
  return {
    numLayers,
    hiddenSize,
    intermediateSize: gateDims[1],
    numHeads: qDims[1] / headDim,
    numKvHeads: kvHeads,
    headDim,
    vocabSize,
    rmsNormEps: initializer(model, names.eps)[0],
    tied: !model.initializers.has(names.lmHead),
    kvDtype: past0?.type === 'float16' ? 'float16' : 'float32',
    invFreq: initializer(model, names.invFreq, [headDim / 2]),
  };
}

/** The forward pass over the weights of a loaded ONNX model. */
export class LlamaReference extends LlamaForward {
  constructor(model: LoadedModel) {
    super(configOf(model), (name, dims) => initializer(model, name, dims));
  }
}
