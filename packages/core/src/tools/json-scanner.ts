/**
 * Follows one JSON object or array through streamed text and says where it ends: tracks nesting
 * depth and strings (with escapes), nothing more. It does not validate; the complete text is parsed
 * once when it ends. Work is linear in the text fed.
 */
export class JsonValueScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;

  /**
   * Feeds text that continues the value (its first character must be `{` or `[` on the first call).
   * Returns the number of characters of `text` that complete the value, or -1 when it is still open.
   */
  feed(text: string): number {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        this.depth++;
        this.started = true;
      } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        this.depth--;
        if (this.started && this.depth <= 0) return i + 1;
      }
    }
    return -1;
  }
}
