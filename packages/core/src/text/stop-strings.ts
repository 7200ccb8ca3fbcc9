/**
 * Finds stop strings in streamed text, even when one spans several tokens, and holds back the tail
 * that could still become a stop string so it never reaches the caller. Work per call is bounded by
 * the new text plus the longest stop string.
 */
export class StopStringMatcher {
  private held = '';
  private readonly longest: number;

  constructor(private readonly stops: readonly string[]) {
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Feeds new text; returns the text safe to emit and whether a stop string was found. */
  push(text: string): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    const window = this.held + text;
    let stopAt = -1;
    for (const stop of this.stops) {
      const index = window.indexOf(stop);
      if (index !== -1 && (stopAt === -1 || index < stopAt)) stopAt = index;
    }
    if (stopAt !== -1) {
      this.held = '';
      return { text: window.slice(0, stopAt), stopped: true };
    }
    const keep = this.partialMatchLength(window);
    this.held = window.slice(window.length - keep);
    return { text: window.slice(0, window.length - keep), stopped: false };
  }

  /** Text held back at the end of a generation that turned out not to be a stop string. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialMatchLength(text: string): number {
    for (let k = Math.min(text.length, this.longest - 1); k > 0; k--) {
      const suffix = text.slice(text.length - k);
      if (this.stops.some((stop) => stop.startsWith(suffix))) return k;
    }
    return 0;
  }
}
