/**
 * Renders chat templates on @huggingface/jinja the way Python's Jinja2 does inside Hugging Face
 * transformers' `apply_chat_template` (its sandboxed environment with `trim_blocks`, `lstrip_blocks`,
 * and its own `tojson`, `raise_exception` and `strftime_now`), where the two differ on what chat
 * templates use:
 * - `tojson` is Python's `json.dumps(x, ensure_ascii=False, indent=None, separators=None,
 *   sort_keys=False)`: Python's separators, float spelling (`1e-05`), `indent=0`, code-point key order;
 * - printing a value, `~` and `|string` use Python's `str()` (a dict prints as its `repr`,
 *   `{'type': 'function', ...}`; `True`, `None`), as `(tool | string)` in SmolLM3's template needs;
 * - `==`, `!=` and `in` compare values as Python does (two equal dicts are equal);
 * - `+` of a string and a non-string is Python's TypeError, not a concatenation;
 * - a `for` over an undefined value runs zero times (its `else` block), over a string over its
 *   characters; `is iterable` holds for a dict;
 * - `strftime_now` formats the local time with Python's (C locale) directives.
 *
 * Not reproducible here: JavaScript numbers do not tell an int from a float, so a float with an
 * integer value (Python's `2.0`, `1e16`) prints and serialises as the int (`2`, `10000000000000000`
 * where Python writes `2.0`, `1e+16`); JSON text parsed by JSON.parse has already lost that.
 *
 * It reads @huggingface/jinja's interpreter internals (the methods below, and runtime values as
 * `{ type, value }`), which its types mark private: test/chat/tool-templates.test.ts checks every
 * override against strings recorded from Python, so a change there shows up in that test.
 */
import { Environment, Interpreter, type Template } from '@huggingface/jinja';

/** A runtime value of @huggingface/jinja, as read here: its class name and its JavaScript value. */
interface Value {
  readonly type: string;
  readonly value: unknown;
}

/** The AST nodes read here (their `type` strings are @huggingface/jinja's node class names). */
interface Node {
  readonly type: string;
  readonly [field: string]: unknown;
}

type Program = Template['parsed'];

/** The private methods of @huggingface/jinja's Interpreter this module overrides or calls. */
interface InterpreterInternals {
  run(program: Program): Value;
  evaluate(node: Node | undefined, environment: Environment): Value;
  evaluateArguments(args: readonly Node[], environment: Environment): [Value[], Map<string, Value>];
  applyFilter(operand: Value, filterNode: Node, environment: Environment): Value;
  evaluateBlock(statements: readonly Node[], environment: Environment): Value;
  evaluateBinaryExpression(node: Node, environment: Environment): Value;
  evaluateTestExpression(node: Node, environment: Environment): Value;
  evaluateFor(node: Node, environment: Environment): Value;
}

/** Converts a JavaScript value to a runtime value (through the library's own conversion). */
function toValue(value: unknown): Value {
  return new Environment().set('value', value) as unknown as Value;
}

const ValueClass = {
  string: toValue('').constructor as new (value: string) => Value,
  boolean: toValue(false).constructor as new (value: boolean) => Value,
  array: toValue([]).constructor as new (value: Value[]) => Value,
};

const str = (text: string): Value => new ValueClass.string(text);
const bool = (flag: boolean): Value => new ValueClass.boolean(flag);

/** Node types that are statements: what they evaluate to is their output (or nothing), never printed as a value. */
const STATEMENTS = new Set([
  'Program',
  'If',
  'For',
  'Break',
  'Continue',
  'Set',
  'Macro',
  'Comment',
  'CallStatement',
  'FilterStatement',
]);

// ---- Python's float repr and str()

/** Python's `repr(float)`: the shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  const sign = x < 0 ? '-' : '';
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const fraction = digits.slice(e + 1);
  return `${sign}${whole}.${fraction.length > 0 ? fraction : '0'}`;
}

/** Python's `str(int)` for a JavaScript integer (exact digits, also beyond 2^53 and 1e21). */
function pythonInt(x: number): string {
  return Object.is(x, -0) ? '0' : BigInt(x).toString();
}

