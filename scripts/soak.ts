// Soak: many mixed calls on one model (structured output among them, each result checked against its
// format), then many create/dispose cycles. Samples RSS and heap (after a forced GC), reports their
// slopes, and counts the session worker threads back to the baseline. Not part of the test suite.
//
//   npm run soak                      10,000 calls and 200 create/dispose cycles (~40 min on 2 busy cores)
//   npm run soak -- --quick           600 calls and 20 cycles (~1 min; calls and threads judged, not memory)
//   npm run soak -- --calls 2000 --cycles 50 --seed 7 --json out.json
//
// Exits 1 when a call failed unexpectedly (anything but the ABORTED the soak asked for, or a result
// that breaks its responseFormat or its tool-call checks), when the
// session worker threads or OS threads are not back to the baseline, or when memory grows past
// BOUNDS below.
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type {
  Chat,
  GenerationResult,
  LocalLanguageModel,
  ResponseFormat,
  Sequence,
  StreamChunk,
  ToolCall,
  ToolDefinition,
} from '@slmkit/core';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    calls: { type: 'string' },
    cycles: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
  },
});
const CALLS = Number(args.calls ?? (args.quick ? 600 : 10_000));
const CYCLES = Number(args.cycles ?? (args.quick ? 20 : 200));
const SEED = Number(args.seed ?? Date.now() % 2 ** 31);
/** Growth (MB, after the first 20% of the samples) above which the soak fails. */
const BOUNDS = {
  rssPer1000Calls: 2,
  heapPer1000Calls: 1,
  rssPer100Cycles: 10,
  heapPer100Cycles: 2,
  /** Phases shorter than these are judged on their calls and threads only. */
  judgedFromCalls: 5000,
  judgedFromCycles: 100,
};
/**
 * The prefix cache's bound of each model in phase 1: small, so it fills early and its growth is not
 * taken for a leak.
 */
const PREFIX_CACHE_MB = 4;

// Counts live worker threads exactly: every Worker made from here on (the node backend's session
// threads) is counted until it exits. Patched before @slmkit/node is imported.
const workerThreads = createRequire(import.meta.url)(
  'node:worker_threads',
) as typeof import('node:worker_threads');
let liveWorkers = 0;
let workersMade = 0;
const OriginalWorker = workerThreads.Worker;
workerThreads.Worker = class CountedWorker extends OriginalWorker {
  constructor(...params: ConstructorParameters<typeof OriginalWorker>) {
    super(...params);
    liveWorkers++;
    workersMade++;
    this.once('exit', () => liveWorkers--);
  }
};
syncBuiltinESMExports();

const { createModel } = await import('@slmkit/node');
const { ensureModel } = await import('../test/fixtures/models.js');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc)
  console.warn('soak: run with node --expose-gc (npm run soak does) for heap numbers without garbage noise');

/** OS threads of this process (the main thread, libuv's pool, V8's, ONNX Runtime's, each worker's). */
const osThreads = () => readdirSync('/proc/self/task').length;

interface Sample {
  at: number;
  rssMb: number;
  heapMb: number;
  externalMb: number;
  threads: number;
  workers: number;
  prefixCacheMb?: number;
}

async function sample(at: number, models: readonly LocalLanguageModel[] = []): Promise<Sample> {
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const mb = (n: number) => n / 2 ** 20;
  return {
    at,
    rssMb: mb(m.rss),
    heapMb: mb(m.heapUsed),
    externalMb: mb(m.external),
    threads: osThreads(),
    workers: liveWorkers,
    prefixCacheMb:
      models.length > 0 ? mb(models.reduce((sum, m) => sum + m.prefixCache.bytes, 0)) : undefined,
  };
}

