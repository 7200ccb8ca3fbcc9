/**
 * An {@link InferenceSession} that runs {@link LlamaForward} in this thread: it declares the inputs
 * and outputs of an Optimum decoder export (input_ids, attention_mask, position_ids,
 * past_key_values.N.key|value; logits, present.N.key|value) and checks feeds as ONNX Runtime does.
 * The test model of `@slmkit/core/testing` and the repository's reference backend both use it.
 */

import { floatToHalf, halfToFloat } from '../engine/float16.js';
import { sliceAlongAxis, slicedDims } from '../engine/slice-axis.js';
import {
  type HostTensor,
  type InferenceSession,
  isResident,
  type ResidentTensor,
  type RunOptions,
  type SessionValue,
  type TensorData,
  type TensorType,
  type ValueInfo,
} from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ForwardInputs, LlamaForward } from './llama.js';

/** A host tensor, as core builds its feeds (for tests that drive a session directly). */
export function hostTensor(type: TensorType, data: TensorData, dims: readonly number[]): HostTensor {
  return { type, dims, data };
}

function toFloat64(t: HostTensor): Float64Array {
  if (t.type === 'float32') return Float64Array.from(t.data as Float32Array);
  if (t.type === 'float16') {
    // Raw IEEE half bits, as the contract carries float16.
    const bits = t.data as Uint16Array;
    const out = new Float64Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]);
    return out;
  }
  throw new Error(`reference: unsupported past type ${t.type}`);
}

/**
 * A reference session's resident output: the data stays in this object (the reference runs in this
 * thread, so "resident" only means core never sees the array until it asks with `read()`).
 */
class ReferenceResident implements ResidentTensor {
  readonly resident = true;
  #data: TensorData | undefined;

  constructor(
    readonly owner: ReferenceSession,
    readonly type: TensorType,
    readonly dims: readonly number[],
    data: TensorData,
    private readonly onDispose: (tensor: ReferenceResident) => void,
  ) {
    this.#data = data;
  }

  /** The data; throws once disposed. */
  get data(): TensorData {
    if (!this.#data) throw new SlmkitError('DISPOSED', 'reference: this resident tensor was disposed.');
    return this.#data;
  }

  get disposed(): boolean {
    return this.#data === undefined;
  }

  async read(): Promise<TensorData> {
    // A copy, as from a real device: the caller cannot change what the session holds.
    return this.data.slice();
  }

  dispose(): void {
    if (!this.#data) return;
    this.#data = undefined;
    this.onDispose(this);
  }
}

/** A session over one {@link LlamaForward}; `inputs` and `outputs` are what it declares. */
export class ReferenceSession implements InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: Readonly<Record<string, ValueInfo>>;
  readonly outputMetadata: Readonly<Record<string, ValueInfo>>;
  private model: LlamaForward | undefined;
  /** The resident outputs returned and not yet disposed (release disposes them). */
  private readonly live = new Set<ReferenceResident>();

  constructor(model: LlamaForward, inputs: readonly ValueInfo[], outputs: readonly ValueInfo[]) {
    this.model = model;
    this.inputNames = inputs.map((i) => i.name);
    this.outputNames = outputs.map((o) => o.name);
    this.inputMetadata = Object.fromEntries(inputs.map((i) => [i.name, i]));
    this.outputMetadata = Object.fromEntries(outputs.map((o) => [o.name, o]));
  }

  async run(
    values: Readonly<Record<string, SessionValue>>,
    options?: RunOptions,
  ): Promise<Record<string, SessionValue>> {
    const model = this.model;
    if (!model) throw new SlmkitError('DISPOSED', 'reference: session was released');
    const feeds: Record<string, HostTensor> = {};
    for (const [name, value] of Object.entries(values)) {
      if (!this.inputMetadata[name]) {
        if (isResident(value)) {
          throw new SlmkitError('INVALID_INPUT', `reference: "${name}" is not an input of this session`);
        }
        throw new Error(`reference: unknown input '${name}'`);
      }
      const feed = isResident(value) ? this.ownData(name, value) : value;
      // As ONNX Runtime does: a feed whose data does not fill its dims is a bug in the caller.
      const size = feed.dims.reduce((a, b) => a * b, 1);
      if (feed.data.length !== size) {
        throw new Error(
          `reference: input '${name}' has ${feed.data.length} elements for dims [${feed.dims}] (${size})`,
        );
      }
      feeds[name] = feed;
    }
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`reference: missing input '${name}'`);
      const want = this.inputMetadata[name].type;
      if (t.type !== want) throw new Error(`reference: input '${name}' is ${t.type}, expected ${want}`);
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
    const resident = new Set(options?.residentOutputs);
    const kv = (name: string, a: Float64Array): SessionValue => {
      let data: TensorData;
      if (c.kvDtype === 'float32') data = Float32Array.from(a);
      else {
        const bits = new Uint16Array(a.length);
        for (let i = 0; i < a.length; i++) bits[i] = floatToHalf(a[i]);
        data = bits;
      }
      return resident.has(name)
        ? this.resident(c.kvDtype, kvDims, data)
        : hostTensor(c.kvDtype, data, kvDims);
    };
    const result: Record<string, SessionValue> = {};
    for (const name of this.outputNames) {
      if (name === 'logits') {
        result.logits = hostTensor('float32', out.logits, [B, out.keptLen, c.vocabSize]);
        continue;
      }
      const m = /^present\.(\d+)\.(key|value)$/.exec(name);
      if (!m || Number(m[1]) >= c.numLayers) throw new Error(`reference: unknown output '${name}'`);
      result[name] = kv(name, out.present[Number(m[1])][m[2] as 'key' | 'value']);
    }
    return result;
  }

  /** Slices in this thread, into new resident tensors (as a device would, without a read). */
  async sliceResident(
    tensors: readonly ResidentTensor[],
    axis: number,
    length: number,
  ): Promise<ResidentTensor[]> {
    if (!this.model) throw new SlmkitError('DISPOSED', 'reference: session was released');
    const owned = tensors.map((tensor, i) => {
      if (tensor instanceof ReferenceResident && tensor.disposed) {
        throw new SlmkitError('DISPOSED', `reference: tensors[${i}] was disposed and cannot be sliced`);
      }
      return this.ownData(`tensors[${i}]`, tensor);
    });
    return owned.map(({ type, dims, data }) =>
      this.resident(type, slicedDims(dims, axis, length), sliceAlongAxis(data, dims, axis, length)),
    );
  }

  private resident(type: TensorType, dims: readonly number[], data: TensorData): ReferenceResident {
    const tensor = new ReferenceResident(this, type, dims, data, (t) => this.live.delete(t));
    this.live.add(tensor);
    return tensor;
  }

  /** The data of a resident feed, which must be this session's own and not disposed. */
  private ownData(name: string, value: ResidentTensor): HostTensor {
    if (!(value instanceof ReferenceResident) || value.owner !== this) {
      throw new SlmkitError(
        'INVALID_INPUT',
        `reference: input "${name}" is a resident tensor of another session; feed host tensors or this session's own outputs`,
      );
    }
    if (value.disposed) {
      throw new SlmkitError('INVALID_INPUT', `reference: input "${name}" was disposed and cannot be used`);
    }
    return { type: value.type, dims: value.dims, data: value.data };
  }

  async release(): Promise<void> {
    this.model = undefined;
    for (const tensor of [...this.live]) tensor.dispose();
  }
}
