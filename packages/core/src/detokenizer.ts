import type { TextTokenizer } from './tokenizer.js';

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
    return this.tokenizer.decode(this.ids.slice(start, end), { skipSpecialTokens: this.skipSpecialTokens });
  }
}
