/**
 * The pure-TypeScript reference backend: a `Backend` whose sessions run LlamaReference on the
 * weights of the given .onnx file. Declares the same inputs/outputs as the graph, so core code
 * can run against it exactly as against ONNX Runtime.
 */
import type {
  Backend,
  InferenceSession,
  ModelFile,
  SessionOptions,
  TensorType,
  ValueInfo,
} from '@slmkit/core';
import { Tensor } from 'onnxruntime-common';
import { floatToHalf, halfToFloat } from './float16.js';
import { type ForwardInputs, LlamaReference } from './llama.js';
import { loadOnnxModel } from './onnx-model.js';

function makeTensor(type: TensorType, data: Tensor.DataType, dims: readonly number[]): Tensor {
  // The overloads of the Tensor constructor do not accept a union type argument.
  return new (Tensor as unknown as new (t: TensorType, d: Tensor.DataType, s: readonly number[]) => Tensor)(
    type,
    data,
    dims,
  );
}

function toFloat64(t: Tensor): Float64Array {
  if (t.type === 'float32') return Float64Array.from(t.data as Float32Array);
  if (t.type === 'float16') {
    const bits = t.data as Uint16Array | ArrayLike<number>;
    const out = new Float64Array(bits.length);
    // Uint16Array holds raw half bits; a Float16Array (where it exists) holds the values.
    if (bits instanceof Uint16Array) for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]);
    else for (let i = 0; i < bits.length; i++) out[i] = bits[i];
    return out;
  }
  throw new Error(`reference: unsupported past type ${t.type}`);
}

class ReferenceSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Readonly<Record<string, ValueInfo>>;
  readonly outputMetadata: Readonly<Record<string, ValueInfo>>;
  private model: LlamaReference | undefined;

  constructor(model: LlamaReference, inputs: ValueInfo[], outputs: ValueInfo[]) {
    this.model = model;
    this.inputNames = inputs.map((i) => i.name);
    this.outputNames = outputs.map((o) => o.name);
    this.inputMetadata = Object.fromEntries(inputs.map((i) => [i.name, i]));
    this.outputMetadata = Object.fromEntries(outputs.map((o) => [o.name, o]));
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const model = this.model;
    if (!model) throw new Error('reference: session was released');
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`reference: missing input '${name}'`);
      const want = this.inputMetadata[name].type;
      if (t.type !== want) throw new Error(`reference: input '${name}' is ${t.type}, expected ${want}`);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputMetadata[name]) throw new Error(`reference: unknown input '${name}'`);
    }
    const c = model.config;
    const ids = feeds.input_ids;
    const mask = feeds.attention_mask;
    const [B, S] = ids.dims;
    const T = mask.dims[1];
    const P = T - S;
    if (mask.dims[0] !== B || P < 0)
      throw new Error(`reference: attention_mask [${mask.dims}] vs input_ids [${ids.dims}]`);
    if (feeds.position_ids.dims.join() !== ids.dims.join()) throw new Error('reference: position_ids shape');
    const past: ForwardInputs['past'] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const key = feeds[`past_key_values.${l}.key`];
      const value = feeds[`past_key_values.${l}.value`];
      const want = [B, c.numKvHeads, P, c.headDim].join();
      if (key.dims.join() !== want || value.dims.join() !== want) {
        throw new Error(`reference: past_key_values.${l} is [${key.dims}], expected [${want}]`);
      }
      past.push({ key: toFloat64(key), value: toFloat64(value) });
    }
    const keep = feeds.num_logits_to_keep ? Number((feeds.num_logits_to_keep.data as BigInt64Array)[0]) : 0;
    const out = model.forward({
      batch: B,
      seqLen: S,
      pastLen: P,
      inputIds: ids.data as BigInt64Array,
      attentionMask: mask.data as BigInt64Array,
      positionIds: feeds.position_ids.data as BigInt64Array,
      past,
      logitsToKeep: keep,
    });

    const kvDims = [B, c.numKvHeads, T, c.headDim];
    const kv = (a: Float64Array): Tensor => {
      if (c.kvDtype === 'float32') return makeTensor('float32', Float32Array.from(a), kvDims);
      const bits = new Uint16Array(a.length);
      for (let i = 0; i < a.length; i++) bits[i] = floatToHalf(a[i]);
      return makeTensor('float16', bits, kvDims);
    };
    const result: Record<string, Tensor> = {};
    for (const name of this.outputNames) {
      if (name === 'logits') {
        result.logits = makeTensor('float32', out.logits, [B, out.keptLen, c.vocabSize]);
        continue;
      }
      const m = /^present\.(\d+)\.(key|value)$/.exec(name);
      if (!m || Number(m[1]) >= c.numLayers) throw new Error(`reference: unknown output '${name}'`);
      result[name] = kv(out.present[Number(m[1])][m[2] as 'key' | 'value']);
    }
    return result;
  }

  async release(): Promise<void> {
    this.model = undefined;
  }
}

/** A Backend running the float64 reference forward pass (fast enough for the tiny test models). */
export function createReferenceBackend(): Backend {
  return {
    name: 'reference',
    async createSession(file: ModelFile, _options: SessionOptions): Promise<InferenceSession> {
      const loaded = await loadOnnxModel(file);
      return new ReferenceSession(new LlamaReference(loaded), loaded.inputs, loaded.outputs);
    },
    createTensor: makeTensor,
  };
}
