/**
 * A parser for the Python call syntax Gemma is prompted with (`get_weather(city="Paris", days=3)`):
 * dotted names, keyword arguments and Python literals (strings with escapes, numbers,
 * True/False/None, lists, tuples, dicts), several calls one per line, separated by `;` or `,`, or
 * in a list. Never throws: errors come back as a message.
 */

/** A call as written: the function's name and its keyword arguments. */
export interface PythonCall {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

/** The calls in `source`, or what is wrong with it. */
export type PythonCallsResult = { readonly calls: PythonCall[] } | { readonly error: string };

/** The value of one Python literal, or what is wrong with it. */
export type PythonLiteralResult = { readonly value: unknown } | { readonly error: string };

class PythonSyntaxError extends Error {}

/** A call while parsing, before `print(call)` is unwrapped. */
class CallNode {
  constructor(
    readonly name: string,
    readonly keywords: Record<string, unknown>,
    readonly positional: unknown[],
  ) {}
}

const IDENTIFIER_START = /[A-Za-z_]/;
const IDENTIFIER_PART = /[A-Za-z0-9_]/;

class Reader {
  pos = 0;
  constructor(readonly source: string) {}

  get done(): boolean {
    return this.pos >= this.source.length;
  }

  peek(offset = 0): string {
    return this.source.charAt(this.pos + offset);
  }

  /** Skips spaces, tabs, comments and (when `newlines`) line breaks. */
  skipSpace(newlines = true): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\r' || (newlines && c === '\n')) this.pos++;
      else if (c === '\\' && this.peek(1) === '\n') this.pos += 2;
      else if (c === '#') {
        while (!this.done && this.peek() !== '\n') this.pos++;
      } else return;
    }
  }

  expect(text: string): void {
    if (!this.source.startsWith(text, this.pos)) this.fail(`expected '${text}'`);
    this.pos += text.length;
  }

  fail(what: string): never {
    const near = this.done ? 'at the end' : `at '${this.source.slice(this.pos, this.pos + 12)}'`;
    throw new PythonSyntaxError(`${what} ${near} (character ${this.pos + 1})`);
  }

  identifier(): string {
    const start = this.pos;
    if (!IDENTIFIER_START.test(this.peek())) this.fail('expected a name');
    while (IDENTIFIER_PART.test(this.peek())) this.pos++;
    return this.source.slice(start, this.pos);
  }
}

/** Parses one or several Python calls (see the module's description). */
export function parsePythonCalls(source: string): PythonCallsResult {
  try {
    const reader = new Reader(source);
    const nodes: unknown[] = [];
    reader.skipSpace();
    if (reader.peek() === '[') {
      const list = parseValue(reader);
      if (!Array.isArray(list)) return { error: 'expected a list of calls' };
      nodes.push(...list);
      reader.skipSpace();
      if (!reader.done) reader.fail('unexpected text after the list of calls');
    } else {
      while (!reader.done) {
        nodes.push(parseValue(reader));
        reader.skipSpace(false);
        const c = reader.peek();
        if (c === '\n' || c === ';' || c === ',') reader.pos++;
        else if (!reader.done) reader.fail('expected a new line between calls');
        reader.skipSpace();
      }
    }
    if (nodes.length === 0) return { error: 'no call' };
    const calls: PythonCall[] = [];
    for (const node of nodes) {
      let call = node;
      // Gemma sometimes wraps the call in print(), as in its Python examples.
      if (call instanceof CallNode && call.name === 'print' && call.positional.length === 1) {
        if (call.positional[0] instanceof CallNode && Object.keys(call.keywords).length === 0)
          call = call.positional[0];
      }
      if (!(call instanceof CallNode))
        return { error: 'expected a function call, such as name(argument="value")' };
      if (call.positional.length > 0) {
        return { error: `${call.name}() has positional arguments; write each as name=value` };
      }
      calls.push({ name: call.name, arguments: call.keywords });
    }
    return { calls };
  } catch (error) {
    return { error: error instanceof PythonSyntaxError ? error.message : 'not a Python call' };
  }
}

