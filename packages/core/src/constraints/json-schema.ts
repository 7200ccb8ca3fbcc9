import { SlmkitError, showValue } from '../spec/errors.js';

type Schema = Record<string, unknown>;

/** JSON Schema keywords that only describe: accepted and ignored. */
const ANNOTATIONS = ['title', 'description', '$schema', '$id', '$comment', 'default', 'examples'];

/** The supported keywords, by what they apply to (`any`: every schema). */
const KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  any: [...ANNOTATIONS, 'type', 'enum', 'const', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions'],
  object: ['properties', 'required', 'additionalProperties'],
  array: ['items', 'prefixItems', 'minItems', 'maxItems'],
  string: ['minLength', 'maxLength', 'pattern', 'format'],
  number: ['minimum', 'maximum'], // on type: 'integer' only (see checkNode)
};
const ALLOWED = new Set(Object.values(KEYWORDS).flat());
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const FORMATS = new Set(['date', 'date-time', 'email', 'uuid']);

/** A JSON pointer token (RFC 6901). */
const token = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** Throws INVALID_OPTION for the schema node at JSON pointer `path`. */
function refuse(path: string, message: string): never {
  throw new SlmkitError('INVALID_OPTION', `responseFormat.schema${path ? ` at ${path}` : ''}: ${message}`);
}

const isSchemaObject = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isCount = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/**
 * Checks that `schema` uses only the documented subset of JSON Schema (docs/structured-output.md)
 * and throws SlmkitError INVALID_OPTION naming the first keyword or value that is not, with its
 * JSON pointer: the engine would ignore an unknown keyword silently, and report a bad value
 * without saying where. `$ref` must point into the schema (`#`, `#/$defs/…`, `#/definitions/…`).
 */
export function checkJsonSchema(schema: unknown): void {
  if (!isSchemaObject(schema)) refuse('', `a JSON schema must be an object; got ${showValue(schema)}.`);
  checkNode(schema, '', schema);
}

