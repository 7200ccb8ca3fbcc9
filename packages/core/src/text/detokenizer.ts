import type { TextTokenizer } from '../model/tokenizer.js';

/**
 * Turns a growing list of token ids into text pieces whose concatenation is the decode of all of
 * them. It decodes only a short window (the last emitted token and the ones after it), so the cost
 * per token does not grow with the output; text that ends in an incomplete UTF-8 sequence
 * (byte-fallback tokens, U+FFFD at the end) is held back until the next token completes it.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** Start of the window: the token before the first one not yet emitted. */
  private prefixOffset = 0;
  /** Tokens before this index have been emitted. */
  private readOffset = 0;
  /**
   * Decodes of one-token windows, by token id. In the steady state the window before a new token is
   * exactly the previous token, so this halves the tokenizer calls per token.
   */
  private readonly single = new Map<number, string>();

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly skipSpecialTokens = true,
  ) {}

  /** Adds one token; returns the text it completes ('' while it is held back). */
  push(tokenId: number): string {
    this.ids.push(tokenId);
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const fullText = this.decodeRange(this.prefixOffset, this.ids.length);
    if (fullText.length > prefixText.length && !fullText.endsWith('\uFFFD')) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return fullText.slice(prefixText.length);
    }
    return '';
  }

  /** Returns whatever is still held back (e.g. an unfinished byte sequence at the very end). */
  flush(): string {
    if (this.readOffset === this.ids.length) return '';
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const fullText = this.decodeRange(this.prefixOffset, this.ids.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return fullText.slice(prefixText.length);
  }

  private decodeRange(start: number, end: number): string {
    if (start === end) return '';
    if (end - start === 1) {
      const id = this.ids[start];
      let text = this.single.get(id);
      if (text === undefined) {
        text = this.tokenizer.decode([id], { skipSpecialTokens: this.skipSpecialTokens });
        this.single.set(id, text);
      }
      return text;
    }
    return this.tokenizer.decode(this.ids.slice(start, end), { skipSpecialTokens: this.skipSpecialTokens });
  }
}