/** Least-squares slope of `y` over `x`, from the samples after the first 20% (the warm-up). */
function slope(samples: readonly Sample[], y: (s: Sample) => number): number {
  const kept = samples.slice(Math.floor(samples.length * 0.2));
  // Too few samples for a slope (e.g. --cycles 2): not reported, not judged.
  if (kept.length < 5) return Number.NaN;
  const n = kept.length;
  const mx = kept.reduce((a, s) => a + s.at, 0) / n;
  const my = kept.reduce((a, s) => a + y(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of kept) {
    num += (s.at - mx) * (y(s) - my);
    den += (s.at - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// A seeded generator, so a run can be repeated with --seed.
let state = SEED >>> 0 || 1;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];

const WORDS = ['Once', ' upon', ' a', ' time', ' there', ' was', ' a', ' fox', '.', ' The', ' end', '\n'];
const promptText = () => Array.from({ length: int(1, 12) }, () => pick(WORDS)).join('');
const sampling = () =>
  random() < 0.5 ? { temperature: 0 } : { temperature: 0.8, topK: 40, topP: 0.95, seed: int(0, 1000) };

type Outcome = 'ok' | 'aborted' | 'unexpected';
const counts = new Map<string, Record<Outcome, number>>();
const unexpected: string[] = [];

function tally(kind: string, outcome: Outcome, error?: unknown): void {
  const c = counts.get(kind) ?? { ok: 0, aborted: 0, unexpected: 0 };
  c[outcome]++;
  counts.set(kind, c);
  if (outcome === 'unexpected' && unexpected.length < 20)
    unexpected.push(
      `${kind}: ${error instanceof Error ? `${error.name} [${(error as { code?: string }).code}] ${error.message}` : String(error)}`,
    );
}

async function counted(kind: string, work: () => Promise<unknown>, abortable = false): Promise<void> {
  try {
    await work();
    tally(kind, 'ok');
  } catch (error) {
    const aborted = abortable && (error as { code?: string }).code === 'ABORTED';
    tally(kind, aborted ? 'aborted' : 'unexpected', error);
  }
}

/**
 * Reads a stream, leaving it after `breakAfter` chunks or aborting after `abortAfter`; its result,
 * checked against the chunks when it was read to the end.
 */
async function consume<R extends GenerationResult>(
  stream: AsyncIterable<StreamChunk> & { result: Promise<R> },
  breakAfter = Number.POSITIVE_INFINITY,
  abortAfter = Number.POSITIVE_INFINITY,
  controller?: AbortController,
): Promise<R> {
  let n = 0;
  let text = '';
  let left = false;
  const calls: ToolCall[] = [];
  for await (const chunk of stream) {
    n++;
    text += chunk.text;
    if (chunk.toolCalls) calls.push(...chunk.toolCalls);
    if (n >= abortAfter) controller?.abort();
    if (n >= breakAfter) {
      left = true;
      break;
    }
  }
  const result = await stream.result;
  if (!left && result.text !== text)
    throw new Error(
      `the chunks' text ${JSON.stringify(text)} is not the result's ${JSON.stringify(result.text)}`,
    );
  if (!left && result.toolCalls && !isDeepStrictEqual(calls, result.toolCalls))
    throw new Error(`the chunks' tool calls ${JSON.stringify(calls)} are not the result's`);
  return result;
}

// Structured output: each format with a check of what a result that ended on the format ('stop' or
// 'eos') must be. The schemas are bounded, so most of them end within the token budget.
const ajv = new Ajv2020({ strict: false });
addFormats.default(ajv);

interface Format {
  readonly name: string;
  readonly responseFormat: ResponseFormat;
  readonly maxNewTokens: number;
  /** Why a complete result is wrong, or undefined when it is right. */
  readonly wrong: (result: GenerationResult) => string | undefined;
}

/** A JSON result: `object` is the parsed text, and valid for `schema` when there is one. */
function jsonFormat(name: string, maxNewTokens: number, schema?: Record<string, unknown>): Format {
  const validate = schema ? ajv.compile(schema) : undefined;
  return {
    name,
    maxNewTokens,
    responseFormat: schema ? { type: 'json_schema', schema } : { type: 'json' },
    wrong(result) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(result.text);
      } catch {
        return `the text does not parse as JSON`;
      }
      if (!isDeepStrictEqual(result.object, parsed)) return `object is not JSON.parse(text)`;
      if (validate && !validate(result.object))
        return `invalid for the schema: ${ajv.errorsText(validate.errors)}`;
      return undefined;
    },
  };
}

/** A text result the whole of `check` (a JavaScript regex written for the same language) matches. */
function textFormat(
  name: string,
  responseFormat: ResponseFormat,
  check: RegExp,
  maxNewTokens: number,
): Format {
  return {
    name,
    maxNewTokens,
    responseFormat,
    wrong: (result) => (check.test(result.text) ? undefined : `does not match ${check}`),
  };
}

const FORMATS: readonly Format[] = [
  jsonFormat('json', 24),
  jsonFormat('json_schema object', 48, {
    type: 'object',
    properties: {
      category: { enum: ['news', 'science', 'sports'] },
      count: { type: 'integer', minimum: 3, maximum: 117 },
      tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 2 },
    },
    required: ['category', 'count', 'tags'],
    additionalProperties: false,
  }),
  jsonFormat('json_schema integer range', 8, { type: 'integer', minimum: -120, maximum: -3 }),
  jsonFormat('json_schema nested', 80, {
    type: 'object',
    properties: {
      kind: { const: 'point' },
      at: {
        type: 'object',
        properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, ok: { type: 'boolean' } },
        required: ['x', 'ok'],
        additionalProperties: false,
      },
      none: { type: 'null' },
    },
    required: ['kind', 'at', 'none'],
    additionalProperties: false,
  }),
  jsonFormat('json_schema tuple', 16, {
    type: 'array',
    prefixItems: [
      { type: 'boolean' },
      { anyOf: [{ type: 'integer', minimum: 10, maximum: 20 }, { type: 'null' }] },
    ],
    items: false,
    minItems: 2,
  }),
  jsonFormat('json_schema formats', 64, {
    type: 'object',
    properties: {
      day: { type: 'string', format: 'date' },
      code: { type: 'string', pattern: '^[A-Z]{2}[0-9]$' },
      word: { type: 'string', minLength: 2, maxLength: 3 },
    },
    required: ['day', 'code', 'word'],
    additionalProperties: false,
  }),
  textFormat(
    'regex',
    { type: 'regex', pattern: '(yes|no|[0-9]{3}-[0-9]{4}|[a-z]{2,5}( [a-z]{2,5}){0,2}\\.)' },
    /^(?:yes|no|[0-9]{3}-[0-9]{4}|[a-z]{2,5}( [a-z]{2,5}){0,2}\.)$/,
    24,
  ),
  textFormat(
    'grammar',
    { type: 'grammar', grammar: 'root ::= item ("," item){0,3} "."\nitem ::= "red" | "green" | [0-9]{1,2}' },
    /^(?:red|green|[0-9]{1,2})(?:,(?:red|green|[0-9]{1,2})){0,3}\.$/,
    24,
  ),
];

