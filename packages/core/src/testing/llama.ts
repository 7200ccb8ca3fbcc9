/**
 * Float64 forward pass of the Llama decoder (HF LlamaForCausalLM semantics), written
 * independently of any ONNX graph: it takes the weights by name (Optimum's names) and a config.
 * The test model of `@slmkit/core/testing` runs it on generated weights; the repository's reference
 * backend (test/reference) runs it on the weights of an .onnx file.
 */
import { names } from './llama-layout.js';

/** What the forward pass needs to know besides the weights. */
export interface LlamaConfig {
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  tied: boolean;
  kvDtype: 'float32' | 'float16';
  /** Rotary inverse frequencies [headDim / 2]. */
  invFreq: Float32Array;
}

/** One weight by name (see `names`), which must have the dims given; throws when it has not. */
export type WeightLookup = (name: string, dims: readonly number[]) => Float32Array;

interface LayerWeights {
  inputNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  postNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** Inputs of one step. past[i] holds layer i's key and value as float64, [B, KV, P, D]. */
export interface ForwardInputs {
  batch: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array; // [B, P + S]
  positionIds: BigInt64Array; // [B, S]
  past: { key: Float64Array; value: Float64Array }[];
  pastLen: number;
  /** Positions at the end that get logits (0 or >= S: all). */
  logitsToKeep: number;
}

export interface ForwardOutputs {
  logits: Float32Array; // [B, K, V]
  keptLen: number;
  present: { key: Float64Array; value: Float64Array }[]; // [B, KV, T, D]
}

/** out[r, c] = sum_k a[r, k] * w[k, c] (w stored [inner, cols]). */
function matmul(a: Float64Array, rows: number, inner: number, w: Float32Array, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const oo = r * cols;
    for (let k = 0; k < inner; k++) {
      const av = a[r * inner + k];
      if (av === 0) continue;
      const wo = k * cols;
      for (let c = 0; c < cols; c++) out[oo + c] += av * w[wo + c];
    }
  }
  return out;
}

function rmsNorm(x: Float64Array, rows: number, size: number, w: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < size; i++) ss += x[r * size + i] ** 2;
    const inv = 1 / Math.sqrt(ss / size + eps);
    for (let i = 0; i < size; i++) out[r * size + i] = x[r * size + i] * inv * w[i];
  }
  return out;
}

/**
 * The forward pass of one decoder step over a batch: embeddings, then per layer RMSNorm, rotary
 * attention with grouped KV heads over past + new positions, SwiGLU MLP; final norm and LM head.
 */
export class LlamaForward {
  readonly config: LlamaConfig;
  private readonly embed: Float32Array;
  private readonly lmHead: Float32Array | undefined;
  private readonly finalNorm: Float32Array;
  private readonly layers: LayerWeights[];

  constructor(config: LlamaConfig, weight: WeightLookup) {
    this.config = config;
    const c = config;
    const H = c.hiddenSize;
    this.embed = weight(names.embed, [c.vocabSize, H]);
    this.finalNorm = weight(names.finalNorm, [H]);
    this.lmHead = c.tied ? undefined : weight(names.lmHead, [H, c.vocabSize]);
    this.layers = Array.from({ length: c.numLayers }, (_, i) => {
      const n = names.layer(i);
      return {
        inputNorm: weight(n.inputNorm, [H]),
        q: weight(n.q, [H, c.numHeads * c.headDim]),
        k: weight(n.k, [H, c.numKvHeads * c.headDim]),
        v: weight(n.v, [H, c.numKvHeads * c.headDim]),
        o: weight(n.o, [c.numHeads * c.headDim, H]),
        postNorm: weight(n.postNorm, [H]),
        gate: weight(n.gate, [H, c.intermediateSize]),
        up: weight(n.up, [H, c.intermediateSize]),
        down: weight(n.down, [c.intermediateSize, H]),
      };
    });
  }

