/**
 * The Llama SentencePiece rule (packages/core/src/model/sentencepiece-legacy.ts, issue #13): our
 * tokenizer gives the ids and decoded text that Python transformers records in
 * fixtures/sentencepiece-ids.json (scripts/record-sentencepiece-ids.py) for the @lenml llama2
 * tokenizer (Mistral-7B-v0.1's 32k vocabulary) and variants of its tokenizer_config.json,
 * tokenizer.json and config.json. Byte-level BPE tokenizers are left as tokenizer.json says.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { LocalLanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NON_LLAMA_MODEL_TYPES,
  sentencePieceRule,
} from '../../packages/core/src/model/sentencepiece-legacy.js';
import { createTokenizer } from '../../packages/core/src/model/tokenizer.js';
import { CHAT_TEMPLATE, ensureModel, llama2TokenizerDir, tokenizerDir } from '../fixtures/models.js';

interface RecordedCase {
  text: string;
  ids: number[];
  idsWithoutSpecialTokens: number[];
  decoded: string;
  decodedSkippingSpecialTokens: string;
}
interface RecordedVariant {
  name: string;
  tokenizerConfigChanges: Record<string, unknown>;
  tokenizerConfigRemoved: string[];
  modelType: string | null;
  tokenizerJsonShape: 'shipped' | 'metaspace';
  transformersClass: string;
  preTokenizer: string;
  cases: RecordedCase[];
}
interface Recording {
  header: { transformers: string };
  chatTemplate: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  nonLlamaModelTypes: string[];
  variants: RecordedVariant[];
}

const recording: Recording = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'sentencepiece-ids.json'), 'utf8'),
);
const variant = (name: string) => recording.variants.find((v) => v.name === name)!;
const caseOf = (v: RecordedVariant, text: string) => v.cases.find((c) => c.text === text)!;

function readJson(dir: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, file), 'utf8'));
}

/** The variant's tokenizer.json and tokenizer_config.json, built as the recording script built them. */
function variantFiles(v: RecordedVariant) {
  const dir = llama2TokenizerDir();
  const json = readJson(dir, 'tokenizer.json');
  if (v.tokenizerJsonShape === 'metaspace') {
    json.normalizer = null;
    json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
  }
  const config = readJson(dir, 'tokenizer_config.json');
  for (const key of v.tokenizerConfigRemoved) delete config[key];
  Object.assign(config, v.tokenizerConfigChanges);
  return { json, config, modelType: v.modelType ?? undefined };
}

const built = new Map<string, ReturnType<typeof createTokenizer>>();
/** The variant's tokenizer through createTokenizer (built once per variant). */
function variantTokenizer(v: RecordedVariant) {
  let tokenizer = built.get(v.name);
  if (!tokenizer) {
    const { json, config, modelType } = variantFiles(v);
    tokenizer = createTokenizer(json, config, { modelType });
    built.set(v.name, tokenizer);
  }
  return tokenizer;
}

describe('the recording', () => {
  it('comes from transformers 5.x over the fixture chat template, and covers the rule’s triggers', () => {
    expect(recording.header.transformers).toMatch(/^5\./);
    expect(recording.chatTemplate).toBe(CHAT_TEMPLATE);
    // What transformers built: the rewrite (LlamaTokenizer + Metaspace) or tokenizer.json as it is.
    const built = Object.fromEntries(recording.variants.map((v) => [v.name, v.preTokenizer.slice(0, 60)]));
    expect(built['shipped (legacy true)']).toContain('prepend_scheme=always');
    expect(built['legacy false']).toContain('prepend_scheme=first');
    expect(built['legacy absent']).toContain('prepend_scheme=first');
    expect(built['add_prefix_space false']).toContain('prepend_scheme=never');
    expect(built['model_type mistral']).toBe('None');
    expect(built['model_type phi3, legacy false']).toBe('None');
    expect(built['tokenizer_class absent']).toBe('None');
  });

  it('lists the model types that transformers does not give LlamaTokenizer, as the rule does', () => {
    expect([...NON_LLAMA_MODEL_TYPES].sort()).toEqual(recording.nonLlamaModelTypes);
  });
});

