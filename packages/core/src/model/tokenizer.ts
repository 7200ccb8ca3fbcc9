import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { applySentencePieceRule, sentencePieceRule } from './sentencepiece-legacy.js';

/** Encodes text to token ids and back, with the model's own tokenizer.json. */
export interface TextTokenizer {
  /** Token ids of `text`; special tokens (e.g. BOS) are added as the tokenizer's post-processor says, unless `addSpecialTokens` is false. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; special tokens such as `</s>` are dropped when `skipSpecialTokens` is true. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined;
  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** The special token strings named in tokenizer_config.json (bos_token, eos_token, ...). */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** How token strings spell bytes, for grammars that match text token by token (`responseFormat`). */
  readonly vocabularyEncoding: VocabularyEncoding;
}

/**
 * How a vocabulary's token strings spell text: `byte_level` (GPT-2's byte-to-character map:
 * SmolLM, Qwen, Llama 3), `byte_fallback` (SentencePiece pieces with `▁` for a space and `<0xNN>`
 * byte tokens: Llama 2, TinyLlama, Mistral), or `raw` (the text itself). `prependSpace`: the
 * tokenizer puts a space in front of the text (SentencePiece's prefix space).
 */
export interface VocabularyEncoding {
  /** How bytes are spelled: GPT-2's byte map, SentencePiece with byte tokens, or plain text. */
  readonly type: 'byte_level' | 'byte_fallback' | 'raw';
  /** The tokenizer puts a space in front of the text (SentencePiece's prefix space). */
  readonly prependSpace: boolean;
}

/** The {@link VocabularyEncoding} of a tokenizer.json, read from its decoder, model and normalizer. */
export function vocabularyEncoding(tokenizerJson: Record<string, unknown>): VocabularyEncoding {
  const decoder = JSON.stringify(tokenizerJson.decoder ?? null);
  const model = tokenizerJson.model as { byte_fallback?: unknown } | undefined;
  const type = decoder.includes('"ByteLevel"')
    ? 'byte_level'
    : model?.byte_fallback === true || decoder.includes('"ByteFallback"')
      ? 'byte_fallback'
      : 'raw';
  const prefix = JSON.stringify([tokenizerJson.normalizer ?? null, tokenizerJson.pre_tokenizer ?? null]);
  const prependSpace =
    prefix.includes('"Prepend"') || /"prepend_scheme":"(always|first)"|"add_prefix_space":true/.test(prefix);
  return { type, prependSpace: type !== 'byte_level' && prependSpace };
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** Options of {@link createTokenizer}. */
export interface CreateTokenizerOptions {
  /**
   * config.json's `model_type`. Python transformers picks the tokenizer class from it and
   * tokenizer_config.json (sentencepiece-legacy.ts): a `LlamaTokenizer` of a `mistral` or `phi3`
   * model keeps tokenizer.json as it is, one of a `llama` model is rebuilt. Absent: as
   * transformers on a folder without config.json (rebuilt).
   */
  readonly modelType?: string;
}

/**
 * Wraps @huggingface/tokenizers around a parsed tokenizer.json and tokenizer_config.json, with the
 * rules Python transformers applies on top of tokenizer.json for the tokenizer's class (the Llama
 * SentencePiece rule of sentencepiece-legacy.ts), so that ids are transformers'. Takes ownership
 * of `tokenizerJson`: its raw `model.vocab` and `model.merges` are dropped once the tokenizer is
 * built.
 */
export function createTokenizer(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  options: CreateTokenizerOptions = {},
): TextTokenizer {
  const rule = sentencePieceRule(tokenizerJson, tokenizerConfig, options.modelType);
  const json = rule ? applySentencePieceRule(tokenizerJson, rule) : tokenizerJson;
  const tokenizer = new HfTokenizer(json, tokenizerConfig);
  const encoding = vocabularyEncoding(json);
  releaseConstructionTables(tokenizer, json);
  const specialTokens: Record<string, string> = {};
  for (const key of [
    'bos_token',
    'eos_token',
    'unk_token',
    'pad_token',
    'sep_token',
    'cls_token',
    'mask_token',
  ]) {
    const content = tokenContent(tokenizerConfig[key]);
    if (content !== undefined) specialTokens[key] = content;
  }
  return {
    encode: (text, options) =>
      tokenizer.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids,
    decode: (ids, options) =>
      tokenizer.decode(ids as number[], { skip_special_tokens: options?.skipSpecialTokens ?? false }),
    tokenToId: (token) => tokenizer.token_to_id(token),
    idToToken: (id) => tokenizer.id_to_token(id),
    specialTokens,
    vocabularyEncoding: encoding,
  };
}

/**
 * Frees what @huggingface/tokenizers (0.2.x) only needs while it is being built: the raw vocabulary
 * and merges of tokenizer.json, which it keeps referenced, and a BPE model's merge pairs, already
 * turned into its rank map. Every V8 garbage collection marks the whole heap, and on node
 * onnxruntime's output copies trigger one every step or two, so a smaller heap decodes faster
 * (docs/benchmarks.md). The JSON object is the caller's: it loses those two fields.
 */
function releaseConstructionTables(tokenizer: HfTokenizer, tokenizerJson: Record<string, unknown>): void {
  const model = (tokenizer as unknown as { model?: { merges?: unknown; bpe_ranks?: unknown } }).model;
  if (model?.bpe_ranks instanceof Map) model.merges = undefined;
  const raw = tokenizerJson.model as Record<string, unknown> | undefined;
  if (raw) {
    delete raw.vocab;
    delete raw.merges;
  }
}