/** Tallies how each structured call ended, per format. */
const formatEnds = new Map<string, Record<string, number>>();

/**
 * Checks a structured result: ended on the format ('stop', 'eos'), it is what {@link Format.wrong}
 * accepts; cut ('length') or left ('cancelled'), it has no `object`.
 */
function checkFormat(format: Format, result: GenerationResult): void {
  const ends = formatEnds.get(format.name) ?? {};
  ends[result.finishReason] = (ends[result.finishReason] ?? 0) + 1;
  formatEnds.set(format.name, ends);
  const complete = result.finishReason === 'stop' || result.finishReason === 'eos';
  const wrong = complete
    ? format.wrong(result)
    : 'object' in result
      ? `a '${result.finishReason}' result has an object property`
      : undefined;
  if (wrong)
    throw new Error(`${format.name}, ${result.finishReason}, ${JSON.stringify(result.text)}: ${wrong}`);
}

/** A structured call: generate or stream (read, left or aborted at a random point). */
async function structuredCall(model: LocalLanguageModel): Promise<void> {
  const format = pick(FORMATS);
  const options = { responseFormat: format.responseFormat, maxNewTokens: format.maxNewTokens, ...sampling() };
  const r = random();
  if (r < 0.3) {
    return counted('structured: generate', async () =>
      checkFormat(format, await model.generate(promptText(), options)),
    );
  }
  if (r < 0.5) {
    return counted('structured: stream', async () =>
      checkFormat(format, await consume(model.stream(promptText(), options))),
    );
  }
  if (r < 0.7) {
    return counted('structured: stream + break', async () =>
      checkFormat(format, await consume(model.stream(promptText(), options), int(0, 12))),
    );
  }
  const controller = new AbortController();
  const signalled = { ...options, signal: controller.signal };
  if (r < 0.85) {
    const timer = setTimeout(() => controller.abort(), int(0, 30));
    return counted(
      'structured: generate + abort (timer)',
      async () =>
        checkFormat(format, await model.generate(promptText(), signalled).finally(() => clearTimeout(timer))),
      true,
    );
  }
  return counted(
    'structured: stream + abort (chunk)',
    async () =>
      checkFormat(
        format,
        await consume(
          model.stream(promptText(), signalled),
          Number.POSITIVE_INFINITY,
          int(1, 12),
          controller,
        ),
      ),
    true,
  );
}

