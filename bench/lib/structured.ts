/**
 * The `structured-output` workload (slmkit issue #11): what a `responseFormat` costs. Its roles run
 * as scenario roles (bench/lib/scenarios.ts), each in a fresh process (bench/scenario-child.ts →
 * bench/scenarios/structured.ts):
 *
 * - `mask-32k`, `mask-152k`: compile times, then the token mask stepped through a valid document,
 *   at the llama2 tokenizer's 32,000 ids and Qwen3's 151,936 (the tokenizer alone, no model: the
 *   compiler and the stage need only the tokenizer and the logits width).
 * - `free`, `constrained`: one greedy generation on the SmolLM2-135M-shaped model without and with
 *   the nested schema as `responseFormat` (fresh process each, order rotating by round).
 * - `alternating`: one process, one model, free and constrained generations alternating run by
 *   run (seconds apart, the tightest ratio this machine allows).
 */

/** The roles of the workload, in the order of round 1. */
export type StructuredRole = 'mask-32k' | 'mask-152k' | 'free' | 'constrained' | 'alternating';

export const STRUCTURED_ROLES: readonly StructuredRole[] = [
  'mask-32k',
  'mask-152k',
  'free',
  'constrained',
  'alternating',
];

/** Prompt tokens of the decode roles (the bench's deterministic ids, as in `greedy-128`). */
export const DECODE_PROMPT_TOKENS = 128;

/** New tokens of every measured decode run (the constrained run must not end before, see below). */
export const DECODE_NEW_TOKENS = 128;

/** Free/constrained pairs of the `alternating` role (free first, then constrained first, …). */
export const ALTERNATING_PAIRS = 2;

/** Passes of the mask roles over the document (a fresh matcher from the cached format each pass). */
export const MASK_PASSES = 8;

/** Cached compiles timed per mask process, and distinct second schemas compiled on the warm compiler. */
export const CACHED_COMPILES = 20;
export const SECOND_SCHEMAS = 2;

/** Fresh compilers (tokenizer info + grammar) made after the first, with xgrammar warm. */
export const WARM_FIRST_COMPILES = 1;

/**
 * The nested schema: an order with a customer object, an array of item objects (each with an
 * array of strings), a shipping object; enums, integers with ranges, strings with formats (uuid,
 * date-time, email, date), a pattern and length bounds. `variant` > 0 gives a schema of the same
 * shape with different enum values (a different grammar, for "a second schema").
 */
export function nestedSchema(variant = 0): Record<string, unknown> {
  const statuses = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];
  if (variant > 0) statuses.push(`on-hold-${variant}`);
  return {
    type: 'object',
    properties: {
      orderId: { type: 'string', format: 'uuid' },
      createdAt: { type: 'string', format: 'date-time' },
      status: { enum: statuses },
      customer: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 40 },
          email: { type: 'string', format: 'email' },
          age: { type: 'integer', minimum: 18, maximum: 120 },
          tier: { enum: ['basic', 'silver', 'gold'] },
        },
        required: ['name', 'email', 'age', 'tier'],
      },
      items: {
        type: 'array',
        minItems: 1,
        maxItems: 12,
        items: {
          type: 'object',
          properties: {
            sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$' },
            quantity: { type: 'integer', minimum: 1, maximum: 99 },
            unitPriceCents: { type: 'integer', minimum: 0, maximum: 1000000 },
            category: { enum: ['books', 'garden', 'kitchen', 'toys', 'tools'] },
            tags: { type: 'array', items: { type: 'string', maxLength: 16 }, maxItems: 4 },
          },
          required: ['sku', 'quantity', 'unitPriceCents', 'category', 'tags'],
        },
      },
      shipping: {
        type: 'object',
        properties: {
          method: { enum: ['standard', 'express', 'pickup'] },
          deliverBy: { type: 'string', format: 'date' },
          giftWrap: { type: 'boolean' },
        },
        required: ['method', 'deliverBy', 'giftWrap'],
      },
    },
    required: ['orderId', 'createdAt', 'status', 'customer', 'items', 'shipping'],
  };
}

const CATEGORIES = ['books', 'garden', 'kitchen', 'toys', 'tools'];
const TAGS = ['gift', 'fragile', 'sale', 'new', 'eco', 'bulk', 'imported', 'handmade'];

/**
 * A document valid against {@link nestedSchema}, compact (no whitespace, properties in schema order:
 * what the grammar generates), with `items` item objects.
 */
export function nestedDocument(items = 6): string {
  return JSON.stringify({
    orderId: '3f2b8c1e-9a4d-4e7b-8c21-5d6e7f8a9b0c',
    createdAt: '2026-11-28T14:35:07Z',
    status: 'shipped',
    customer: { name: 'Ada Lovelace', email: 'ada.lovelace@example.org', age: 36, tier: 'gold' },
    items: Array.from({ length: items }, (_, i) => ({
      sku: `${String.fromCharCode(65 + i, 66 + i, 67 + i)}-${String(1000 + i * 137).padStart(4, '0')}`,
      quantity: 1 + ((i * 7) % 12),
      unitPriceCents: 199 + i * 4350,
      category: CATEGORIES[i % CATEGORIES.length],
      tags: TAGS.slice(i % 5, (i % 5) + (i % 3)),
    })),
    shipping: { method: 'express', deliverBy: '2026-12-03', giftWrap: false },
  });
}

/** What a mask role measured (times in ms). */
export interface MaskMeasure extends MaskSteps {
  readonly vocabSize: number;
  /** Tokens of the document, end-of-sequence included. */
  readonly documentTokens: number;
  /** Loading @mlc-ai/web-xgrammar (once per process, before any compile). */
  readonly xgrammarLoadMs: number;
  /** The first format of the process: tokenizer info + grammar + one matcher (xgrammar cold). */
  readonly firstCompileMs: number;
  /** Again with a fresh compiler (tokenizer info + grammar + matcher), xgrammar warm. */
  readonly warmFirstCompileMs: number[];
  /** The same format again on the same compiler (cache hit + a new matcher). */
  readonly cachedCompileMs: number[];
  /** A different schema of the same shape on a compiler whose tokenizer info exists. */
  readonly secondSchemaMs: number[];
  // MaskSteps: per token of the document, every pass (mask ready + applied to the logits row +
  // token accepted + the next mask), and the same split into waiting for the mask (xgrammar fills
  // it), applying it, accepting the token.
  /** 1-minute load average when the process started and when it ended. */
  readonly loadAverage: readonly [number, number];
}

/** One greedy generation of a decode role. */
export interface DecodeRun {
  readonly constrained: boolean;
  readonly tokenIds: number[];
  readonly finishReason: string;
  readonly ttftMs: number;
  /** From the first new token to the last. */
  readonly decodeMs: number;
  /** decodeMs / (tokens - 1). */
  readonly msPerToken: number;
  /** The text generated (constrained: the JSON so far). */
  readonly text: string;
}

/** Per-token times of a token mask stepped through a token list (ms; see {@link MaskMeasure}). */
export interface MaskSteps {
  readonly perTokenMs: number[];
  readonly fillMs: number[];
  readonly applyMs: number[];
  readonly acceptMs: number[];
}

/** What a decode role measured. */
export interface DecodeMeasure {
  readonly loadMs: number;
  readonly runs: DecodeRun[];
  /**
   * `constrained` only: after the measured run, a fresh mask stepped through the tokens it
   * generated (what the mask itself cost on the states that generation visited).
   */
  readonly replay?: MaskSteps;
  readonly loadAverage: readonly [number, number];
}
