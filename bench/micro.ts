/**
 * Micro-benchmarks of slmkit's per-token JavaScript: logits processing + sampling at 32k and 152k
 * vocabularies, incremental detokenization, and one whole decode step of the engine against a
 * session that answers instantly (what slmkit adds around each ONNX Runtime run).
 *
 *   npx tsx bench/micro.ts            (prints a table; sends JSON over IPC when run by bench/run.ts)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor, InferenceSession, SessionValue } from '@slmkit/core/backend';
import { GenerationRun } from '../packages/core/src/engine/generation-run.js';
import { KvCache } from '../packages/core/src/engine/kv-cache.js';
import { resolveGenerateOptions } from '../packages/core/src/engine/resolve-options.js';
import { repetitionPenalty } from '../packages/core/src/logits/penalties.js';
import { createRng } from '../packages/core/src/logits/rng.js';
import { argmax, type SamplingParams, TokenSampler } from '../packages/core/src/logits/sampler.js';
import type { DecoderSignature } from '../packages/core/src/model/decoder-signature.js';
import { createTokenizer } from '../packages/core/src/model/tokenizer.js';
import { IncrementalDetokenizer } from '../packages/core/src/text/detokenizer.js';
import { llama2TokenizerDir } from '../test/fixtures/models.js';
import { median } from './lib/stats.js';

export interface MicroRow {
  group: string;
  name: string;
  vocab?: number;
  /** Median microseconds per token over timed batches. */
  usPerToken: number;
  minUs: number;
  maxUs: number;
}

/** Median µs per call of `fn` over batches of about `batchMs` each. */
function timePerCall(fn: (i: number) => void, batchMs = 40, batches = 9): Omit<MicroRow, 'group' | 'name'> {
  let i = 0;
  // Warm-up, and an estimate of the batch size.
  const warmStart = performance.now();
  while (performance.now() - warmStart < 100) fn(i++);
  const perCall = (performance.now() - warmStart) / i;
  const size = Math.max(1, Math.round(batchMs / perCall));
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let k = 0; k < size; k++) fn(i++);
    samples.push(((performance.now() - start) / size) * 1000);
  }
  return { usPerToken: median(samples), minUs: Math.min(...samples), maxUs: Math.max(...samples) };
}

function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Logit rows shaped like a language model's: a broad Gaussian floor, and a few dozen candidates
 * well above it (so top-p 0.9 keeps a handful of tokens, as with real text). `flat` rows are plain
 * noise: top-p then has to keep a large part of the vocabulary (the sampler's worst case).
 */
function logitRows(vocab: number, count: number, flat: boolean): Float32Array[] {
  const random = createRng(vocab + (flat ? 1 : 0));
  return Array.from({ length: count }, () => {
    const row = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) row[i] = gaussian(random) * 1.5;
    if (!flat) {
      for (let k = 0; k < 40; k++) row[Math.floor(random() * vocab)] = 14 - 0.35 * k + gaussian(random);
    }
    return row;
  });
}

function samplerRows(): MicroRow[] {
  const rows: MicroRow[] = [];
  const configs: { name: string; params: SamplingParams; flat?: boolean; penalty?: boolean }[] = [
    { name: 'greedy', params: { temperature: 0, topK: 0, topP: 1, minP: 0 } },
    { name: 'temperature 0.8, top-k 50', params: { temperature: 0.8, topK: 50, topP: 1, minP: 0 } },
    { name: 'temperature 0.8, top-p 0.9', params: { temperature: 0.8, topK: 0, topP: 0.9, minP: 0 } },
    {
      name: 'temperature 0.8, top-k 50, top-p 0.9',
      params: { temperature: 0.8, topK: 50, topP: 0.9, minP: 0 },
    },
    {
      name: 'same + repetition penalty 1.1 (256 ids seen)',
      params: { temperature: 0.8, topK: 50, topP: 0.9, minP: 0 },
      penalty: true,
    },
    {
      name: 'temperature 0.8, top-p 0.9, flat logits (worst case)',
      params: { temperature: 0.8, topK: 0, topP: 0.9, minP: 0 },
      flat: true,
    },
  ];
  for (const vocab of [32000, 151936]) {
    const realistic = logitRows(vocab, 8, false);
    const flat = logitRows(vocab, 8, true);
    for (const config of configs) {
      const logits = config.flat ? flat : realistic;
      const sampler = new TokenSampler(config.params, createRng(7));
      const seen = Array.from({ length: 256 }, (_, i) => (i * 7919) % vocab);
      const penalty = config.penalty ? repetitionPenalty(1.1, seen, vocab) : undefined;
      const context = { sequenceIndex: 0, promptTokenIds: seen, generatedTokenIds: [] };
      const timing = timePerCall((i) => {
        const row = logits[i & 7];
        penalty?.process(row, context);
        sampler.sample(row);
      });
      rows.push({ group: 'logits processing + sampling', name: config.name, vocab, ...timing });
    }
  }
  return rows;
}