/** Characters Python's `str.isprintable()` refuses (besides ASCII controls): escaped in a repr. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's `repr(str)`: single quotes unless the text has ' and no ", escapes as Python writes them. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === ' ') out += ch;
    else if (code < 0x20 || code === 0x7f || NOT_PRINTABLE.test(ch)) {
      const hex = code.toString(16);
      out +=
        code < 0x100
          ? `\\x${hex.padStart(2, '0')}`
          : code < 0x10000
            ? `\\u${hex.padStart(4, '0')}`
            : `\\U${hex.padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's `repr()` of a runtime value (a dict as `{'a': 1}`, a list as `[1, 2]`). */
function pythonRepr(v: Value): string {
  switch (v.type) {
    case 'StringValue':
      return pythonStringRepr(v.value as string);
    case 'ArrayValue':
      return `[${(v.value as Value[]).map(pythonRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (v.value as Value[]).map(pythonRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
    case 'NamespaceValue':
    case 'KeywordArgumentsValue':
      return `{${[...(v.value as Map<string, Value>)]
        .map(([key, item]) => `${pythonStringRepr(key)}: ${pythonRepr(item)}`)
        .join(', ')}}`;
    default:
      return pythonStr(v);
  }
}

/** Python's `str()` of a runtime value, as Jinja2 prints it (an undefined value prints nothing). */
export function pythonStr(v: Value): string {
  switch (v.type) {
    case 'StringValue':
      return v.value as string;
    case 'IntegerValue':
      return pythonInt(v.value as number);
    case 'FloatValue':
      return pythonFloat(v.value as number);
    case 'BooleanValue':
      return v.value ? 'True' : 'False';
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return '';
    case 'FunctionValue':
      return '<function>';
    default:
      return pythonRepr(v);
  }
}

// ---- Python's json.dumps (transformers' tojson)

interface JsonOptions {
  ensureAscii: boolean;
  /** Python's indent: null for one line; a number of spaces or a string per level (0: newlines only). */
  indent: string | null;
  itemSeparator: string;
  keySeparator: string;
  sortKeys: boolean;
}

/** Python json's string escaping (`ensure_ascii`: everything outside ' '..'~' as \\uXXXX). */
function jsonString(text: string, ensureAscii: boolean): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = text.charCodeAt(i);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20 || (ensureAscii && code > 0x7e)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function jsonValue(v: Value, options: JsonOptions, depth: number): string {
  switch (v.type) {
    case 'NullValue':
    case 'UndefinedValue':
      return 'null';
    case 'BooleanValue':
      return v.value ? 'true' : 'false';
    case 'IntegerValue':
      return pythonInt(v.value as number);
    case 'FloatValue': {
      const x = v.value as number;
      if (Number.isNaN(x)) return 'NaN';
      if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
      return pythonFloat(x);
    }
    case 'StringValue':
      return jsonString(v.value as string, options.ensureAscii);
    case 'ArrayValue':
    case 'TupleValue':
      return jsonContainer(
        (v.value as Value[]).map((item) => jsonValue(item, options, depth + 1)),
        '[',
        ']',
        options,
        depth,
      );
    case 'ObjectValue':
    case 'NamespaceValue':
    case 'KeywordArgumentsValue': {
      let entries = [...(v.value as Map<string, Value>)];
      // Python sorts str keys by code point (not by locale).
      if (options.sortKeys) entries = entries.sort(([a], [b]) => comparePython(a, b));
      return jsonContainer(
        entries.map(
          ([key, item]) =>
            `${jsonString(key, options.ensureAscii)}${options.keySeparator}${jsonValue(item, options, depth + 1)}`,
        ),
        '{',
        '}',
        options,
        depth,
      );
    }
    default:
      throw new TypeError(`Object of type ${v.type} is not JSON serializable`);
  }
}

/**
 * Python's `json.dumps(value)` with its defaults (ensure_ascii, `', '` and `': '`): the JSON that
 * Hugging Face users write into messages themselves (Phi-4-mini's system message `tools`).
 */
export function pythonJsonDumps(value: unknown): string {
  const options = {
    ensureAscii: true,
    indent: null,
    itemSeparator: ', ',
    keySeparator: ': ',
    sortKeys: false,
  };
  return jsonValue(toValue(value), options, 0);
}

function jsonContainer(
  items: string[],
  open: string,
  close: string,
  options: JsonOptions,
  depth: number,
): string {
  if (items.length === 0) return open + close;
  if (options.indent === null) return open + items.join(options.itemSeparator) + close;
  const inner = `\n${options.indent.repeat(depth + 1)}`;
  return `${open}${inner}${items.join(options.itemSeparator + inner)}\n${options.indent.repeat(depth)}${close}`;
}

/** Compares strings by code point, as Python orders str. */
function comparePython(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`
 * filter: Python's `json.dumps` with those arguments (positional or by keyword).
 */
function pythonToJson(
  operand: Value,
  positional: readonly Value[],
  kwargs: ReadonlyMap<string, Value>,
): string {
  const names = ['ensure_ascii', 'indent', 'separators', 'sort_keys'];
  const args = new Map<string, Value>();
  positional.forEach((v, i) => {
    const name = names[i];
    if (name === undefined)
      throw new TypeError(`tojson() takes at most ${names.length + 1} positional arguments`);
    args.set(name, v);
  });
  for (const [name, v] of kwargs) {
    if (!names.includes(name)) throw new TypeError(`tojson() got an unexpected keyword argument '${name}'`);
    args.set(name, v);
  }
  const indentArg = args.get('indent');
  let indent: string | null = null;
  if (indentArg && indentArg.type !== 'NullValue') {
    if (indentArg.type === 'IntegerValue') indent = ' '.repeat(Math.max(0, indentArg.value as number));
    else if (indentArg.type === 'StringValue') indent = indentArg.value as string;
    else throw new TypeError(`tojson(): indent must be an integer, a string or none, not ${indentArg.type}`);
  }
  let itemSeparator = indent === null ? ', ' : ',';
  let keySeparator = ': ';
  const separators = args.get('separators');
  if (separators && separators.type !== 'NullValue') {
    const pair = separators.value as Value[];
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((s) => s.type !== 'StringValue')) {
      throw new TypeError('tojson(): separators must be a pair of strings (item_separator, key_separator)');
    }
    itemSeparator = pair[0]!.value as string;
    keySeparator = pair[1]!.value as string;
  }
  const truthy = (v: Value | undefined) => v !== undefined && Boolean(v.value) && v.type !== 'NullValue';
  return jsonValue(
    operand,
    {
      ensureAscii: truthy(args.get('ensure_ascii')),
      indent,
      itemSeparator,
      keySeparator,
      sortKeys: truthy(args.get('sort_keys')),
    },
    0,
  );
}

// ---- Python's equality

/** Python's `==` on runtime values: numbers (and booleans) by value, containers item by item. */
function pythonEquals(a: Value, b: Value): boolean {
  const numeric = (v: Value) =>
    v.type === 'IntegerValue' || v.type === 'FloatValue' || v.type === 'BooleanValue';
  if (numeric(a) && numeric(b)) return Number(a.value) === Number(b.value);
  const list = (v: Value) => v.type === 'ArrayValue' || v.type === 'TupleValue';
  if (list(a) || list(b)) {
    if (a.type !== b.type) return false;
    const x = a.value as Value[];
    const y = b.value as Value[];
    return x.length === y.length && x.every((item, i) => pythonEquals(item, y[i] as Value));
  }
  const mapping = (v: Value) => v.type === 'ObjectValue' || v.type === 'NamespaceValue';
  if (mapping(a) || mapping(b)) {
    if (!mapping(a) || !mapping(b)) return false;
    const x = a.value as Map<string, Value>;
    const y = b.value as Map<string, Value>;
    if (x.size !== y.size) return false;
    for (const [key, item] of x) {
      const other = y.get(key);
      if (other === undefined || !pythonEquals(item, other)) return false;
    }
    return true;
  }
  if (a.type === 'UndefinedValue' || b.type === 'UndefinedValue') return a.type === b.type;
  return a.type === b.type && a.value === b.value;
}

const PYTHON_TYPE_NAMES: Record<string, string> = {
  IntegerValue: 'int',
  FloatValue: 'float',
  BooleanValue: 'bool',
  NullValue: 'NoneType',
  ArrayValue: 'list',
  TupleValue: 'tuple',
  ObjectValue: 'dict',
  FunctionValue: 'function',
};

// ---- strftime (C locale)

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Python's `datetime.strftime` in the C locale, for a local time (naive: %z and %Z are empty). */
export function pythonStrftime(date: Date, format: string): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const year = date.getFullYear();
  const dayOfYear = (Date.UTC(year, date.getMonth(), date.getDate()) - Date.UTC(year, 0, 1)) / 86_400_000 + 1;
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  return format.replace(/%([a-zA-Z%])/g, (directive, c: string) => {
    switch (c) {
      case 'a':
        return (DAYS[date.getDay()] as string).slice(0, 3);
      case 'A':
        return DAYS[date.getDay()] as string;
      case 'b':
      case 'h':
        return (MONTHS[date.getMonth()] as string).slice(0, 3);
      case 'B':
        return MONTHS[date.getMonth()] as string;
      case 'd':
        return pad(date.getDate());
      case 'e':
        return String(date.getDate()).padStart(2, ' ');
      case 'H':
        return pad(date.getHours());
      case 'I':
        return pad(hour12);
      case 'j':
        return pad(dayOfYear, 3);
      case 'm':
        return pad(date.getMonth() + 1);
      case 'M':
        return pad(date.getMinutes());
      case 'p':
        return date.getHours() < 12 ? 'AM' : 'PM';
      case 'S':
        return pad(date.getSeconds());
      case 'f':
        return pad(date.getMilliseconds() * 1000, 6);
      case 'y':
        return pad(year % 100);
      case 'Y':
        return String(year);
      case 'w':
        return String(date.getDay());
      case 'z':
      case 'Z':
        return '';
      case 'D':
        return `${pad(date.getMonth() + 1)}/${pad(date.getDate())}/${pad(date.getFullYear() % 100)}`;
      case 'F':
        return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
      case 'T':
        return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
      case '%':
        return '%';
      default:
        return directive;
    }
  });
}

