import type { ToolCall, ToolCallError, ToolDefinition } from '../spec/tools.js';
import { CallDecoder, type Decoded, NOT_JSON, parseJson } from './call-decoder.js';
import { JsonValueScanner } from './json-scanner.js';
import { MarkerScanner } from './marker-scanner.js';
import type { ToolFormat } from './tool-format.js';

/** What one piece of output gave: the free text now safe to show, the calls completed, the calls that failed. */
export interface ToolCallDelta {
  /** Free text that can be shown: it can no longer be part of a call. */
  readonly text: string;
  /** Calls completed by this piece of output, in order. */
  readonly calls: readonly ToolCall[];
  /** Calls that ended but could not be parsed; their text is in `text` too. */
  readonly errors: readonly ToolCallError[];
}

/**
 * Splits a model's streamed output into free text and tool calls. Text that may be the start of a
 * call is held back until it is known; a call is returned by the push() that completes it; a call
 * that cannot be parsed goes back into the text and comes with a {@link ToolCallError}. Work per
 * push is proportional to the new text (plus, once, the length of a call when it completes).
 */
export interface ToolCallParser {
  /** Feeds the next piece of decoded output (markers included); returns the free text now safe to show and the calls completed by it. Never throws. */
  push(text: string): ToolCallDelta;
  /** The output ended: the text still held back, and an error for a call left open. Never throws. The parser can then take a new output. */
  end(): ToolCallDelta;
}

/** Options of {@link createToolCallParser}. */
export interface ToolCallParserOptions {
  /**
   * Makes the id of each call. Default: `call_` and 24 random letters and digits; for Mistral, 9
   * random letters and digits (its templates refuse any other id).
   */
  readonly createId?: () => string;
}

/**
 * A parser of the calls `format` writes, for the given tools (a call of another name is an error).
 *
 * @example
 * ```ts
 * const parser = createToolCallParser(format, tools);
 * for (const piece of pieces) {
 *   const { text, calls, errors } = parser.push(piece);
 *   …
 * }
 * const last = parser.end();
 * ```
 */