// Tool calls, required or named (constrained, so every one must be a valid call). They run on a
// second model with Qwen3's tokenizer and chat template (the tiny model's llama2 template has no
// tool-call format), interleaved with the rest.
const TOOLS: readonly ToolDefinition[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather forecast for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', maxLength: 12 },
          days: { type: 'integer', minimum: 1, maximum: 7 },
          unit: { enum: ['celsius', 'fahrenheit'] },
        },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'set_timer',
      description: 'Starts a timer',
      parameters: {
        type: 'object',
        properties: {
          minutes: { type: 'integer', minimum: 1, maximum: 90 },
          labels: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 2 },
          loud: { type: 'boolean' },
        },
        required: ['minutes'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'list_alarms',
      description: 'Lists the alarms',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
    },
  },
];
const TOOL_SCHEMAS = new Map(
  TOOLS.map((tool) => [tool.function.name, ajv.compile(tool.function.parameters!)]),
);
/** Ample for every tool's longest call: a required call cut by the budget is a failure. */
const TOOL_TOKENS = 120;

/**
 * Checks the result of a required or named call: one call of an allowed tool with valid arguments
 * and finishReason 'tool-calls'; a stream left early ('cancelled') has at most that call.
 */
function checkToolCall(result: GenerationResult, name?: string): void {
  const calls = result.toolCalls ?? [];
  const complete = result.finishReason === 'tool-calls';
  const wrong = (() => {
    if (!complete && result.finishReason !== 'cancelled') return `finishReason is not 'tool-calls'`;
    if (complete ? calls.length !== 1 : calls.length > 1) return `${calls.length} calls`;
    if (complete && result.toolCallErrors) return `toolCallErrors ${JSON.stringify(result.toolCallErrors)}`;
    for (const call of calls) {
      const validate = TOOL_SCHEMAS.get(call.name);
      if (!validate || (name !== undefined && call.name !== name)) return `a call of ${call.name}`;
      if (!validate(call.arguments)) return `arguments invalid: ${ajv.errorsText(validate.errors)}`;
    }
    return undefined;
  })();
  if (wrong)
    throw new Error(
      `${name ?? 'required'}, ${result.finishReason}, ${JSON.stringify(calls)} ${JSON.stringify(result.text)}: ${wrong}`,
    );
}

/** Tallies the calls made, per tool. */
const toolsCalled = new Map<string, number>();