/** The error a template raises with `raise_exception(message)`: its message is the template's. */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

const FOR_ITERABLE = '__slmkit_for_iterable__';

const Base = Interpreter as unknown as new (environment: Environment) => InterpreterInternals;

/** @huggingface/jinja's interpreter with Python Jinja2's behaviour where chat templates meet the difference. */
class PythonJinjaInterpreter extends Base {
  override applyFilter(operand: Value, filterNode: Node, environment: Environment): Value {
    if (filterNode.type === 'Identifier') {
      if (filterNode.value === 'tojson') return str(pythonToJson(operand, [], new Map()));
      if (filterNode.value === 'string') return str(pythonStr(operand));
    } else if (filterNode.type === 'CallExpression') {
      const callee = filterNode.callee as Node;
      if (callee.type === 'Identifier' && callee.value === 'tojson') {
        const [positional, kwargs] = this.evaluateArguments(filterNode.args as Node[], environment);
        return str(pythonToJson(operand, positional, kwargs));
      }
    }
    return super.applyFilter(operand, filterNode, environment);
  }

  override evaluateBlock(statements: readonly Node[], environment: Environment): Value {
    let out = '';
    for (const statement of statements) {
      const value = this.evaluate(statement, environment);
      if (!STATEMENTS.has(statement.type)) out += pythonStr(value);
      else if (value.type !== 'NullValue' && value.type !== 'UndefinedValue') out += String(value.value);
    }
    return str(out);
  }