/** Parses one Python literal (a dict, list, string, number, True/False/None), the whole `source`. */
export function parsePythonLiteral(source: string): PythonLiteralResult {
  try {
    const reader = new Reader(source);
    reader.skipSpace();
    const value = parseValue(reader);
    reader.skipSpace();
    if (!reader.done) reader.fail('unexpected text after the value');
    if (value instanceof CallNode) return { error: 'a call is not a literal' };
    return { value };
  } catch (error) {
    return { error: error instanceof PythonSyntaxError ? error.message : 'not a Python literal' };
  }
}

const MAX_DEPTH = 256;

function parseValue(reader: Reader, depth = 0): unknown {
  if (depth > MAX_DEPTH) reader.fail('too deeply nested');
  reader.skipSpace();
  const c = reader.peek();
  if (c === '[') return parseSequence(reader, '[', ']', depth).items;
  if (c === '(') {
    // A parenthesised value without a comma is that value, as in Python; with one, a tuple.
    const { items, commas } = parseSequence(reader, '(', ')', depth);
    return items.length === 1 && commas === 0 ? items[0] : items;
  }
  if (c === '{') return parseDict(reader, depth);
  if (c === '"' || c === "'") return parseStrings(reader, false);
  if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return parseNumber(reader);
  if (IDENTIFIER_START.test(c)) {
    const start = reader.pos;
    const word = reader.identifier();
    const quote = reader.peek();
    if ((quote === '"' || quote === "'") && /^[rRuU]$/.test(word))
      return parseStrings(reader, word === 'r' || word === 'R');
    if (quote === '"' || quote === "'") {
      reader.pos = start;
      reader.fail('only plain, r and u strings are supported');
    }
    if (word === 'True' || word === 'true') return true;
    if (word === 'False' || word === 'false') return false;
    if (word === 'None' || word === 'null') return null;
    let name = word;
    while (reader.peek() === '.' && IDENTIFIER_START.test(reader.peek(1))) {
      reader.pos++;
      name += `.${reader.identifier()}`;
    }
    reader.skipSpace();
    if (reader.peek() !== '(') {
      reader.pos = start;
      reader.fail(`'${name}' is a variable, not a value; write a literal`);
    }
    return parseCall(reader, name, depth);
  }
  return reader.fail('expected a value');
}

function parseCall(reader: Reader, name: string, depth: number): CallNode {
  reader.expect('(');
  const keywords: Record<string, unknown> = {};
  const positional: unknown[] = [];
  for (;;) {
    reader.skipSpace();
    if (reader.peek() === ')') break;
    const start = reader.pos;
    let keyword: string | undefined;
    if (IDENTIFIER_START.test(reader.peek())) {
      const word = reader.identifier();
      reader.skipSpace();
      if (reader.peek() === '=' && reader.peek(1) !== '=') {
        reader.pos++;
        keyword = word;
      } else reader.pos = start;
    }
    const value = parseValue(reader, depth + 1);
    if (keyword === undefined) positional.push(value);
    else if (Object.hasOwn(keywords, keyword)) reader.fail(`argument '${keyword}' given twice`);
    else keywords[keyword] = value;
    reader.skipSpace();
    if (reader.peek() === ',') reader.pos++;
    else if (reader.peek() !== ')') reader.fail(`expected ',' or ')' in the call of ${name}`);
  }
  reader.expect(')');
  for (const value of Object.values(keywords)) {
    if (value instanceof CallNode) reader.fail(`an argument of ${name} is a call, not a value`);
  }
  return new CallNode(name, keywords, positional);
}

