/**
 * Python transformers' Llama SentencePiece rule (transformers 5.x, `LlamaTokenizer`), applied to a
 * tokenizer.json before @huggingface/tokenizers builds it.
 *
 * When `AutoTokenizer` resolves a folder to `LlamaTokenizer` (tokenizer_config.json's
 * `tokenizer_class` is `LlamaTokenizer` or `LlamaTokenizerFast`, and config.json's `model_type` is
 * not one transformers maps to another tokenizer), it does not use tokenizer.json's normalizer,
 * pre-tokenizer and decoder: it keeps the vocabulary and merges and rebuilds the rest:
 *
 * - no normalizer (the older `Prepend("▁")` + `Replace(" ", "▁")` normalizer is dropped);
 * - a `Metaspace("▁", split: false)` pre-tokenizer that prepends "▁" only to a piece that does not
 *   already start with one, with `prepend_scheme` `always` when `legacy` is true, `first` (only
 *   the text at the very start, not text after a special token) when `legacy` is false or absent,
 *   and `never` when `add_prefix_space` is false;
 * - the decoder `Replace("▁", " ")`, `ByteFallback`, `Fuse`, then `Strip(1 leading space)` unless
 *   `add_prefix_space` is false;
 * - tokenizer.json's post-processor (the `<s>` in front) is kept: in transformers 5.18,
 *   tokenizer_config.json's `add_bos_token` / `add_eos_token` do not change it for this class.
 *
 * So `"  Two"` is `▁` `▁Two` (not `▁▁` `▁Two`), and `"<s> [INST]"` has no extra `▁` after `<s>`.
 * The rule is kept to tokenizers it can describe: a BPE model with byte fallback whose decoder is
 * not byte-level (SentencePiece pieces). Byte-level BPE (Qwen, Llama 3, GPT-2 style) is never
 * touched, even when mislabelled `LlamaTokenizerFast`.
 */
export interface SentencePieceRule {
  /** When the pre-tokenizer puts "▁" in front of a piece of text that does not start with one. */
  readonly prependScheme: 'always' | 'first' | 'never';
  /** The decoder strips one leading space (`add_prefix_space` is not false). */
  readonly stripLeadingSpace: boolean;
}

/**
 * config.json `model_type`s for which transformers 5.18 does not build `LlamaTokenizer` from
 * `tokenizer_class: LlamaTokenizer`: the types it registers to its generic backends (tokenizer.json
 * used as it is: Mistral, Mixtral, Phi-3, ...) and the types whose hub class it overrides (Qwen2,
 * ...). Read from transformers' `TOKENIZER_MAPPING_NAMES` and
 * `MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS` by scripts/record-sentencepiece-ids.py; the test
 * checks this list against the recorded one.
 */
export const NON_LLAMA_MODEL_TYPES: ReadonlySet<string> = new Set([
  'EvollaModel',
  'arctic',
  'aria',
  'bigbird_pegasus',
  'camembertv2-base',
  'canary',
  'chameleon',
  'chatlm',
  'cohere_asr',
  'deepseek_ocr',
  'deepseek_ocr2',
  'deepseek_v2',
  'deepseek_v3',
  'deepseek_v32',
  'deepseek_v4',
  'deepseek_vl',
  'deepseek_vl_hybrid',
  'deepseek_vl_v2',
  'ernie4_5',
  'ernie4_5_moe',
  'flex_olmo',
  'fuyu',
  'glm',
  'glm4',
  'glm4_moe',
  'glm4_moe_lite',
  'glm4v',
  'glm4v_moe',
  'glm_image',
  'glmasr',
  'got_ocr2',
  'gpt_bigcode',
  'granite',
  'granitemoe',
  'granitemoehybrid',
  'granitemoeshared',
  'h2ovl_chat',
  'hyperclovax',
  'hyperclovax_vision_v2',
  'hyperclovax_vlm',
  'internlm2',
  'jamba',
  'janus',
  'kimi_k25',
  'kimi_linear',
  'kosmos-2',
  'llava',
  'llava_next',
  'mimo_v2_flash',
  'minicpm3',
  'minicpmv',
  'minicpmv4_6',
  'minicpmv4_7',
  'minimax_m2',
  'ministral',
  'ministral3',
  'mistral',
  'mistral3',
  'mixtral',
  'modernbert',
  'modernbert-decoder',
  'molmo',
  'molmo2',
  'nemotron',
  'nvfp4',
  'nystromformer',
  'olmo2',
  'olmo3',
  'olmo_hybrid',
  'opencua',
  'openvla',
  'paddleocr_vl',
  'pegasus_x',
  'persimmon',
  'phi3',
  'phi3_v',
  'phimoe',
  'pix2struct',
  'pixtral',
  'qwen2',
  'qwen3_5',
  'qwen3_5_moe',
  'qwen3_5_moe_text',
  'qwen4_exp',
  'smolvlm',
  'stablelm',
  'step3_vl',
  'step3p5',
  'umt5',
  'vipllava',
  'voxtral',
  'voxtral_realtime',
  'xlm-roberta-xl',
]);

const LLAMA_CLASSES = new Set(['LlamaTokenizer', 'LlamaTokenizerFast']);

/**
 * The {@link SentencePieceRule} transformers applies to this tokenizer, or undefined when it loads
 * tokenizer.json as it is (another tokenizer class, a `model_type` it maps elsewhere, a tokenizer
 * that is not SentencePiece BPE with byte fallback). `modelType` is config.json's `model_type`;
 * without it the rule follows transformers on a folder without config.json.
 */
export function sentencePieceRule(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  modelType?: string,
): SentencePieceRule | undefined {
  const tokenizerClass = tokenizerConfig.tokenizer_class;
  if (typeof tokenizerClass !== 'string' || !LLAMA_CLASSES.has(tokenizerClass)) return undefined;
  if (modelType !== undefined && NON_LLAMA_MODEL_TYPES.has(modelType)) return undefined;
  if (!isSentencePieceBpe(tokenizerJson)) return undefined;
  // LlamaTokenizer: add_prefix_space defaults to true, legacy to false (Python truthiness).
  const addPrefixSpace =
    tokenizerConfig.add_prefix_space == null || Boolean(tokenizerConfig.add_prefix_space);
  const legacy = Boolean(tokenizerConfig.legacy);
  const prependScheme = !addPrefixSpace ? 'never' : legacy ? 'always' : 'first';
  return { prependScheme, stripLeadingSpace: addPrefixSpace };
}

/**
 * `tokenizerJson` with `rule` applied: a shallow copy whose normalizer, pre-tokenizer and decoder
 * are those transformers builds. The model (vocabulary, merges), added tokens and post-processor
 * are the original's.
 */
export function applySentencePieceRule(
  tokenizerJson: Record<string, unknown>,
  rule: SentencePieceRule,
): Record<string, unknown> {
  const decoders: Record<string, unknown>[] = [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (rule.stripLeadingSpace) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    ...tokenizerJson,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: rule.prependScheme, split: false },
    decoder: { type: 'Sequence', decoders },
  };
}

/** A BPE model with byte fallback, pieces spelled with "▁" (not GPT-2's byte-level alphabet). */
function isSentencePieceBpe(tokenizerJson: Record<string, unknown>): boolean {
  const model = tokenizerJson.model as { type?: unknown; byte_fallback?: unknown } | undefined;
  if (model?.type !== 'BPE' || model.byte_fallback !== true) return false;
  const shape = JSON.stringify([tokenizerJson.pre_tokenizer ?? null, tokenizerJson.decoder ?? null]);
  return !shape.includes('"ByteLevel"');
}
