import type { CompiledGrammar, GrammarCompiler } from '@mlc-ai/web-xgrammar';
import type { TextTokenizer } from '../model/tokenizer.js';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { ResponseFormat } from '../spec/generation.js';
import { checkJsonSchema, exactDateFormats, extractIntegerRanges, integerRangeEbnf } from './json-schema.js';
import { TokenMaskStage } from './token-mask-stage.js';
import { loadXgrammar, xgrammarError } from './xgrammar.js';

/** Throws SlmkitError INVALID_OPTION with `message`. */
function invalid(message: string): never {
  throw new SlmkitError('INVALID_OPTION', message);
}

/**
 * Throws INVALID_OPTION unless `format` is absent or a {@link ResponseFormat} the engine can
 * compile: a known type with its field, a schema in the supported subset, a valid regular
 * expression, a non-empty grammar. Runs at call time, before anything is loaded or compiled.
 */
export function checkResponseFormat(format: unknown): asserts format is ResponseFormat | undefined {
  if (format === undefined) return;
  if (typeof format !== 'object' || format === null)
    invalid(`responseFormat must be an object such as { type: 'json' }; got ${showValue(format)}.`);
  const f = format as Record<string, unknown>;
  switch (f.type) {
    case 'json':
      return;
    case 'json_schema':
      if (f.name !== undefined && typeof f.name !== 'string')
        invalid(`responseFormat.name must be a string; got ${showValue(f.name)}.`);
      checkJsonSchema(f.schema);
      return;
    case 'regex':
      if (typeof f.pattern !== 'string' || f.pattern.length === 0)
        invalid(
          `responseFormat.pattern must be a non-empty regular expression; got ${showValue(f.pattern)}.`,
        );
      try {
        new RegExp(f.pattern, 'u');
      } catch (error) {
        invalid(`responseFormat.pattern is not a valid regular expression: ${(error as Error).message}`);
      }
      return;
    case 'grammar':
      if (typeof f.grammar !== 'string' || !/\broot\s*::=/.test(f.grammar))
        invalid(
          `responseFormat.grammar must be an EBNF grammar with a root rule (root ::= …); got ${showValue(f.grammar)}.`,
        );
      return;
    default:
      invalid(
        `responseFormat.type must be 'json', 'json_schema', 'regex' or 'grammar'; got ${showValue(f.type)}.`,
      );
  }
}

/** Any JSON value, compact: no whitespace outside strings. */
export const JSON_GRAMMAR = String.raw`root ::= value
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" (member ("," member)*)? "}"
member ::= string ":" value
array ::= "[" (value ("," value)*)? "]"
string ::= "\"" char* "\""
char ::= [^\0-\x1f\"\\] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [+-]? [0-9]+)?`;

/**
 * xgrammar EBNF for a checked JSON schema, compact (`,` and `:` with no spaces, no extra
 * properties unless additionalProperties allows them). xgrammar converts the schema, except for
 * integer ranges, which are written here exactly (see `extractIntegerRanges`).
 */
export async function jsonSchemaGrammar(schema: Readonly<Record<string, unknown>>): Promise<string> {
  const xg = await loadXgrammar();
  const nonce = Math.random().toString(36).slice(2);
  const marker = (i: number) => `slmkit-integer-range-${nonce}-${i}`;
  const { schema: rewritten, ranges } = extractIntegerRanges(exactDateFormats(schema), (i) => ({
    const: marker(i),
  }));
  let ebnf = await xg.Testings._jsonSchemaToEBNF(JSON.stringify(rewritten), false, -1, [',', ':'], true);
  ranges.forEach((range, i) => {
    // The placeholder's rule is the JSON string literal of the marker.
    const literal = `"\\"${marker(i)}\\""`;
    if (!ebnf.includes(literal))
      throw new Error(`the integer range placeholder ${i} is missing from the grammar`);
    ebnf = `${ebnf.replaceAll(literal, `slmkit_integer_${i}`)}\nslmkit_integer_${i} ::= ${integerRangeEbnf(range)}`;
  });
  return jsonSafeStrings(ebnf);
}

/** Characters a JSON string holds only escaped: controls, `"` and `\`. */
const NEEDS_ESCAPE = String.raw`\0-\x1f\"\\`;

/**
 * The engine's grammar with its raw string characters made valid JSON: for length-bounded strings
 * and a pattern's `.` and negated classes, xgrammar 0.1.27 allows control characters, `"` and `\`
 * unescaped (invalid JSON). They are left out instead (docs/structured-output.md).
 */
function jsonSafeStrings(ebnf: string): string {
  // String literals are skipped; a character class is a negated one or the class of every character.
  const pieces = /"(?:\\.|[^"\\])*"|\[\^((?:\\.|[^\]\\])*)\]|\[\\u0000-\\U0010FFFF\]/g;
  return ebnf
    .split('\n')
    .map((line) =>
      line.startsWith('basic_')
        ? line
        : line.replace(pieces, (piece, negated: string | undefined) =>
            piece.startsWith('"') ? piece : `[^${negated ?? ''}${NEEDS_ESCAPE}]`,
          ),
    )
    .join('\n');
}

/**
 * One call of one of `calls`, each its `begin` text, arguments valid against `parameters`, then its
 * `end` text: what toolChoice 'required' or `{ name }` constrains the output to.
 */
export interface ToolCallConstraint {
  readonly type: 'tool_call';
  readonly calls: readonly {
    readonly begin: string;
    readonly end: string;
    readonly parameters: Readonly<Record<string, unknown>>;
  }[];
}