function parseSequence(
  reader: Reader,
  open: string,
  close: string,
  depth: number,
): { items: unknown[]; commas: number } {
  reader.expect(open);
  const items: unknown[] = [];
  let commas = 0;
  for (;;) {
    reader.skipSpace();
    if (reader.peek() === close) break;
    items.push(parseValue(reader, depth + 1));
    reader.skipSpace();
    if (reader.peek() === ',') {
      reader.pos++;
      commas++;
    } else if (reader.peek() !== close) reader.fail(`expected ',' or '${close}'`);
  }
  reader.expect(close);
  return { items, commas };
}

function parseDict(reader: Reader, depth: number): Record<string, unknown> {
  reader.expect('{');
  const dict: Record<string, unknown> = {};
  for (;;) {
    reader.skipSpace();
    if (reader.peek() === '}') break;
    const key = parseValue(reader, depth + 1);
    if (typeof key !== 'string' && typeof key !== 'number')
      reader.fail('dict keys must be strings or numbers');
    reader.skipSpace();
    reader.expect(':');
    Object.defineProperty(dict, String(key), {
      value: parseValue(reader, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    reader.skipSpace();
    if (reader.peek() === ',') reader.pos++;
    else if (reader.peek() !== '}') reader.fail(`expected ',' or '}'`);
  }
  reader.expect('}');
  return dict;
}

/** One string literal, or several adjacent ones (concatenated, as Python does). */
function parseStrings(reader: Reader, raw: boolean): string {
  let text = parseString(reader, raw);
  for (;;) {
    const save = reader.pos;
    reader.skipSpace(false);
    const c = reader.peek();
    if (c === '"' || c === "'") text += parseString(reader, false);
    else {
      reader.pos = save;
      return text;
    }
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  v: '\v',
  a: '\x07',
  '0': '\0',
  '\n': '',
};

function parseString(reader: Reader, raw: boolean): string {
  const quote = reader.peek();
  const triple = reader.source.startsWith(quote.repeat(3), reader.pos);
  const end = triple ? quote.repeat(3) : quote;
  reader.pos += end.length;
  let text = '';
  for (;;) {
    if (reader.done) reader.fail('unterminated string');
    if (reader.source.startsWith(end, reader.pos)) {
      reader.pos += end.length;
      return text;
    }
    const c = reader.peek();
    if (c === '\n' && !triple) reader.fail('line break inside a string');
    if (c !== '\\') {
      text += c;
      reader.pos++;
      continue;
    }
    const next = reader.peek(1);
    if (raw) {
      text += c + next;
      reader.pos += 2;
      continue;
    }
    if (next in SIMPLE_ESCAPES) {
      text += SIMPLE_ESCAPES[next];
      reader.pos += 2;
      continue;
    }
    const digits = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    if (digits > 0) {
      const hex = reader.source.slice(reader.pos + 2, reader.pos + 2 + digits);
      if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) reader.fail(`bad \\${next} escape`);
      const code = Number.parseInt(hex, 16);
      if (code > 0x10ffff) reader.fail(`bad \\${next} escape`);
      text += String.fromCodePoint(code);
      reader.pos += 2 + digits;
      continue;
    }
    // Python keeps unknown escapes as written.
    text += c;
    reader.pos++;
  }
}

const NUMBER =
  /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/;

function parseNumber(reader: Reader): number {
  const match = NUMBER.exec(reader.source.slice(reader.pos, reader.pos + 400));
  if (!match) return reader.fail('expected a number');
  reader.pos += match[0].length;
  const text = match[0].replaceAll('_', '');
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.replace(/^[+-]/, '');
  let value: number;
  if (/^0[xX]/.test(digits)) value = Number.parseInt(digits.slice(2), 16);
  else if (/^0[oO]/.test(digits)) value = Number.parseInt(digits.slice(2), 8);
  else if (/^0[bB]/.test(digits)) value = Number.parseInt(digits.slice(2), 2);
  else value = Number(digits);
  if (!Number.isFinite(value)) reader.fail('not a finite number');
  return sign * value;
}