async function toolCall(model: LocalLanguageModel, chats: Chat[]): Promise<void> {
  const name = random() < 0.3 ? pick(TOOLS).function.name : undefined;
  const options = {
    tools: TOOLS,
    toolChoice: name === undefined ? ('required' as const) : { name },
    maxNewTokens: TOOL_TOKENS,
    ...sampling(),
  };
  const checked = (result: GenerationResult) => {
    checkToolCall(result, name);
    for (const call of result.toolCalls ?? [])
      toolsCalled.set(call.name, (toolsCalled.get(call.name) ?? 0) + 1);
    return result;
  };
  const messages = () => [{ role: 'user' as const, content: promptText() }];
  const r = random();
  if (r < 0.3)
    return counted('tools: generate', async () => checked(await model.generate(messages(), options)));
  if (r < 0.45)
    return counted('tools: stream', async () => checked(await consume(model.stream(messages(), options))));
  if (r < 0.55) {
    return counted('tools: stream + break', async () =>
      checked(await consume(model.stream(messages(), options), int(0, 20))),
    );
  }
  if (r < 0.65) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), int(0, 40));
    return counted(
      'tools: generate + abort (timer)',
      async () =>
        checked(
          await model
            .generate(messages(), { ...options, signal: controller.signal })
            .finally(() => clearTimeout(timer)),
        ),
      true,
    );
  }
  // A chat: a required call, then its result given back and a free reply ('none': no call).
  if (chats.length === 0 || (chats.length < 2 && r < 0.7)) {
    return counted('tools chat: create', async () => {
      chats.push(model.createChat({ defaults: { tools: TOOLS } }));
    });
  }
  const i = int(0, chats.length - 1);
  const chat = chats[i];
  if (chat.messages.length > 8 || r < 0.75) {
    chats.splice(i, 1);
    return counted('tools chat: dispose', () => chat.dispose());
  }
  return counted('tools chat: call + result', async () => {
    const { tools: _, ...turn } = options;
    const called = checked(await chat.send(promptText(), turn));
    const results = called.toolCalls!.map((call) => ({
      role: 'tool' as const,
      tool_call_id: call.id,
      content: JSON.stringify({ ok: true, tool: call.name }),
    }));
    const reply = await chat.send(results, { toolChoice: 'none', maxNewTokens: int(1, 8), ...sampling() });
    if (reply.finishReason === 'tool-calls' || (reply.toolCalls ?? []).length > 0)
      throw new Error(`toolChoice 'none' made a call: ${JSON.stringify(reply.toolCalls)}`);
    const last = chat.messages.at(-1);
    if (chat.messages.length < 4 || last?.role !== 'assistant')
      throw new Error(`the chat does not end with the reply: ${JSON.stringify(chat.messages.slice(-3))}`);
  });
}

/**
 * One mixed call: a plain generation, a stream, an abort, a batch, structured output, a tool call,
 * a chat or a sequence operation.
 */
async function mixedCall(
  model: LocalLanguageModel,
  chats: Chat[],
  sequences: Sequence[],
  tools: { model: LocalLanguageModel; chats: Chat[] },
): Promise<void> {
  const r = random();
  const maxNewTokens = int(1, 12);
  if (r < 0.15) {
    return counted('generate', () => model.generate(promptText(), { maxNewTokens, ...sampling() }));
  }
  if (r < 0.23) {
    return counted('stream', () => consume(model.stream(promptText(), { maxNewTokens, ...sampling() })));
  }
  if (r < 0.3) {
    return counted('stream + break', () =>
      consume(model.stream(promptText(), { maxNewTokens: 16, ...sampling() }), int(0, 10)),
    );
  }
  if (r < 0.38) {
    const controller = new AbortController();
    if (random() < 0.5) {
      const timer = setTimeout(() => controller.abort(), int(0, 15));
      return counted(
        'generate + abort (timer)',
        () =>
          model
            .generate(promptText(), { maxNewTokens: 16, signal: controller.signal })
            .finally(() => clearTimeout(timer)),
        true,
      );
    }
    return counted(
      'stream + abort (chunk)',
      () =>
        consume(
          model.stream(promptText(), { maxNewTokens: 16, signal: controller.signal }),
          Number.POSITIVE_INFINITY,
          int(1, 10),
          controller,
        ),
      true,
    );
  }
  if (r < 0.43) {
    return counted('batch', () =>
      model.generate([promptText(), promptText(), promptText()], { maxNewTokens }),
    );
  }
  if (r < 0.56) return structuredCall(model);
  if (r < 0.61) return toolCall(tools.model, tools.chats);
  if (r < 0.8) return chatCall(model, chats);
  return sequenceCall(model, sequences);
}