  override evaluateBinaryExpression(node: Node, environment: Environment): Value {
    const op = (node.operator as { value: string }).value;
    if (!['~', '==', '!=', '+', 'in', 'not in'].includes(op))
      return super.evaluateBinaryExpression(node, environment);
    const left = this.evaluate(node.left as Node, environment);
    const right = this.evaluate(node.right as Node, environment);
    switch (op) {
      case '~':
        return str(pythonStr(left) + pythonStr(right));
      case '==':
        return bool(pythonEquals(left, right));
      case '!=':
        return bool(!pythonEquals(left, right));
      case '+':
        if ((left.type === 'StringValue') !== (right.type === 'StringValue')) {
          const other = left.type === 'StringValue' ? right : left;
          if (other.type !== 'UndefinedValue') {
            throw new TypeError(
              left.type === 'StringValue'
                ? `can only concatenate str (not "${PYTHON_TYPE_NAMES[other.type] ?? other.type}") to str`
                : `unsupported operand type(s) for +: '${PYTHON_TYPE_NAMES[left.type] ?? left.type}' and 'str'`,
            );
          }
        }
        break;
      default: {
        // in / not in over a list: Python compares items with ==.
        if (right.type === 'ArrayValue' || right.type === 'TupleValue') {
          const member = (right.value as Value[]).some((item) => pythonEquals(left, item));
          return bool(op === 'in' ? member : !member);
        }
      }
    }
    // Everything else as @huggingface/jinja does it, on the values already evaluated.
    const scope = new Environment(environment);
    scope.setVariable(`${FOR_ITERABLE}l`, left as never);
    scope.setVariable(`${FOR_ITERABLE}r`, right as never);
    return super.evaluateBinaryExpression(
      {
        ...node,
        type: 'BinaryExpression',
        left: { type: 'Identifier', value: `${FOR_ITERABLE}l` },
        right: { type: 'Identifier', value: `${FOR_ITERABLE}r` },
      },
      scope,
    );
  }