  forward(inp: ForwardInputs): ForwardOutputs {
    const {
      hiddenSize: H,
      numHeads: NH,
      numKvHeads: KV,
      headDim: D,
      vocabSize: V,
      rmsNormEps: eps,
    } = this.config;
    const { batch: B, seqLen: S, pastLen: P } = inp;
    const T = P + S;
    const rows = B * S;
    const half = D / 2;
    const nRep = NH / KV;

    // Token embeddings [B*S, H].
    let x: Float64Array = new Float64Array(rows * H);
    for (let r = 0; r < rows; r++) {
      const id = Number(inp.inputIds[r]);
      if (id < 0 || id >= V) throw new Error(`reference: token id ${id} out of range`);
      for (let i = 0; i < H; i++) x[r * H + i] = this.embed[id * H + i];
    }

    // Rotary angles per (row, frequency).
    const cos = new Float64Array(rows * half);
    const sin = new Float64Array(rows * half);
    for (let r = 0; r < rows; r++) {
      const p = Number(inp.positionIds[r]);
      for (let j = 0; j < half; j++) {
        const angle = p * this.config.invFreq[j];
        cos[r * half + j] = Math.cos(angle);
        sin[r * half + j] = Math.sin(angle);
      }
    }
    // In place on [rows, heads, D]: x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1].
    const rope = (t: Float64Array, heads: number) => {
      for (let r = 0; r < rows; r++) {
        for (let h = 0; h < heads; h++) {
          const o = (r * heads + h) * D;
          for (let j = 0; j < half; j++) {
            const c = cos[r * half + j];
            const s = sin[r * half + j];
            const x1 = t[o + j];
            const x2 = t[o + half + j];
            t[o + j] = x1 * c - x2 * s;
            t[o + half + j] = x2 * c + x1 * s;
          }
        }
      }
    };

    const present: ForwardOutputs['present'] = [];
    const scores = new Float64Array(T);
    for (let l = 0; l < this.layers.length; l++) {
      const w = this.layers[l];
      const xn = rmsNorm(x, rows, H, w.inputNorm, eps);
      const q = matmul(xn, rows, H, w.q, NH * D); // [B, S, NH, D]
      const k = matmul(xn, rows, H, w.k, KV * D); // [B, S, KV, D]
      const v = matmul(xn, rows, H, w.v, KV * D);
      rope(q, NH);
      rope(k, KV);

      // Cache [B, KV, T, D] = past followed by the new positions.
      const kAll = new Float64Array(B * KV * T * D);
      const vAll = new Float64Array(B * KV * T * D);
      const past = inp.past[l];
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < KV; h++) {
          const dst = (b * KV + h) * T * D;
          const src = (b * KV + h) * P * D;
          kAll.set(past.key.subarray(src, src + P * D), dst);
          vAll.set(past.value.subarray(src, src + P * D), dst);
          for (let s = 0; s < S; s++) {
            const from = ((b * S + s) * KV + h) * D;
            kAll.set(k.subarray(from, from + D), dst + (P + s) * D);
            vAll.set(v.subarray(from, from + D), dst + (P + s) * D);
          }
        }
      }
      present.push({ key: kAll, value: vAll });

      // Attention: query s (absolute cache index P + s) sees keys j <= P + s whose mask is 1.
      const ctx = new Float64Array(rows * NH * D);
      const scale = 1 / Math.sqrt(D);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          const kvBase = (b * KV + Math.floor(h / nRep)) * T * D;
          for (let s = 0; s < S; s++) {
            const qo = ((b * S + s) * NH + h) * D;
            let max = Number.NEGATIVE_INFINITY;
            let anyVisible = false;
            for (let j = 0; j < T; j++) {
              if (j > P + s || inp.attentionMask[b * T + j] === 0n) {
                scores[j] = Number.NEGATIVE_INFINITY;
                continue;
              }
              let dot = 0;
              for (let d = 0; d < D; d++) dot += q[qo + d] * kAll[kvBase + j * D + d];
              scores[j] = dot * scale;
              anyVisible = true;
              if (scores[j] > max) max = scores[j];
            }
            // A row with nothing visible (a padding query) averages all positions, which is what a
            // finite mask value yields in float32; its output is padding and never compared.
            if (!anyVisible) {
              scores.fill(0);
              max = 0;
            }
            let sum = 0;
            for (let j = 0; j < T; j++) {
              scores[j] = Math.exp(scores[j] - max);
              sum += scores[j];
            }
            for (let j = 0; j < T; j++) {
              const p = scores[j] / sum;
              if (p === 0) continue;
              const vo = kvBase + j * D;
              for (let d = 0; d < D; d++) ctx[qo + d] += p * vAll[vo + d];
            }
          }
        }
      }
      const attn = matmul(ctx, rows, NH * D, w.o, H);
      for (let i = 0; i < x.length; i++) x[i] += attn[i];

      const y = rmsNorm(x, rows, H, w.postNorm, eps);
      const gate = matmul(y, rows, H, w.gate, this.config.intermediateSize);
      const up = matmul(y, rows, H, w.up, this.config.intermediateSize);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      const down = matmul(gate, rows, this.config.intermediateSize, w.down, H);
      for (let i = 0; i < x.length; i++) x[i] += down[i];
    }

    x = rmsNorm(x, rows, H, this.finalNorm, eps);
    const K = inp.logitsToKeep > 0 && inp.logitsToKeep < S ? inp.logitsToKeep : S;
    const logits = new Float32Array(B * K * V);
    const row = new Float64Array(V);
    for (let b = 0; b < B; b++) {
      for (let kk = 0; kk < K; kk++) {
        const xo = (b * S + (S - K + kk)) * H;
        const xr = x.subarray(xo, xo + H);
        if (this.lmHead) {
          row.set(matmul(xr, 1, H, this.lmHead, V));
        } else {
          for (let t = 0; t < V; t++) {
            let dot = 0;
            const eo = t * H;
            for (let i = 0; i < H; i++) dot += xr[i] * this.embed[eo + i];
            row[t] = dot;
          }
        }
        logits.set(row, (b * K + kk) * V);
      }
    }
    return { logits, keptLen: K, present };
  }
}
