import type { InferenceSession, TensorType } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelConfig } from '../spec/model-config.js';

/** The names of one layer's cache tensors: what the graph takes as past and gives back as present. */
export interface KvLayerNames {
  readonly pastKey: string;
  readonly pastValue: string;
  readonly presentKey: string;
  readonly presentValue: string;
}

/** How to drive a decoder graph, read from the names and types it declares (never from model_type). */
export interface DecoderSignature {
  readonly hasAttentionMask: boolean;
  readonly hasPositionIds: boolean;
  /** Merged decoders (decoder_model_merged.onnx) switch between prefill and decode with this input. */
  readonly hasUseCacheBranch: boolean;
  /** `num_logits_to_keep` or `logits_to_keep`, when the graph can skip logits of earlier positions. */
  readonly logitsToKeepInput: string | undefined;
  readonly kvLayers: readonly KvLayerNames[];
  /** Every layer's present.* output names: fed back, never read (see `RunOptions.residentOutputs`). */
  readonly presentNames: readonly string[];
  readonly kvType: TensorType;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
}

const PAST_NAME = /^past_key_values\.(\d+)\.(key|value)$/;

/** Checks that `session` is a causal LM and works out how to feed it. */
export function inspectDecoder(
  session: InferenceSession,
  config: ModelConfig,
  file: string,
): DecoderSignature {
  const inputs = new Set(session.inputNames);
  const outputs = new Set(session.outputNames);
  const describe = () =>
    `inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]`;
  if (!inputs.has('input_ids') || !outputs.has('logits')) {
    throw new SlmkitError(
      'UNSUPPORTED_MODEL',
      `${file} is not a causal language model: it needs an "input_ids" input and a "logits" output, but has ${describe()}.`,
    );
  }
  const layers = new Map<number, { key?: string; value?: string }>();
  for (const name of session.inputNames) {
    const match = PAST_NAME.exec(name);
    if (!match) continue;
    const layer = layers.get(Number(match[1])) ?? {};
    layer[match[2] as 'key' | 'value'] = name;
    layers.set(Number(match[1]), layer);
  }
  const kvLayers: KvLayerNames[] = [];
  for (let i = 0; i < layers.size; i++) {
    const layer = layers.get(i);
    const presentKey = `present.${i}.key`;
    const presentValue = `present.${i}.value`;
    if (!layer?.key || !layer.value || !outputs.has(presentKey) || !outputs.has(presentValue)) {
      throw new SlmkitError(
        'UNSUPPORTED_MODEL',
        `${file} has an incomplete KV cache for layer ${i}: expected past_key_values.${i}.key/value inputs and present.${i}.key/value outputs; it has ${describe()}.`,
      );
    }
    kvLayers.push({ pastKey: layer.key, pastValue: layer.value, presentKey, presentValue });
  }
  if (kvLayers.length === 0) {
    // Every decode step feeds only the newest token and relies on the cache for the rest: a graph
    // without one would see one token at a time and produce wrong text without any error.
    throw new SlmkitError(
      'UNSUPPORTED_MODEL',
      `${file} has no KV cache: slmkit needs past_key_values.N.key/value inputs and present.N.key/value outputs, since each decode step feeds only the newest token; it has ${describe()}. Export the model with its cache (Optimum: \`optimum-cli export onnx --task text-generation-with-past\`), or use the decoder_model_merged.onnx / model.onnx of an onnx-community repository.`,
    );
  }
  for (const name of session.inputNames) {
    const known =
      name === 'input_ids' ||
      name === 'attention_mask' ||
      name === 'position_ids' ||
      name === 'use_cache_branch' ||
      name === 'num_logits_to_keep' ||
      name === 'logits_to_keep' ||
      PAST_NAME.test(name);
    if (!known) {
      throw new SlmkitError(
        'UNSUPPORTED_MODEL',
        `${file} has an input "${name}" that slmkit does not know how to feed (${describe()}). Only decoder-only causal LMs are supported.`,
      );
    }
  }
  const firstPast = kvLayers[0] ? session.inputMetadata[kvLayers[0].pastKey] : undefined;
  const shape = firstPast?.shape;
  const kvType = firstPast?.type ?? 'float32';
  const logitsType = session.outputMetadata.logits?.type ?? 'float32';
  // The engine reads logits and keeps the KV cache as float32 or float16 (IEEE half bits); any other
  // element type would be misread, not converted.
  for (const [what, type] of [
    ['KV cache', kvType],
    ['logits', logitsType],
  ] as const) {
    if (type !== 'float32' && type !== 'float16') {
      throw new SlmkitError(
        'UNSUPPORTED_MODEL',
        `${file} has ${type} ${what}; slmkit runs graphs whose KV cache and logits are float32 or float16.`,
      );
    }
  }
  const fixed = (dim: number | string | undefined, fallback: number) =>
    typeof dim === 'number' && dim > 0 ? dim : fallback;
  return {
    hasAttentionMask: inputs.has('attention_mask'),
    hasPositionIds: inputs.has('position_ids'),
    hasUseCacheBranch: inputs.has('use_cache_branch'),
    logitsToKeepInput: inputs.has('num_logits_to_keep')
      ? 'num_logits_to_keep'
      : inputs.has('logits_to_keep')
        ? 'logits_to_keep'
        : undefined,
    kvLayers,
    presentNames: kvLayers.flatMap((layer) => [layer.presentKey, layer.presentValue]),
    kvType,
    numKeyValueHeads: fixed(shape?.[1], config.numKeyValueHeads),
    headDim: fixed(shape?.[3], config.headDim),
  };
}