function detokenizerRows(): MicroRow[] {
  const dir = llama2TokenizerDir();
  const tokenizer = createTokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const english =
    'The quick brown fox jumps over the lazy dog. In 1859, Charles Darwin published On the Origin of Species, ' +
    'which argued that populations evolve over generations through natural selection; the book was widely read. ';
  const mixed = 'Grüße aus Zürich! 日本語のテキストと絵文字 🎉🚀 mixed with English words, ß, ø and ✓. ';
  const rows: MicroRow[] = [];
  for (const [name, text] of [
    ['English prose', english.repeat(6)],
    ['accents, CJK and emoji (byte fallback)', mixed.repeat(8)],
  ] as const) {
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    let detokenizer = new IncrementalDetokenizer(tokenizer);
    let position = 0;
    const timing = timePerCall(() => {
      if (position === ids.length) {
        detokenizer = new IncrementalDetokenizer(tokenizer);
        position = 0;
      }
      detokenizer.push(ids[position++]);
    });
    rows.push({ group: 'incremental detokenization', name: `${name} (${ids.length} tokens)`, ...timing });
  }
  return rows;
}

/**
 * One decode step of GenerationRun against a session that returns prepared outputs at once: the
 * engine's own per-token JavaScript (feeds, KV cache bookkeeping, logits, sampler, detokenizer,
 * stream) at the benchmark model's shape (30 layers, 3 KV heads of 64).
 */
async function engineRows(): Promise<MicroRow[]> {
  const dir = llama2TokenizerDir();
  const tokenizer = createTokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  const layers = 30;
  const kvLayers = Array.from({ length: layers }, (_, i) => ({
    pastKey: `past_key_values.${i}.key`,
    pastValue: `past_key_values.${i}.value`,
    presentKey: `present.${i}.key`,
    presentValue: `present.${i}.value`,
  }));
  const signature: DecoderSignature = {
    hasAttentionMask: true,
    hasPositionIds: true,
    hasUseCacheBranch: false,
    logitsToKeepInput: undefined,
    kvLayers,
    presentNames: kvLayers.flatMap((layer) => [layer.presentKey, layer.presentValue]),
    kvType: 'float32',
    numKeyValueHeads: 3,
    headDim: 64,
  };
  const rows: MicroRow[] = [];
  const vocab = 32000;
  const logitsRows = logitRows(vocab, 8, false);
  let step = 0;
  const session: InferenceSession = {
    inputNames: [],
    outputNames: [],
    inputMetadata: {},
    outputMetadata: {},
    async run(feeds) {
      const length = feeds.input_ids.dims[1];
      const outputs: Record<string, SessionValue> = {
        logits: {
          type: 'float32',
          data: length === 1 ? logitsRows[step++ & 7] : new Float32Array(length * vocab),
          dims: [1, length, vocab],
        },
      };
      const kv: HostTensor = { type: 'float32', data: new Float32Array(0), dims: [1, 3, 0, 64] };
      for (const layer of kvLayers) {
        outputs[layer.presentKey] = kv;
        outputs[layer.presentValue] = kv;
      }
      return outputs;
    },
    release: async () => {},
  };
  const config = {
    modelType: 'llama',
    vocabSize: vocab,
    numLayers: layers,
    numKeyValueHeads: 3,
    headDim: 64,
    contextLength: 8192,
    bosTokenId: 1,
    eosTokenIds: [2],
    padTokenId: undefined,
    generationDefaults: {},
    raw: {},
  };
  for (const [name, sampling] of [
    ['greedy', { doSample: false }],
    [
      'temperature 0.8, top-k 50, top-p 0.9',
      { doSample: true, temperature: 0.8, topK: 50, topP: 0.9, seed: 1 },
    ],
  ] as const) {
    const samples: number[] = [];
    const tokens = 512;
    for (let r = 0; r < 7; r++) {
      const run = new GenerationRun({
        session,
        signature,
        tokenizer,
        contextLength: 8192,
        vocabSize: vocab,
        padTokenId: 0,
        prompts: [[1, 2, 3, 4]],
        options: resolveGenerateOptions({ maxNewTokens: tokens, eosTokenIds: [], ...sampling }, config),
        startTime: performance.now(),
        cache: new KvCache(signature, 1),
        reusedTokens: 0,
      });
      let count = 0;
      let first = 0;
      for await (const _ of run.chunks()) {
        if (count++ === 0) first = performance.now();
      }
      samples.push(((performance.now() - first) / (count - 1)) * 1000);
    }
    rows.push({
      group: 'engine step without ONNX Runtime',
      name: `${name} (30 layers, 1 sequence)`,
      vocab,
      usPerToken: median(samples.slice(2)),
      minUs: Math.min(...samples.slice(2)),
      maxUs: Math.max(...samples.slice(2)),
    });
  }
  const argmaxRow = logitsRows[0];
  rows.push({
    group: 'engine step without ONNX Runtime',
    name: 'for comparison: the floor’s argmax alone',
    vocab,
    ...timePerCall(() => argmax(argmaxRow)),
  });
  return rows;
}

function microTable(rows: readonly MicroRow[]): string {
  const lines = ['| group | case | vocab | µs per token (median, min–max) |', '|---|---|---:|---:|'];
  for (const r of rows) {
    const vocab = r.vocab === undefined ? '' : r.vocab.toLocaleString('en-US');
    lines.push(
      `| ${r.group} | ${r.name} | ${vocab} | ${r.usPerToken.toFixed(1)} (${r.minUs.toFixed(1)}–${r.maxUs.toFixed(1)}) |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  process.stderr.write('micro-benchmarks…\n');
  const rows = [...samplerRows(), ...detokenizerRows(), ...(await engineRows())];
  if (process.send) process.send(rows, () => process.exit(0));
  else console.log(microTable(rows));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
