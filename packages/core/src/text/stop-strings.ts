/**
 * The automaton's transitions: an open-addressing hash table of (state, code unit) → state, one
 * slot being three int32s (state, code unit, target) so a lookup touches one cache line (a Map
 * would box the combined keys and cost several times the memory).
 */
class Transitions {
  private table = new Int32Array(3 * 1024).fill(-1);
  private size = 0;

  /** The target of (state, code), or -1 when there is none. */
  get(state: number, code: number): number {
    const { table } = this;
    const mask = table.length / 3 - 1;
    for (let i = slot(state, code, mask); table[3 * i] !== -1; i = (i + 1) & mask) {
      if (table[3 * i] === state && table[3 * i + 1] === code) return table[3 * i + 2];
    }
    return -1;
  }

  /** The target of (state, code); when there is none, `target` becomes it and -1 is returned. */
  getOrAdd(state: number, code: number, target: number): number {
    if (2 * (this.size + 1) > this.table.length / 3) this.grow();
    const { table } = this;
    const mask = table.length / 3 - 1;
    let i = slot(state, code, mask);
    for (; table[3 * i] !== -1; i = (i + 1) & mask) {
      if (table[3 * i] === state && table[3 * i + 1] === code) return table[3 * i + 2];
    }
    table[3 * i] = state;
    table[3 * i + 1] = code;
    table[3 * i + 2] = target;
    this.size++;
    return -1;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(-1);
    this.size = 0;
    for (let i = 0; i < old.length; i += 3) if (old[i] !== -1) this.getOrAdd(old[i], old[i + 1], old[i + 2]);
  }
}

/** The first slot of (state, code unit) in a table of `mask + 1` slots (murmur3's finaliser). */
function slot(state: number, code: number, mask: number): number {
  let h = Math.imul(state, 0x9e3779b1) ^ code;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & mask;
}

/**
 * An Aho–Corasick automaton over the stop strings (UTF-16 code units): state `s` stands for the
 * longest suffix of the text read so far that is a prefix of some stop string, `depth[s]` long.
 * Reading one code unit costs amortised O(1) whatever the number of stop strings.
 */
class StopAutomaton {
  private readonly next = new Transitions();
  /** Length of the prefix each state stands for. */
  readonly depth: Int32Array;
  /** Where to continue when a state has no transition: the state of its longest proper suffix. */
  private readonly fail: Int32Array;
  /** Length of the longest stop string that ends at each state (0 for none). */
  readonly matched: Int32Array;

  constructor(stops: readonly string[]) {
    let total = 1;
    for (const stop of stops) total += stop.length;
    const depth = new Int32Array(total);
    const parent = new Int32Array(total);
    const unit = new Uint16Array(total);
    const matched = new Int32Array(total);
    let states = 1;
    for (const stop of stops) {
      let state = 0;
      for (let i = 0; i < stop.length; i++) {
        const code = stop.charCodeAt(i);
        let child = this.next.getOrAdd(state, code, states);
        if (child === -1) {
          child = states++;
          depth[child] = i + 1;
          parent[child] = state;
          unit[child] = code;
        }
        state = child;
      }
      if (stop.length > 0) matched[state] = stop.length;
    }
    // Failure links in order of depth (a state's link is shallower than the state): by counting sort.
    let deepest = 0;
    for (let s = 0; s < states; s++) if (depth[s] > deepest) deepest = depth[s];
    const start = new Int32Array(deepest + 2);
    for (let s = 0; s < states; s++) start[depth[s] + 1]++;
    for (let d = 1; d <= deepest + 1; d++) start[d] += start[d - 1];
    const byDepth = new Int32Array(states);
    for (let s = 0; s < states; s++) byDepth[start[depth[s]]++] = s;
    const fail = new Int32Array(states);
    for (let k = 0; k < states; k++) {
      const s = byDepth[k];
      if (depth[s] <= 1) continue; // the root and its children fall back to the root
      fail[s] = this.step(fail, fail[parent[s]], unit[s]);
      // A stop string that ends at the suffix also ends here; the state's own is the longer one.
      if (matched[s] === 0) matched[s] = matched[fail[s]];
    }
    this.depth = depth.slice(0, states);
    this.matched = matched.slice(0, states);
    this.fail = fail;
  }

  /** The state after reading `code` in `state`: follows failure links until a transition exists. */
  advance(state: number, code: number): number {
    return this.step(this.fail, state, code);
  }

  private step(fail: Int32Array, state: number, code: number): number {
    let s = state;
    for (;;) {
      const child = this.next.get(s, code);
      if (child !== -1) return child;
      if (s === 0) return 0;
      s = fail[s];
    }
  }
}

/** One automaton per list of stop strings: every sequence of a batch shares the call's list. */
const automata = new WeakMap<readonly string[], StopAutomaton>();

/**
 * Finds stop strings in streamed text, even when one spans several tokens, and holds back the tail
 * that could still become a stop string so it never reaches the caller. The first stop string to
 * be completed ends the text, whatever the tokens were. Work per call is linear in the new text
 * (amortised), however many stop strings there are; building the automaton is linear in their
 * total length, once per list.
 */
export class StopStringMatcher {
  private held = '';
  private state = 0;
  private readonly automaton: StopAutomaton | undefined;

  constructor(stops: readonly string[]) {
    if (stops.length === 0) return;
    let automaton = automata.get(stops);
    if (!automaton) {
      automaton = new StopAutomaton(stops);
      automata.set(stops, automaton);
    }
    this.automaton = automaton;
  }

  /** Feeds new text; returns the text safe to emit and whether a stop string was found. */
  push(text: string): { text: string; stopped: boolean } {
    const { automaton } = this;
    if (!automaton) return { text, stopped: false };
    let state = this.state;
    for (let i = 0; i < text.length; i++) {
      state = automaton.advance(state, text.charCodeAt(i));
      const length = automaton.matched[state];
      if (length > 0) {
        const window = this.held + text.slice(0, i + 1);
        this.held = '';
        this.state = 0;
        return { text: window.slice(0, window.length - length), stopped: true };
      }
    }
    this.state = state;
    // What is held is exactly the part of the text that could still grow into a stop string.
    const window = this.held + text;
    const keep = automaton.depth[state];
    this.held = window.slice(window.length - keep);
    return { text: window.slice(0, window.length - keep), stopped: false };
  }

  /** Text held back at the end of a generation that turned out not to be a stop string. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    this.state = 0;
    return rest;
  }
}