/** Checks one schema node (at JSON pointer `path`) and its subschemas; `$ref`s resolve in `root`. */
function checkNode(node: unknown, path: string, root: Schema): void {
  if (node === true || node === false) return;
  if (!isSchemaObject(node)) refuse(path, `a schema must be an object or a boolean; got ${showValue(node)}.`);
  for (const key of Object.keys(node)) {
    if (!ALLOWED.has(key)) {
      refuse(
        `${path}/${token(key)}`,
        `the keyword "${key}" is not supported (docs/structured-output.md lists the supported subset).`,
      );
    }
  }
  const types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
  if (types.length === 0 && node.type !== undefined) refuse(`${path}/type`, 'type must not be empty.');
  for (const type of types) {
    if (typeof type !== 'string' || !TYPES.has(type))
      refuse(`${path}/type`, `unknown type ${showValue(type)}; use one of ${[...TYPES].join(', ')}.`);
  }
  for (const [kind, keys] of Object.entries(KEYWORDS)) {
    if (kind === 'any' || types.length === 0) continue;
    const fits =
      kind === 'number' ? types.includes('number') || types.includes('integer') : types.includes(kind);
    const misplaced = keys.find((key) => key in node);
    if (!fits && misplaced)
      refuse(
        `${path}/${misplaced}`,
        `${misplaced} applies to ${kind}s, but the type is ${types.join(' | ')}.`,
      );
  }
  if ('enum' in node && (!Array.isArray(node.enum) || node.enum.length === 0))
    refuse(`${path}/enum`, 'enum must be a non-empty array.');
  for (const key of ['anyOf', 'oneOf']) {
    if (!(key in node)) continue;
    const list = node[key];
    if (!Array.isArray(list) || list.length === 0)
      refuse(`${path}/${key}`, `${key} must be a non-empty array.`);
    list.forEach((sub, i) => {
      checkNode(sub, `${path}/${key}/${i}`, root);
    });
  }
  for (const key of ['$defs', 'definitions', 'properties']) {
    if (!(key in node)) continue;
    const map = node[key];
    if (!isSchemaObject(map)) refuse(`${path}/${key}`, `${key} must be an object of schemas.`);
    for (const [name, sub] of Object.entries(map)) checkNode(sub, `${path}/${key}/${token(name)}`, root);
  }
  if ('required' in node) {
    const { required } = node;
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))
      refuse(`${path}/required`, 'required must be an array of property names.');
  }
  if ('additionalProperties' in node)
    checkNode(node.additionalProperties, `${path}/additionalProperties`, root);
  if ('items' in node) checkNode(node.items, `${path}/items`, root);
  if ('prefixItems' in node) {
    if (!Array.isArray(node.prefixItems))
      refuse(`${path}/prefixItems`, 'prefixItems must be an array of schemas.');
    node.prefixItems.forEach((sub, i) => {
      checkNode(sub, `${path}/prefixItems/${i}`, root);
    });
  }
  for (const key of ['minItems', 'maxItems', 'minLength', 'maxLength']) {
    if (key in node && !isCount(node[key]))
      refuse(`${path}/${key}`, `${key} must be an integer >= 0; got ${showValue(node[key])}.`);
  }
  for (const [min, max] of [
    ['minItems', 'maxItems'],
    ['minLength', 'maxLength'],
    ['minimum', 'maximum'],
  ]) {
    if (min in node && max in node && (node[min] as number) > (node[max] as number))
      refuse(`${path}/${min}`, `${min} is greater than ${max}, so no value fits.`);
  }
  for (const key of ['minimum', 'maximum']) {
    if (key in node && !(typeof node[key] === 'number' && Number.isFinite(node[key])))
      refuse(`${path}/${key}`, `${key} must be a finite number; got ${showValue(node[key])}.`);
  }
  // Integer ranges are written as our own exact grammar; xgrammar's bounds on other numbers are
  // not exact (maximum: 10 lets 10.5 through), so they are refused rather than silently loose.
  const bound = ['minimum', 'maximum'].find((key) => key in node);
  if (bound && node.type !== 'integer')
    refuse(
      `${path}/${bound}`,
      `${bound} is supported only on integers (type: 'integer', alone; use anyOf for integer or null): ` +
        'the engine does not bound other numbers exactly (maximum: 10 would let 10.5 through).',
    );
  if ('pattern' in node) {
    if (typeof node.pattern !== 'string') refuse(`${path}/pattern`, 'pattern must be a string.');
    try {
      new RegExp(node.pattern, 'u');
    } catch (error) {
      refuse(`${path}/pattern`, `pattern is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  if ('format' in node && !FORMATS.has(node.format as string))
    refuse(
      `${path}/format`,
      `format ${showValue(node.format)} is not supported; use one of ${[...FORMATS].join(', ')}.`,
    );
  if ('$ref' in node) resolveRef(node.$ref, `${path}/$ref`, root);
}

/** The schema a local `$ref` points to; INVALID_OPTION when it is not local or points nowhere. */
function resolveRef(ref: unknown, path: string, root: Schema): unknown {
  if (typeof ref !== 'string' || !ref.startsWith('#'))
    refuse(path, `$ref must point into the schema (e.g. "#/$defs/Node"); got ${showValue(ref)}.`);
  let target: unknown = root;
  for (const part of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    target = isSchemaObject(target) ? target[key] : undefined;
    if (target === undefined) refuse(path, `$ref ${showValue(ref)} points to nothing in the schema.`);
  }
  return target;
}

/** An integer range to constrain exactly (either bound may be missing). */
export interface IntegerRange {
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/**
 * A copy of a checked schema in which every integer schema with a `minimum` or `maximum` is
 * replaced by `placeholder(index)` (and `ranges[index]` holds its range), so that the range can be
 * written as an exact grammar of its own: the engine's converter (xgrammar 0.1.27) lets some
 * ranges through wrong, e.g. `{minimum: 3, maximum: 117}` accepts 118 and 119.
 */
export function extractIntegerRanges(
  schema: Schema,
  placeholder: (index: number) => Schema,
): { schema: Schema; ranges: IntegerRange[] } {
  const ranges: IntegerRange[] = [];
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isSchemaObject(node)) return node;
    const bounded = node.type === 'integer' && ('minimum' in node || 'maximum' in node);
    if (bounded && !('enum' in node) && !('const' in node)) {
      const min = node.minimum === undefined ? undefined : Math.ceil(node.minimum as number);
      const max = node.maximum === undefined ? undefined : Math.floor(node.maximum as number);
      for (const bound of [min, max]) {
        if (bound !== undefined && !Number.isSafeInteger(bound))
          throw new SlmkitError(
            'INVALID_OPTION',
            `responseFormat.schema: integer bound ${bound} is not a safe integer.`,
          );
      }
      if (min !== undefined && max !== undefined && min > max)
        throw new SlmkitError(
          'INVALID_OPTION',
          `responseFormat.schema: no integer lies in [${node.minimum}, ${node.maximum}].`,
        );
      ranges.push({ min, max });
      return placeholder(ranges.length - 1);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
  };
  return { schema: walk(schema) as Schema, ranges };
}

/** A leap year's four digits: divisible by 4 and not by 100, or by 400 (the year 0000 left out). */
const LEAP_YEAR = '([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)';
/** A calendar date, YYYY-MM-DD: each month's own number of days, February 29 in leap years only. */
const DATE =
  '([0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))' +
  `|${LEAP_YEAR}-02-29)`;
/** RFC 3339 time with an offset: hours 00–23, minutes and seconds 00–59, up to 6 fraction digits. */
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])';

/** The patterns slmkit writes for formats the engine checks only by shape (it lets 2466-02-31 through). */
const EXACT_FORMATS: Readonly<Record<string, string>> = {
  date: `^${DATE}$`,
  'date-time': `^${DATE}T${TIME}$`,
};

/**
 * A copy of a checked schema in which every string schema of format `date` or `date-time` (and no
 * pattern of its own) has an exact `pattern` instead: real calendar dates and times, as validators
 * check them.
 */
export function exactDateFormats(schema: Schema): Schema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isSchemaObject(node)) return node;
    const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    const pattern = typeof node.format === 'string' ? EXACT_FORMATS[node.format] : undefined;
    if (pattern === undefined || 'pattern' in node) return copy;
    const { format: _, ...rest } = copy;
    return { ...rest, pattern };
  };
  return walk(schema) as Schema;
}

/** xgrammar EBNF for the decimal integers in `range`, exactly (no leading zeros, no `-0`). */
export function integerRangeEbnf({ min, max }: IntegerRange): string {
  const alternatives: string[] = [];
  // Negative numbers: a minus sign, then magnitudes in [max(1, -max), -min].
  if (min === undefined || min < 0) {
    const from = max === undefined || max >= 0 ? 1 : -max;
    alternatives.push(...naturals(from, min === undefined ? undefined : -min).map((alt) => `"-" ${alt}`));
  }
  if (max === undefined || max >= 0) alternatives.push(...naturals(Math.max(0, min ?? 0), max));
  return alternatives.map((alt) => `(${alt})`).join(' | ');
}

/** Sequences for the naturals in [from, to] (`to` undefined: unbounded), one per digit count. */
function naturals(from: number, to: number | undefined): string[] {
  const out: string[] = [];
  const fromDigits = String(from).length;
  const toDigits = to === undefined ? fromDigits : String(to).length;
  for (let digits = fromDigits; digits <= toDigits; digits++) {
    const low = Math.max(from, digits === 1 ? 0 : 10 ** (digits - 1));
    const high = to === undefined || digits < toDigits ? 10 ** digits - 1 : to;
    out.push(...sameLength(String(low), String(high)));
  }
  // Unbounded: any natural with more digits than `from`.
  if (to === undefined) out.push(`[1-9] [0-9]{${fromDigits},}`);
  return out;
}

/** Sequences for the numbers from `low` to `high`, two digit strings of the same length. */
function sameLength(low: string, high: string): string[] {
  if (low.length === 0) return [''];
  const rest = low.length - 1;
  const tail = (alt: string) => (alt ? ` ${alt}` : '');
  const any = rest > 0 ? ` [0-9]{${rest}}` : '';
  const [l, h] = [Number(low[0]), Number(high[0])];
  const lowRest = low.slice(1);
  const highRest = high.slice(1);
  if (l === h) return sameLength(lowRest, highRest).map((alt) => `"${l}"${tail(alt)}`);
  if (/^0*$/.test(lowRest) && /^9*$/.test(highRest)) return [`[${l}-${h}]${any}`];
  const out = sameLength(lowRest, '9'.repeat(rest)).map((alt) => `"${l}"${tail(alt)}`);
  if (h - l > 1) out.push(`[${l + 1}-${h - 1}]${any}`);
  out.push(...sameLength('0'.repeat(rest), highRest).map((alt) => `"${h}"${tail(alt)}`));
  return out;
}
