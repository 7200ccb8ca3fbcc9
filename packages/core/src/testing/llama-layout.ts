/**
 * The Llama decoder's tensors as Hugging Face / Optimum exports name and shape them, and how the
 * deterministic test weights are drawn for them. The ONNX model builder of the repository's tests
 * (test/fixtures) writes these tensors into a graph; the test model of `@slmkit/core/testing`
 * computes with them directly. Both call {@link weightDefs}, so a seed gives the same numbers.
 */
import type { WeightDef } from './weights.js';

/** The dimensions that decide a Llama decoder's tensors (field names as config.json, in camelCase). */
export interface LlamaShape {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly tieWordEmbeddings: boolean;
}

/** Tensor names, as in Optimum's `model.onnx` (weights and the few constants the forward pass reads). */
export const names = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  invFreq: '/model/rotary_emb/inv_freq',
  eps: '/model/constants/rms_norm_eps',
  layer: (i: number) => ({
    inputNorm: `model.layers.${i}.input_layernorm.weight`,
    q: `model.layers.${i}.self_attn.q_proj.weight`,
    k: `model.layers.${i}.self_attn.k_proj.weight`,
    v: `model.layers.${i}.self_attn.v_proj.weight`,
    o: `model.layers.${i}.self_attn.o_proj.weight`,
    postNorm: `model.layers.${i}.post_attention_layernorm.weight`,
    gate: `model.layers.${i}.mlp.gate_proj.weight`,
    up: `model.layers.${i}.mlp.up_proj.weight`,
    down: `model.layers.${i}.mlp.down_proj.weight`,
  }),
};

/**
 * Weight shapes and init scales. Projection weights are stored [in, out] (already transposed for
 * MatMul, as in Optimum exports). Scales keep every sublayer's output around unit RMS, so the
 * layers (not just the last token's embedding) decide the next token.
 */
export function weightDefs(s: LlamaShape): WeightDef[] {
  const H = s.hiddenSize;
  const I = s.intermediateSize;
  const qOut = s.numAttentionHeads * s.headDim;
  const kvOut = s.numKeyValueHeads * s.headDim;
  const linear = (name: string, inp: number, out: number, gain = 1): WeightDef => ({
    name,
    dims: [inp, out],
    mean: 0,
    std: gain / Math.sqrt(inp),
  });
  const norm = (name: string): WeightDef => ({ name, dims: [H], mean: 1, std: 0.1 });
  const defs: WeightDef[] = [{ name: names.embed, dims: [s.vocabSize, H], mean: 0, std: 2 / Math.sqrt(H) }];
  for (let i = 0; i < s.numHiddenLayers; i++) {
    const n = names.layer(i);
    defs.push(
      norm(n.inputNorm),
      linear(n.q, H, qOut, 1.2),
      linear(n.k, H, kvOut, 1.2),
      linear(n.v, H, kvOut),
      linear(n.o, qOut, H),
      norm(n.postNorm),
      linear(n.gate, H, I),
      linear(n.up, H, I),
      linear(n.down, I, H),
    );
  }
  defs.push(norm(names.finalNorm));
  if (!s.tieWordEmbeddings) defs.push(linear(names.lmHead, H, s.vocabSize, 2));
  return defs;
}

/** HF LlamaRotaryEmbedding's default inv_freq, rounded to float32 as in the exported graph. */
export function invFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < half; j++) out[j] = 1 / theta ** ((2 * j) / headDim);
  return out;
}
