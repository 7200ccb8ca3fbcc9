/** What {@link MarkerScanner.feed} found in the text it was given. */
export interface MarkerScan {
  /** Text that can no longer be part of a marker (before the marker, when one was found). */
  readonly text: string;
  /** The marker found, or undefined. */
  readonly marker?: string;
  /** The input after the marker (only when one was found); the scanner holds nothing then. */
  readonly rest?: string;
}

/**
 * Finds the first of a few short markers in streamed text, holding back the tail that could still
 * become one (as the stop-string matcher does for stop strings). Work per call is proportional to
 * the new text times the number of markers, however long the stream: only the held tail, shorter
 * than the longest marker, is looked at again.
 */
export class MarkerScanner {
  private held = '';
  private readonly longest: number;

  constructor(private readonly markers: readonly string[]) {
    this.longest = markers.reduce((n, marker) => Math.max(n, marker.length), 0);
  }

  /** Feeds new text; returns the safe text, and the first marker with what follows it if one completed. */
  feed(input: string): MarkerScan {
    const window = this.held + input;
    let at = -1;
    let found: string | undefined;
    for (const marker of this.markers) {
      if (marker.length === 0) continue;
      const index = window.indexOf(marker);
      if (index !== -1 && (at === -1 || index < at)) {
        at = index;
        found = marker;
      }
    }
    if (found !== undefined) {
      this.held = '';
      return { text: window.slice(0, at), marker: found, rest: window.slice(at + found.length) };
    }
    const keep = this.partialTail(window);
    this.held = window.slice(window.length - keep);
    return { text: window.slice(0, window.length - keep) };
  }

  /** The held tail (the output ended, or the caller stops scanning); the scanner is empty afterwards. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `window` that is a proper prefix of a marker. */
  private partialTail(window: string): number {
    for (let length = Math.min(this.longest - 1, window.length); length > 0; length--) {
      const tail = window.slice(window.length - length);
      for (const marker of this.markers) if (marker.length > length && marker.startsWith(tail)) return length;
    }
    return 0;
  }
}