  override evaluateTestExpression(node: Node, environment: Environment): Value {
    // Jinja2's `iterable` test holds for anything Python can iterate, a dict included.
    if ((node.test as { value: string }).value === 'iterable') {
      const operand = this.evaluate(node.operand as Node, environment);
      const iterable = ['ArrayValue', 'TupleValue', 'StringValue', 'ObjectValue', 'NamespaceValue'].includes(
        operand.type,
      );
      return bool(node.negate ? !iterable : iterable);
    }
    return super.evaluateTestExpression(node, environment);
  }

  override evaluateFor(node: Node, environment: Environment): Value {
    const iterable = node.iterable as Node;
    const select = iterable.type === 'SelectExpression';
    let value = this.evaluate(select ? (iterable.lhs as Node) : iterable, environment);
    // Jinja2 iterates an undefined value as nothing, and a string by its characters.
    if (value.type === 'UndefinedValue') value = new ValueClass.array([]);
    else if (value.type === 'StringValue')
      value = new ValueClass.array([...(value.value as string)].map(str));
    const scope = new Environment(environment);
    scope.setVariable(FOR_ITERABLE, value as never);
    const ref = { type: 'Identifier', value: FOR_ITERABLE };
    return super.evaluateFor(
      { ...node, type: 'For', iterable: select ? { ...iterable, lhs: ref } : ref },
      scope,
    );
  }
}

/**
 * Renders a parsed template with `variables`, in an environment like transformers' chat template
 * environment: `raise_exception` (throws {@link TemplateError}), `strftime_now` (local time, C
 * locale), `range`, `namespace`, `true`/`false`/`none` and their Python spellings.
 */
export function renderPythonJinja(template: Template, variables: Record<string, unknown>): string {
  const env = new Environment();
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new TemplateError(String(message));
    },
    strftime_now: (format: unknown) => pythonStrftime(new Date(), String(format)),
    range: (start: number, stop?: number, step = 1) => {
      const [from, to] = stop === undefined ? [0, start] : [start, stop];
      if (step === 0) throw new Error('range() arg 3 must not be zero');
      const out: number[] = [];
      for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
      return out;
    },
  };
  for (const [name, value] of Object.entries({ ...globals, ...variables })) {
    env.setVariable(name, toValue(value) as never);
  }
  const result = new PythonJinjaInterpreter(env).run(template.parsed);
  return result.value as string;
}