async function chatCall(model: LocalLanguageModel, chats: Chat[]): Promise<void> {
  const r = random();
  if (chats.length === 0 || (chats.length < 3 && r < 0.1)) {
    return counted('chat: create', async () => {
      chats.push(model.createChat({ system: random() < 0.5 ? 'You are terse.' : undefined }));
    });
  }
  const i = int(0, chats.length - 1);
  const chat = chats[i];
  // Conversations end before they outgrow the context window.
  if (chat.messages.length > 12 || r < 0.15) {
    chats.splice(i, 1);
    return counted('chat: dispose', () => chat.dispose());
  }
  if (r < 0.38)
    return counted('chat: send', () => chat.send(promptText(), { maxNewTokens: int(1, 10), ...sampling() }));
  if (r < 0.45) {
    // A constrained turn: its reply joins the conversation like any other.
    const format = pick(FORMATS);
    const options = {
      responseFormat: format.responseFormat,
      maxNewTokens: format.maxNewTokens,
      ...sampling(),
    };
    const s = random();
    if (s < 0.5)
      return counted('chat: structured send', async () =>
        checkFormat(format, await chat.send(promptText(), options)),
      );
    if (s < 0.75) {
      return counted('chat: structured stream + break', async () =>
        checkFormat(format, await consume(chat.stream(promptText(), options), int(0, 12))),
      );
    }
    const controller = new AbortController();
    return counted(
      'chat: structured stream + abort',
      async () =>
        checkFormat(
          format,
          await consume(
            chat.stream(promptText(), { ...options, signal: controller.signal }),
            Number.POSITIVE_INFINITY,
            int(1, 12),
            controller,
          ),
        ),
      true,
    );
  }
  if (r < 0.6) {
    return counted('chat: stream + break', () =>
      consume(chat.stream(promptText(), { maxNewTokens: 12 }), int(0, 8)),
    );
  }
  if (r < 0.7) {
    const controller = new AbortController();
    return counted(
      'chat: stream + abort',
      () =>
        consume(
          chat.stream(promptText(), { maxNewTokens: 12, signal: controller.signal }),
          Number.POSITIVE_INFINITY,
          int(1, 8),
          controller,
        ),
      true,
    );
  }
  if (r < 0.8 && chats.length < 4) return counted('chat: fork', async () => chats.push(await chat.fork()));
  if (r < 0.9)
    return counted('chat: setMessages', async () =>
      chat.setMessages(chat.messages.slice(0, int(0, chat.messages.length))),
    );
  return counted('chat: save + restore', async () => {
    const restored = await model.restoreChat(await chat.save());
    chats[i] = restored;
    await chat.dispose();
  });
}

async function sequenceCall(model: LocalLanguageModel, sequences: Sequence[]): Promise<void> {
  const r = random();
  if (sequences.length === 0 || (sequences.length < 3 && r < 0.1)) {
    return counted('sequence: create', async () => {
      sequences.push(model.createSequence());
    });
  }
  const i = int(0, sequences.length - 1);
  const sequence = sequences[i];
  if (sequence.tokenIds.length > 300 || r < 0.15) {
    sequences.splice(i, 1);
    return counted('sequence: dispose', () => sequence.dispose());
  }
  if (r < 0.5) {
    // The sequence's own text plus more: it reuses what it holds and prefills the rest.
    const held = sequence.tokenIds.length > 0 ? await model.decode(sequence.tokenIds) : '';
    const text = held + promptText();
    return counted('sequence: generate', () =>
      model.generate(text, { maxNewTokens: int(1, 8), sequence, ...sampling() }),
    );
  }
  if (r < 0.7)
    return counted('sequence: truncate', () => sequence.truncate(int(0, sequence.tokenIds.length)));
  if (r < 0.8 && sequences.length < 4)
    return counted('sequence: fork', async () => sequences.push(await sequence.fork()));
  return counted('sequence: save + restore', async () => {
    sequences[i] = await model.restoreSequence(await sequence.save());
    await sequence.dispose();
  });
}

const fmt = (n: number, digits = 1) => (Number.isNaN(n) ? 'n/a' : n.toFixed(digits));