describe.each(recording.variants)('$name (transformers: $transformersClass)', (v) => {
  const tokenizer = variantTokenizer(v);

  it('encodes every text to transformers’ ids, with and without special tokens', () => {
    for (const c of v.cases) {
      expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tokenizer.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(
        c.idsWithoutSpecialTokens,
      );
    }
  });

  it('decodes the ids to transformers’ text, with and without special tokens', () => {
    for (const c of v.cases) {
      expect(tokenizer.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
      expect(tokenizer.decode(c.ids, { skipSpecialTokens: true }), JSON.stringify(c.text)).toBe(
        c.decodedSkippingSpecialTokens,
      );
    }
  });

  it('round-trips every text that transformers round-trips', () => {
    // (@huggingface/tokenizers refuses to decode no ids: the empty text is left out.)
    const inverse = v.cases.filter((c) => c.text !== '' && c.decodedSkippingSpecialTokens === c.text);
    expect(inverse.length).toBeGreaterThanOrEqual(12);
    for (const c of inverse) {
      const ids = tokenizer.encode(c.text, { addSpecialTokens: false });
      expect(tokenizer.decode(ids, { skipSpecialTokens: true }), JSON.stringify(c.text)).toBe(c.text);
    }
  });
});

describe('the issue’s cases (#13)', () => {
  it('"  Two" is ▁ ▁Two, and no ▁ follows <s> in a [INST] prompt', () => {
    const tokenizer = variantTokenizer(variant('shipped (legacy true)'));
    expect(tokenizer.encode('  Two')).toEqual([1, 28705, 6005]);
    expect(tokenizer.encode('<s> [INST] Hi [/INST]', { addSpecialTokens: false }).slice(0, 2)).toEqual([
      1, 733,
    ]);
  });

  it('legacy false: text right after a special token gets no ▁ (legacy true: it does)', () => {
    expect(variantTokenizer(variant('legacy false')).encode('</s>x', { addSpecialTokens: false })).toEqual([
      2, 28744,
    ]);
    expect(
      variantTokenizer(variant('shipped (legacy true)')).encode('</s>x', { addSpecialTokens: false }),
    ).toEqual([2, 1318]);
  });

  it('Mistral and Phi-3 model types keep tokenizer.json as it is (the older Prepend normalizer)', () => {
    for (const name of ['model_type mistral', 'model_type phi3, legacy false']) {
      const { json, config, modelType } = variantFiles(variant(name));
      expect(sentencePieceRule(json, config, modelType)).toBeUndefined();
      expect(createTokenizer(json, config, { modelType }).encode('  Two')).toEqual([1, 259, 6005]);
    }
  });

  it('the vocabulary encoding says whether a space is prepended', () => {
    expect(variantTokenizer(variant('legacy false')).vocabularyEncoding).toEqual({
      type: 'byte_fallback',
      prependSpace: true,
    });
    expect(variantTokenizer(variant('add_prefix_space false')).vocabularyEncoding).toEqual({
      type: 'byte_fallback',
      prependSpace: false,
    });
  });
});

describe('byte-level BPE tokenizers are untouched', () => {
  const texts = [
    'Hello world',
    '  Two',
    ' leading',
    'a\nb',
    '<|im_start|>user\nHi<|im_end|>',
    'naïve 東京 🙂',
    '',
  ];
  const mislabelled = (config: Record<string, unknown>) => ({
    ...config,
    tokenizer_class: 'LlamaTokenizerFast',
    legacy: false,
  });

  it('qwen3: the ids and text of tokenizer.json as it is, also when labelled LlamaTokenizerFast', () => {
    const dir = tokenizerDir('qwen3');
    const config = readJson(dir, 'tokenizer_config.json');
    expect(sentencePieceRule(readJson(dir, 'tokenizer.json'), config)).toBeUndefined();
    const raw = new HfTokenizer(readJson(dir, 'tokenizer.json'), config);
    const ours = createTokenizer(readJson(dir, 'tokenizer.json'), mislabelled(config));
    for (const text of texts) {
      const ids = raw.encode(text).ids;
      expect(ours.encode(text), JSON.stringify(text)).toEqual(ids);
      if (ids.length > 0) expect(ours.decode(ids)).toBe(raw.decode(ids));
    }
  });

  it('llama3_2 (PreTrainedTokenizerFast): no rule, neither when labelled LlamaTokenizerFast', () => {
    const dir = tokenizerDir('llama3_2');
    const json = readJson(dir, 'tokenizer.json');
    const config = readJson(dir, 'tokenizer_config.json');
    expect(sentencePieceRule(json, config)).toBeUndefined();
    expect(sentencePieceRule(json, mislabelled(config))).toBeUndefined();
  });
});

describe('a fixture model, loaded through createModel (config.json model_type llama)', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await createModel(await ensureModel('tiny'));
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('encodes text and a rendered multi-turn chat to transformers’ ids', async () => {
    const reference = variant('model_type llama');
    for (const text of ['  Two', '<s> [INST] Hi [/INST]', '</s>\n<|user|>\nNext']) {
      expect(await model.encode(text)).toEqual(caseOf(reference, text).ids);
    }
    const rendered = await model.applyChatTemplate(recording.messages);
    const chat = reference.cases.at(-1)!;
    expect(rendered).toBe(chat.text);
    expect(await model.encode(rendered, { addSpecialTokens: false })).toEqual(chat.idsWithoutSpecialTokens);
    expect(await model.decode(chat.ids)).toBe(chat.decodedSkippingSpecialTokens);
  });
});

describe('a folder whose config.json says model_type mistral, loaded through createModel', () => {
  it('keeps tokenizer.json as it is, as transformers does for Mistral', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slmkit-mistral-type-'));
    try {
      await cp(await ensureModel('tiny'), dir, { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'mistral' }));
      const model = await createModel(dir);
      try {
        expect(await model.encode('  Two')).toEqual(caseOf(variant('model_type mistral'), '  Two').ids);
        expect(await model.encode('  Two')).toEqual([1, 259, 6005]);
      } finally {
        await model.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
