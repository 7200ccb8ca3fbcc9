import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

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
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** Wraps @huggingface/tokenizers around a tokenizer.json and tokenizer_config.json. */
export function createTokenizer(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
): TextTokenizer {
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig);
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
  };
}