export function createToolCallParser(
  format: ToolFormat,
  tools: readonly ToolDefinition[],
  options: ToolCallParserOptions = {},
): ToolCallParser {
  return new FormatParser(format, tools, options.createId);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` random letters and digits (uniform: bytes of 248 and above are drawn again). */
function randomAlphanumeric(length: number): string {
  let out = '';
  const bytes = new Uint8Array(length * 2);
  while (out.length < length) {
    globalThis.crypto.getRandomValues(bytes);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      if (bytes[i] < 248) out += ALPHANUMERIC[bytes[i] % 62];
    }
  }
  return out;
}

/**
 * The states of the parser:
 * - `start`: Llama 3 only, nothing but whitespace seen yet (a bare JSON call may still come);
 * - `text`: free text, looking for the format's opening marker;
 * - `block`: inside a call that ends with a closing marker (hermes, phi4-mini, gemma3);
 * - `await-json`: after an opening marker (or Llama's ';'), before the JSON value starts;
 * - `json`: inside a JSON value that ends the call when it is balanced (llama3, mistral);
 * - `name`: Mistral's `[TOOL_CALLS]name[ARGS]` before the arguments' `{`;
 * - `gap`: Llama 3, after a call: whitespace, then ';' or '{' for another call, or text;
 * - `bad`: a call that is not JSON, up to the next opening marker or the end of the output.
 */
type Mode = 'start' | 'text' | 'block' | 'await-json' | 'json' | 'name' | 'gap' | 'bad';

/** What a complete JSON value is, for {@link FormatParser.finishJson}. */
type JsonRole = 'llama-call' | 'mistral-array' | 'mistral-args';

/** The longest name region of `[TOOL_CALLS]name[CALL_ID]id[ARGS]` that is still taken for one. */
const MAX_NAME_REGION = 256;
/** Llama 3: how much of a bare `{…` is read to tell a call (first key "name", …) from JSON text. */
const LLAMA_DECISION_WINDOW = 80;
const LLAMA_CALL_KEYS = new Set(['name', 'type', 'function', 'parameters', 'arguments']);

class FormatParser implements ToolCallParser {
  private readonly decoder: CallDecoder;
  private readonly createId: () => string;
  private readonly opener: MarkerScanner;
  /** Closing marker of a block call (hermes, phi4-mini, gemma3). */
  private readonly close: string | undefined;

  private mode: Mode;
  /** The raw text of the call in progress (markers included), for errors and for releasing it. */
  private callParts: string[] = [];
  /** The part of it that is parsed: a block's body, or a JSON value. */
  private bodyParts: string[] = [];
  private closer: MarkerScanner | undefined;
  private json: JsonValueScanner | undefined;
  private jsonRole: JsonRole = 'llama-call';
  /** Llama 3: the JSON value may be plain JSON text rather than a call (no `<|python_tag|>`, no ';'). */
  private tentative = false;
  /** Llama 3: the first characters of a tentative value, until it is known to be a call or not. */
  private probe: string | undefined;
  /** Mistral name-args: the text between `[TOOL_CALLS]` and the arguments. */
  private nameRegion = '';
  private mistralName = '';
  /** Output of the push in progress. */
  private text: string[] = [];
  private calls: ToolCall[] = [];
  private errors: ToolCallError[] = [];
  /** An internal failure happened: everything after it is passed through as text. */
  private broken = false;

  constructor(
    private readonly format: ToolFormat,
    tools: readonly ToolDefinition[],
    createId: (() => string) | undefined,
  ) {
    this.decoder = new CallDecoder(tools);
    const defaultId =
      format.name === 'mistral' ? () => randomAlphanumeric(9) : () => `call_${randomAlphanumeric(24)}`;
    this.createId = () => {
      if (createId) {
        try {
          const id = createId();
          if (typeof id === 'string') return id;
        } catch {
          // A throwing createId must not break the stream: fall back to a generated id.
        }
      }
      return defaultId();
    };
    const openers =
      format.name === 'llama3' ? ['<|python_tag|>'] : format.callStart ? [format.callStart] : [];
    this.opener = new MarkerScanner(openers);
    this.close =
      format.name === 'hermes'
        ? '</tool_call>'
        : format.name === 'phi4-mini'
          ? '<|/tool_call|>'
          : format.name === 'gemma3'
            ? '```'
            : undefined;
    this.mode = this.initialMode();
  }

  push(text: string): ToolCallDelta {
    if (typeof text !== 'string' || text === '') return this.take();
    if (this.broken) return { text, calls: [], errors: [] };
    try {
      let rest = text;
      while (rest !== '') rest = this.step(rest);
    } catch (error) {
      return this.fail(text, error);
    }
    return this.take();
  }

  end(): ToolCallDelta {
    if (this.broken) {
      this.broken = false;
      this.reset();
      return { text: '', calls: [], errors: [] };
    }
    try {
      this.finishOutput();
    } catch (error) {
      return this.fail('', error);
    }
    this.reset();
    return this.take();
  }

  private initialMode(): Mode {
    return this.format.name === 'llama3' ? 'start' : 'text';
  }

  private reset(): void {
    this.mode = this.initialMode();
    this.callParts = [];
    this.bodyParts = [];
    this.closer = undefined;
    this.json = undefined;
    this.tentative = false;
    this.probe = undefined;
    this.nameRegion = '';
    this.mistralName = '';
    this.opener.flush();
  }

  private take(): ToolCallDelta {
    const delta = { text: this.text.join(''), calls: this.calls, errors: this.errors };
    this.text = [];
    this.calls = [];
    this.errors = [];
    return delta;
  }

  /** Defensive: an unexpected internal error turns the parser into a pass-through, never a throw. */
  private fail(text: string, error: unknown): ToolCallDelta {
    this.broken = true;
    const held = [...this.callParts, this.opener.flush()].join('');
    const detail = error instanceof Error ? error.message : String(error);
    const delta: ToolCallDelta = {
      text: this.text.join('') + held + text,
      calls: this.calls,
      errors: [
        ...this.errors,
        {
          text: held + text,
          message: `Tool calls could not be parsed (internal error: ${detail}); the rest of the output is text.`,
        },
      ],
    };
    this.text = [];
    this.calls = [];
    this.errors = [];
    return delta;
  }

  /** Consumes a prefix of `input` in the current mode; returns what is left for the next mode. */
  private step(input: string): string {
    switch (this.mode) {
      case 'start':
        return this.stepStart(input);
      case 'text':
        return this.stepText(input);
      case 'block':
        return this.stepBlock(input);
      case 'await-json':
        return this.stepAwaitJson(input);
      case 'json':
        return this.stepJson(input);
      case 'name':
        return this.stepName(input);
      case 'gap':
        return this.stepGap(input);
      case 'bad':
        return this.stepBad(input);
    }
  }

  /** Llama 3 before anything but whitespace: a `{` may open a bare JSON call. */
  private stepStart(input: string): string {
    let i = 0;
    while (i < input.length && isSpace(input.charCodeAt(i))) i++;
    if (i > 0) this.text.push(input.slice(0, i));
    if (i === input.length) return '';
    if (input[i] === '{') {
      this.beginJson([], 'llama-call', true);
    } else {
      this.mode = 'text';
    }
    return input.slice(i);
  }

  private stepText(input: string): string {
    const scan = this.opener.feed(input);
    if (scan.text !== '') this.text.push(scan.text);
    if (scan.marker === undefined) return '';
    this.openCall(scan.marker);
    return scan.rest ?? '';
  }

  /** The format's opening marker was just read. */
  private openCall(marker: string): void {
    this.callParts = [marker];
    this.bodyParts = [];
    if (this.close !== undefined) {
      this.closer = new MarkerScanner([this.close]);
      this.mode = 'block';
    } else if (this.format.name === 'mistral' && this.format.mistralSyntax === 'name-args') {
      this.nameRegion = '';
      this.mode = 'name';
    } else {
      this.jsonRole = this.format.name === 'mistral' ? 'mistral-array' : 'llama-call';
      this.tentative = false;
      this.mode = 'await-json';
    }
  }

  private stepBlock(input: string): string {
    const closer = this.closer as MarkerScanner;
    const scan = closer.feed(input);
    if (scan.text !== '') {
      this.bodyParts.push(scan.text);
      this.callParts.push(scan.text);
    }
    if (scan.marker === undefined) return '';
    this.callParts.push(scan.marker);
    const body = this.bodyParts.join('');
    const decoded = this.format.name === 'gemma3' ? this.decoder.toolCode(body) : this.decoder.jsonBody(body);
    this.settle(decoded);
    this.mode = 'text';
    return scan.rest ?? '';
  }

  private stepAwaitJson(input: string): string {
    let i = 0;
    while (i < input.length && isSpace(input.charCodeAt(i))) i++;
    if (i > 0) this.callParts.push(input.slice(0, i));
    if (i === input.length) return '';
    const c = input[i];
    if (c === '{' || c === '[') {
      this.beginJson(this.callParts, this.jsonRole, false);
      return input.slice(i);
    }
    if (this.format.name === 'llama3' && !this.tentative && this.callParts[0] !== '<|python_tag|>') {
      // After 'call; ' something other than a call: the ';' and what follows are text.
      this.release();
      this.mode = 'text';
      return input.slice(i);
    }
    this.mode = 'bad';
    return input.slice(i);
  }

  private beginJson(callParts: string[], role: JsonRole, tentative: boolean): void {
    this.callParts = callParts;
    this.bodyParts = [];
    this.json = new JsonValueScanner();
    this.jsonRole = role;
    this.tentative = tentative;
    this.probe = tentative ? '' : undefined;
    this.mode = 'json';
  }

  private stepJson(input: string): string {
    if (this.probe !== undefined) {
      // A bare '{' may be JSON text rather than a call: decide on its first characters.
      const seen = this.probe + input;
      const verdict = llamaVerdict(seen.slice(0, LLAMA_DECISION_WINDOW));
      if (verdict === 'text') {
        // What was held is text; `input` is read again as text.
        this.release();
        this.mode = 'text';
        return input;
      }
      if (verdict === 'call') this.probe = undefined;
      else this.probe = seen.length < LLAMA_DECISION_WINDOW ? seen : undefined;
    }
    const json = this.json as JsonValueScanner;
    const end = json.feed(input);
    const piece = end === -1 ? input : input.slice(0, end);
    this.bodyParts.push(piece);
    this.callParts.push(piece);
    if (end === -1) return '';
    this.finishJson();
    return input.slice(end);
  }

  private finishJson(): void {
    const value = this.bodyParts.join('');
    this.json = undefined;
    this.probe = undefined;
    switch (this.jsonRole) {
      case 'mistral-array': {
        const parsed = parseJson(value);
        this.settle(parsed ? this.decoder.callValue(parsed.value) : { error: NOT_JSON });
        this.mode = 'text';
        return;
      }
      case 'mistral-args': {
        const parsed = parseJson(value);
        if (!parsed) this.settle({ error: `The arguments of '${this.mistralName}' are not valid JSON.` });
        else {
          const call = this.decoder.call(this.mistralName, parsed.value);
          this.settle(typeof call === 'string' ? { error: call } : { calls: [call] });
        }
        this.mode = 'text';
        return;
      }
      case 'llama-call': {
        const parsed = parseJson(value);
        const looksLikeCall =
          parsed !== undefined &&
          typeof parsed.value === 'object' &&
          parsed.value !== null &&
          !Array.isArray(parsed.value) &&
          'name' in parsed.value;
        if (this.tentative && parsed && !looksLikeCall) {
          // Valid JSON that is not a call (the user asked for JSON): plain text.
          this.release();
          this.mode = 'text';
          return;
        }
        const ok = this.settle(parsed ? this.decoder.callValue(parsed.value) : { error: NOT_JSON });
        this.mode = ok ? 'gap' : 'text';
        return;
      }
    }
  }

  /** Mistral name-args: the name runs up to the arguments' `{` (after `[ARGS]`, and `[CALL_ID]id` if any). */
  private stepName(input: string): string {
    const brace = input.indexOf('{');
    const region = this.nameRegion + (brace === -1 ? input : input.slice(0, brace));
    const trimmed = region.trimStart();
    const second = trimmed.charAt(1);
    if (trimmed.startsWith('[') && (second === '' ? brace !== -1 : second !== 'A' && second !== 'C')) {
      // `[TOOL_CALLS][{…}]`, the older array syntax, which these models sometimes still write.
      const lead = region.length - trimmed.length;
      if (lead > 0) this.callParts.push(region.slice(0, lead));
      this.nameRegion = '';
      this.beginJson(this.callParts, 'mistral-array', false);
      return trimmed + (brace === -1 ? '' : input.slice(brace));
    }
    if (region.includes(this.format.callStart ?? '[TOOL_CALLS]') || region.length > MAX_NAME_REGION) {
      // Not a name: the call is not JSON. It is read again as such, so a marker in it still opens the next call.
      const replay = this.nameRegion + input;
      this.nameRegion = '';
      this.mode = 'bad';
      return replay;
    }
    if (brace === -1) {
      this.nameRegion = region;
      return '';
    }
    this.callParts.push(region);
    this.nameRegion = '';
    this.mistralName = region.split('[CALL_ID]')[0].replace('[ARGS]', '').trim();
    this.beginJson(this.callParts, 'mistral-args', false);
    return input.slice(brace);
  }

  /** Llama 3 after a call: more calls follow after ';' (or directly), anything else is text. */
  private stepGap(input: string): string {
    let i = 0;
    while (i < input.length && isSpace(input.charCodeAt(i))) i++;
    if (i > 0) this.callParts.push(input.slice(0, i));
    if (i === input.length) return '';
    const c = input[i];
    if (c === ';') {
      this.callParts.push(';');
      this.jsonRole = 'llama-call';
      this.tentative = false;
      this.mode = 'await-json';
      return input.slice(i + 1);
    }
    if (c === '{') {
      this.beginJson(this.callParts, 'llama-call', true);
      return input.slice(i);
    }
    this.release();
    this.mode = 'text';
    return input.slice(i);
  }

  /** A call that is not JSON: it runs to the next opening marker or to the end of the output. */
  private stepBad(input: string): string {
    const scan = this.opener.feed(input);
    if (scan.text !== '') this.callParts.push(scan.text);
    if (scan.marker === undefined) return '';
    this.settle({ error: NOT_JSON });
    this.openCall(scan.marker);
    return scan.rest ?? '';
  }

  /** The output ended in the current mode. */
  private finishOutput(): void {
    switch (this.mode) {
      case 'start':
      case 'text':
        this.text.push(this.opener.flush());
        return;
      case 'gap':
        this.release();
        return;
      case 'block': {
        const closer = this.closer as MarkerScanner;
        const held = closer.flush();
        this.bodyParts.push(held);
        this.callParts.push(held);
        // Phi-4-mini often ends its output without <|/tool_call|>; a complete call is still a call.
        if (this.format.name === 'phi4-mini') {
          const decoded = this.decoder.jsonBody(this.bodyParts.join(''));
          if ('calls' in decoded) {
            this.settle(decoded);
            return;
          }
        }
        this.settle({
          error: `The tool call was cut off: the output ended before its closing '${this.close}'.`,
        });
        return;
      }
      case 'await-json':
        if (this.format.name === 'llama3' && this.callParts[0] !== '<|python_tag|>') this.release();
        else this.settle({ error: 'The tool call was cut off: the output ended before its JSON.' });
        return;
      case 'json':
        if (this.probe !== undefined) this.release();
        else this.settle({ error: 'The tool call was cut off: the output ended inside its JSON.' });
        return;
      case 'name':
        this.callParts.push(this.nameRegion);
        this.settle({ error: 'The tool call was cut off: the output ended before its arguments.' });
        return;
      case 'bad':
        this.callParts.push(this.opener.flush());
        this.settle({ error: NOT_JSON });
        return;
    }
  }

  /** Ends the call in progress: its calls, or its text back into the text with an error. True when it parsed. */
  private settle(decoded: Decoded): boolean {
    const raw = this.callParts.join('');
    this.callParts = [];
    this.bodyParts = [];
    if ('calls' in decoded) {
      for (const call of decoded.calls)
        this.calls.push({ id: this.createId(), name: call.name, arguments: call.arguments });
      return true;
    }
    this.text.push(raw);
    this.errors.push({ text: raw, message: decoded.error });
    return false;
  }

  /** The held text was not a call after all: it is text, without an error. */
  private release(): void {
    this.text.push(this.callParts.join(''));
    this.callParts = [];
    this.bodyParts = [];
    this.json = undefined;
    this.probe = undefined;
  }
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/**
 * Llama 3 writes a call as a bare JSON object at the start of its output. Tells from the first
 * characters of a `{…` whether it is one: 'call' when the first key is one a call starts with
 * ("name", or "type"/"function"/"parameters"/"arguments"), 'text' when it is not, 'open' while unknown.
 */
function llamaVerdict(start: string): 'call' | 'text' | 'open' {
  let i = 1;
  while (i < start.length && isSpace(start.charCodeAt(i))) i++;
  if (i >= start.length) return start.length >= LLAMA_DECISION_WINDOW ? 'text' : 'open';
  if (start[i] !== '"') return 'text';
  let key = '';
  for (let j = i + 1; j < start.length; j++) {
    const c = start[j];
    if (c === '\\') return 'text';
    if (c === '"') return LLAMA_CALL_KEYS.has(key) ? 'call' : 'text';
    key += c;
  }
  return start.length >= LLAMA_DECISION_WINDOW ? 'text' : 'open';
}