/** What a token mask can constrain the output to: a caller's responseFormat, or a tool call. */
export type ConstraintFormat = ResponseFormat | ToolCallConstraint;

/** How many compiled formats a model keeps (each is a few MB at a 152k vocabulary). */
const CACHED_FORMATS = 16;

/**
 * Compiles `responseFormat`s for one model and makes their token masks. The tokenizer info (the
 * vocabulary as xgrammar reads it) is built once, on first use; compiled formats are kept per
 * format (the most recent {@link CACHED_FORMATS}).
 */
export class ResponseFormatCompiler {
  private compiler: Promise<GrammarCompiler> | undefined;
  private readonly compiled = new Map<string, Promise<CompiledGrammar>>();

  /**
   * @param tokenizer - the model's tokenizer: its tokens' strings and their encoding (byte-level
   *   or SentencePiece) are what xgrammar matches text against.
   * @param vocabSize - the model's logits width (may exceed the tokenizer's vocabulary).
   */
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly vocabSize: number,
  ) {}

  /** One token mask per sequence for `format`, ending at `stopTokenIds`. */
  async masks(
    format: ConstraintFormat,
    count: number,
    stopTokenIds: readonly number[],
  ): Promise<TokenMaskStage[]> {
    const xg = await loadXgrammar();
    const compiled = await this.compile(format);
    const matchers = await Promise.all(
      Array.from({ length: count }, () =>
        xg.GrammarMatcher.createGrammarMatcher(compiled, [...stopTokenIds]),
      ),
    ).catch((cause: unknown) => {
      throw xgrammarError(
        'RUNTIME_ERROR',
        `The matchers of responseFormat ${format.type} could not be made`,
        cause,
      );
    });
    return matchers.map((matcher) => new TokenMaskStage(matcher, stopTokenIds, this.vocabSize));
  }

  /** Frees the compiled formats and the compiler. */
  async dispose(): Promise<void> {
    const compiled = [...this.compiled.values()];
    this.compiled.clear();
    for (const grammar of await Promise.allSettled(compiled))
      if (grammar.status === 'fulfilled') grammar.value.dispose();
    const compiler = this.compiler;
    this.compiler = undefined;
    (await compiler?.catch(() => undefined))?.dispose();
  }

  /** The compiled `format`, from the cache (keyed by its JSON) or compiled now; evicts the oldest. */
  private compile(format: ConstraintFormat): Promise<CompiledGrammar> {
    const key = JSON.stringify(format);
    let compiled = this.compiled.get(key);
    if (compiled) {
      // Most recently used last.
      this.compiled.delete(key);
    } else {
      compiled = this.compileNew(format);
      compiled.catch(() => this.compiled.delete(key));
      const oldest = this.compiled.size >= CACHED_FORMATS ? this.compiled.keys().next().value : undefined;
      if (oldest !== undefined) {
        void this.compiled.get(oldest)?.then(
          (grammar) => grammar.dispose(),
          () => {},
        );
        this.compiled.delete(oldest);
      }
    }
    this.compiled.set(key, compiled);
    return compiled;
  }

  /**
   * Compiles `format` with xgrammar; a format the engine refuses is INVALID_OPTION with the
   * engine's reason.
   */
  private async compileNew(format: ConstraintFormat): Promise<CompiledGrammar> {
    const compiler = await this.grammarCompiler();
    try {
      switch (format.type) {
        case 'json':
          return await compiler.compileGrammar(JSON_GRAMMAR);
        case 'json_schema':
          return await compiler.compileGrammar(await jsonSchemaGrammar(format.schema));
        case 'regex':
          return await compiler.compileStructuralTag({
            type: 'structural_tag',
            format: { type: 'regex', pattern: format.pattern },
          });
        case 'grammar':
          return await compiler.compileGrammar(format.grammar);
        case 'tool_call': {
          // Our own grammar of each schema (exact integer ranges, JSON-safe strings), between the
          // family's text before and after the arguments.
          const tags = await Promise.all(
            format.calls.map(async ({ begin, end, parameters }) => ({
              type: 'tag' as const,
              begin,
              content: { type: 'grammar' as const, grammar: await jsonSchemaGrammar(parameters) },
              end,
            })),
          );
          return await compiler.compileStructuralTag({
            type: 'structural_tag',
            format: tags.length === 1 ? tags[0] : { type: 'or', elements: tags },
          });
        }
      }
    } catch (cause) {
      if (cause instanceof SlmkitError) throw cause;
      throw xgrammarError(
        'INVALID_OPTION',
        format.type === 'tool_call'
          ? "The tools' parameters could not be compiled; check them against docs/structured-output.md"
          : `responseFormat ${format.type} could not be compiled; check it against docs/structured-output.md`,
        cause,
      );
    }
  }

  /** xgrammar's compiler over this model's vocabulary, made once (again after a failure). */
  private grammarCompiler(): Promise<GrammarCompiler> {
    this.compiler ??= (async () => {
      const xg = await loadXgrammar();
      const { tokenizer, vocabSize } = this;
      const vocabulary = Array.from({ length: vocabSize }, (_, id) => tokenizer.idToToken(id) ?? '');
      const { type, prependSpace } = tokenizer.vocabularyEncoding;
      try {
        const info = await xg.TokenizerInfo.createTokenizerInfo(vocabulary, type, prependSpace, vocabSize);
        return await xg.GrammarCompiler.createGrammarCompiler(info, true);
      } catch (cause) {
        throw xgrammarError('RUNTIME_ERROR', "xgrammar could not read the model's vocabulary", cause);
      }
    })();
    this.compiler.catch(() => {
      this.compiler = undefined;
    });
    return this.compiler;
  }
}