async function main(): Promise<void> {
  const dir = await ensureModel('tiny');
  const toolDir = await ensureModel({ tokenizer: 'qwen3' });
  console.log(
    `soak: ${CALLS} mixed calls, ${CYCLES} create/dispose cycles, seed ${SEED}, model ${dir} (tool calls: ${toolDir})`,
  );
  const startThreads = osThreads();

  // Phase 1: mixed calls on one model (the default session thread: a worker), tool calls on a second.
  const started1 = performance.now();
  const prefixCache = { maxBytes: PREFIX_CACHE_MB * 2 ** 20 };
  const model = await createModel(dir, { prefixCache });
  const tools = { model: await createModel(toolDir, { prefixCache }), chats: [] as Chat[] };
  const chats: Chat[] = [];
  const sequences: Sequence[] = [];
  const every = Math.max(1, Math.floor(CALLS / 40));
  const calls: Sample[] = [await sample(0, [model, tools.model])];
  for (let i = 1; i <= CALLS; i++) {
    await mixedCall(model, chats, sequences, tools);
    if (i % every === 0 || i === CALLS) {
      calls.push(await sample(i, [model, tools.model]));
      if ((i / every) % 10 === 0) {
        const s = calls[calls.length - 1];
        console.log(`  ${i} calls: RSS ${fmt(s.rssMb)} MB, heap ${fmt(s.heapMb)} MB, threads ${s.threads}`);
      }
    }
  }
  for (const chat of [...chats.splice(0), ...tools.chats.splice(0)]) await chat.dispose();
  for (const sequence of sequences.splice(0)) await sequence.dispose();
  await model.dispose();
  await tools.model.dispose();
  const seconds1 = (performance.now() - started1) / 1000;

  // Phase 2: create/dispose cycles, each with a call, a chat turn and a sequence save.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const baseline = { threads: osThreads(), workers: liveWorkers };
  const started2 = performance.now();
  const cycleEvery = Math.max(1, Math.floor(CYCLES / 40));
  const cycles: Sample[] = [await sample(0)];
  let peakWorkers = 0;
  for (let i = 1; i <= CYCLES; i++) {
    await counted('cycle', async () => {
      const m = await createModel(dir);
      peakWorkers = Math.max(peakWorkers, liveWorkers);
      await m.generate(promptText(), { maxNewTokens: 4 });
      const chat = m.createChat();
      await chat.send('Hi', { maxNewTokens: 2 });
      const s = m.createSequence();
      await m.generate('Hello', { maxNewTokens: 2, sequence: s });
      await m.restoreSequence(await s.save());
      // Chats and sequences left open: dispose frees them.
      await m.dispose();
    });
    if (i % cycleEvery === 0 || i === CYCLES) cycles.push(await sample(i));
  }
  const seconds2 = (performance.now() - started2) / 1000;
  // Worker threads exit asynchronously after their session is released.
  const deadline = performance.now() + 5000;
  while ((liveWorkers > baseline.workers || osThreads() > baseline.threads) && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const end = { threads: osThreads(), workers: liveWorkers };

  const rssCalls = slope(calls, (s) => s.rssMb) * 1000;
  // What the prefix cache keeps on purpose (KV bytes, bounded) is not a leak.
  const ownCalls = slope(calls, (s) => s.rssMb - (s.prefixCacheMb ?? 0)) * 1000;
  const heapCalls = slope(calls, (s) => s.heapMb) * 1000;
  const rssCycles = slope(cycles, (s) => s.rssMb) * 100;
  const heapCycles = slope(cycles, (s) => s.heapMb) * 100;
  const first = (l: Sample[]) => l[0];
  const last = (l: Sample[]) => l[l.length - 1];
  const span = (l: Sample[], y: (s: Sample) => number) => `${fmt(y(first(l)))} → ${fmt(y(last(l)))}`;

  const rows: [string, string, string][] = [
    [
      '',
      `mixed calls (${CALLS}, ${fmt(seconds1, 0)} s)`,
      `create/dispose (${CYCLES}, ${fmt(seconds2, 0)} s)`,
    ],
    ['RSS MB, start → end', span(calls, (s) => s.rssMb), span(cycles, (s) => s.rssMb)],
    ['RSS slope', `${fmt(rssCalls, 2)} MB / 1,000 calls`, `${fmt(rssCycles, 2)} MB / 100 cycles`],
    ['RSS − prefix cache, slope', `${fmt(ownCalls, 2)} MB / 1,000 calls`, ''],
    ['heap MB after GC, start → end', span(calls, (s) => s.heapMb), span(cycles, (s) => s.heapMb)],
    ['heap slope', `${fmt(heapCalls, 2)} MB / 1,000 calls`, `${fmt(heapCycles, 2)} MB / 100 cycles`],
    [
      'prefix caches MB, end',
      `${fmt(last(calls).prefixCacheMb ?? 0, 2)} (bound ${PREFIX_CACHE_MB} each)`,
      '',
    ],
    [
      'OS threads, start → end',
      `${first(calls).threads} → ${last(calls).threads}`,
      `${baseline.threads} → ${end.threads}`,
    ],
    [
      'live session workers',
      `${first(calls).workers} → ${last(calls).workers}`,
      `${baseline.workers} → ${end.workers} (peak ${peakWorkers}, ${workersMade} made in all)`,
    ],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  console.log(`\n${line(rows[0])}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows.slice(1)) console.log(line(r));
  console.log(
    `\nOS threads at the start of the process: ${startThreads} (the first model starts libuv's and ONNX Runtime's pools)`,
  );
  const kindWidth = Math.max(...[...counts.keys()].map((kind) => kind.length));
  console.log(`\n${'calls'.padEnd(kindWidth)} |    ok | aborted | unexpected`);
  for (const [kind, c] of [...counts].sort()) {
    console.log(
      `${kind.padEnd(kindWidth)} | ${String(c.ok).padStart(5)} | ${String(c.aborted).padStart(7)} | ${c.unexpected}`,
    );
  }
  for (const line of unexpected) console.log(`  unexpected: ${line}`);
  console.log(
    `\ntool calls made: ${
      [...toolsCalled]
        .sort()
        .map(([tool, n]) => `${tool} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  console.log('\nstructured results (all kinds) | stop |  eos | length | cancelled');
  for (const [name, ends] of [...formatEnds].sort()) {
    const cell = (reason: string, width: number) => String(ends[reason] ?? 0).padStart(width);
    console.log(
      `${name.padEnd(30)} | ${cell('stop', 4)} | ${cell('eos', 4)} | ${cell('length', 6)} | ${cell('cancelled', 9)}`,
    );
  }

  const problems: string[] = [];
  if (unexpected.length > 0) problems.push('calls failed unexpectedly');
  if (end.workers !== baseline.workers)
    problems.push(`live workers ${end.workers}, baseline ${baseline.workers}`);
  if (end.threads > baseline.threads)
    problems.push(`OS threads ${end.threads}, baseline ${baseline.threads}`);
  // Short phases are mostly warm-up: their slopes are printed, not judged.
  const judgeCalls = CALLS >= BOUNDS.judgedFromCalls;
  const judgeCycles = CYCLES >= BOUNDS.judgedFromCycles;
  if (!judgeCalls || !judgeCycles)
    console.log(
      `\nmemory slopes not judged for ${[!judgeCalls && `fewer than ${BOUNDS.judgedFromCalls} calls`, !judgeCycles && `fewer than ${BOUNDS.judgedFromCycles} cycles`].filter(Boolean).join(' or ')} (mostly warm-up)`,
    );
  if (judgeCalls && ownCalls > BOUNDS.rssPer1000Calls)
    problems.push(`RSS (less the prefix cache) grows ${fmt(ownCalls, 2)} MB per 1,000 calls`);
  if (judgeCalls && heapCalls > BOUNDS.heapPer1000Calls)
    problems.push(`the heap grows ${fmt(heapCalls, 2)} MB per 1,000 calls`);
  if (judgeCycles && rssCycles > BOUNDS.rssPer100Cycles)
    problems.push(`RSS grows ${fmt(rssCycles, 2)} MB per 100 cycles`);
  if (judgeCycles && heapCycles > BOUNDS.heapPer100Cycles)
    problems.push(`the heap grows ${fmt(heapCycles, 2)} MB per 100 cycles`);
  console.log(problems.length === 0 ? '\nsoak: OK' : `\nsoak: FAILED (${problems.join('; ')})`);
  if (args.json) {
    await writeFile(
      args.json,
      JSON.stringify(
        {
          seed: SEED,
          calls,
          cycles,
          counts: Object.fromEntries(counts),
          formatEnds: Object.fromEntries(formatEnds),
          toolsCalled: Object.fromEntries(toolsCalled),
          baseline,
          end,
          problems,
        },
        null,
        2,
      ),
    );
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
}

await main();
