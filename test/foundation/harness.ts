/** Shared helpers: run one decoder step on ONNX Runtime or the reference backend with the same feeds. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import { ONNX_FILE } from '../fixtures/models.js';
import { createReferenceBackend } from '../reference/index.js';

export interface Runner {
  readonly name: string;
  readonly inputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  tensor(type: 'int64' | 'float32' | 'float16', data: Tensor.DataType, dims: number[]): Tensor;
  release(): Promise<void>;
}

export interface Dims {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  kvType: 'float32' | 'float16';
}

/** Model dimensions as config.json states them. */
export function readDims(dir: string): Dims {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return {
    layers: c.num_hidden_layers,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    vocab: c.vocab_size,
    kvType: c['transformers.js_config']?.kv_cache_dtype === 'float16' ? 'float16' : 'float32',
  };
}

export async function ortRunner(dir: string): Promise<Runner> {
  const session = await ort.InferenceSession.create(join(dir, ONNX_FILE));
  return {
    name: 'onnxruntime-node',
    inputNames: session.inputNames,
    run: (feeds) => session.run(feeds),
    tensor: (type, data, dims) => new ort.Tensor(type, data as Float32Array, dims) as Tensor,
    release: () => session.release(),
  };
}

export async function referenceRunner(dir: string): Promise<Runner> {
  const backend = createReferenceBackend();
  const session = await backend.createSession({ name: ONNX_FILE, path: join(dir, ONNX_FILE) }, {});
  return {
    name: 'reference',
    inputNames: session.inputNames,
    // Its values are plain { type, dims, data } objects, which is all these helpers read of a Tensor.
    run: async (feeds) => (await session.run(feeds as never)) as unknown as Record<string, Tensor>,
    tensor: (type, data, dims) => ({ type, data, dims }) as unknown as Tensor,
    release: () => session.release(),
  };
}

export interface StepInput {
  ids: number[][];
  /** [B, past + S]; all ones when omitted. */
  mask?: number[][];
  /** [B, S]; past + s when omitted. */
  positions?: number[][];
  /** present.* of the previous step (none: empty past). */
  past?: Record<string, Tensor>;
  extra?: Record<string, Tensor>;
}

/** Runs one step; returns all outputs. */
export async function step(r: Runner, d: Dims, input: StepInput): Promise<Record<string, Tensor>> {
  const B = input.ids.length;
  const S = input.ids[0].length;
  const P = input.past ? input.past['present.0.key'].dims[2] : 0;
  const mask = input.mask ?? input.ids.map(() => new Array(P + S).fill(1));
  const positions = input.positions ?? input.ids.map(() => Array.from({ length: S }, (_, s) => P + s));
  const i64 = (rows: number[][]) =>
    r.tensor('int64', BigInt64Array.from(rows.flat().map((v) => BigInt(v))), [rows.length, rows[0].length]);
  const feeds: Record<string, Tensor> = {
    input_ids: i64(input.ids),
    attention_mask: i64(mask),
    position_ids: i64(positions),
    ...input.extra,
  };
  const emptyData = () => (d.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0));
  for (let l = 0; l < d.layers; l++) {
    for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${l}.${kv}`] =
        input.past?.[`present.${l}.${kv}`] ?? r.tensor(d.kvType, emptyData(), [B, d.kvHeads, 0, d.headDim]);
    }
  }
  return r.run(feeds);
}

/** Logits of batch row b, position s, from a [B, S, V] tensor. */
export function logitsAt(t: Tensor, b: number, s: number): Float32Array {
  const [, S, V] = t.dims;
  return (t.data as Float32Array).subarray((b * S + s) * V, (b * S + s + 1) * V);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Number.NaN;
    if (d > m) m = d;
  }
  return m;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** Greedy continuation of `prompt` by `n` tokens, through the KV cache. */
export async function greedy(r: Runner, d: Dims, prompt: number[], n: number): Promise<number[]> {
  let out = await step(r, d, { ids: [prompt] });
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = argmax(logitsAt(out.logits, 0, out.logits.dims[1] - 1));
    tokens.push(next);
    if (i + 1 < n) out = await step(r, d, { ids: [[next]], past: out });
  }
  return tokens;
}

/** A fixed prompt of n ids (BOS then ordinary tokens). */
export function prompt(n: number, salt = 0): number[] {
  return [1, ...Array.from({ length: n - 1 }, (_, i) => 100 + ((i * 7919 + salt * 104729) % 31000))];
}
