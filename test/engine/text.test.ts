import type { LocalLanguageModel } from '@slmkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncrementalDetokenizer } from '../../packages/core/src/text/detokenizer.js';
import { forceTokens, loadTiny } from './helpers.js';

// Characters outside the llama2 vocabulary come out as byte-fallback tokens (<0xF0> <0x9F> ...).
const MULTIBYTE = [
  'Hi 🦜🪼 parrot',
  '你好，世界！ 龘靐 日本語',
  'naïve café — 뷁 ✓',
  '🇫🇷 flag and 👩‍👩‍👧 family',
  '𝔘𝔫𝔦 math',
];

/** True when the string ends inside a surrogate pair or with a replacement character. */
function endsBroken(text: string): boolean {
  if (text.length === 0) return false;
  const last = text.charCodeAt(text.length - 1);
  return (last >= 0xd800 && last <= 0xdbff) || text.endsWith('\uFFFD');
}

describe('incremental detokenizer', () => {
  let model: LocalLanguageModel;
  beforeAll(async () => {
    model = await loadTiny();
  });
  afterAll(() => model.dispose());

  it('the llama2 tokenizer really splits these texts into byte tokens', () => {
    for (const text of MULTIBYTE) {
      const ids = model.tokenizer.encode(text, { addSpecialTokens: false });
      expect(ids.some((id) => /^<0x[0-9A-F]{2}>$/.test(model.tokenizer.idToToken(id) ?? ''))).toBe(true);
    }
  });

  it('emits pieces that concatenate to the full decode and never end in half a character', () => {
    for (const text of MULTIBYTE) {
      const ids = model.tokenizer.encode(text, { addSpecialTokens: false });
      const detokenizer = new IncrementalDetokenizer(model.tokenizer);
      const pieces = ids.map((id) => detokenizer.push(id));
      pieces.push(detokenizer.flush());
      for (const piece of pieces) expect(endsBroken(piece)).toBe(false);
      expect(pieces.join('')).toBe(model.tokenizer.decode(ids, { skipSpecialTokens: true }));
      expect(pieces.join('')).toBe(text);
    }
  });

  it('stream chunks concatenate to the generate() text for multi-byte output', async () => {
    for (const text of MULTIBYTE) {
      const ids = model.tokenizer.encode(text, { addSpecialTokens: false });
      const options = { logitsProcessors: [forceTokens(ids)], maxNewTokens: ids.length };
      const generated = await model.generate('x', options);
      expect(generated.text).toBe(text);
      const chunks: string[] = [];
      for await (const chunk of model.stream('x', options)) chunks.push(chunk.text);
      expect(chunks.join('')).toBe(generated.text);
      for (const chunk of chunks) expect(endsBroken(chunk)).toBe(false);
    }
  });

  it('stream text equals generate text for free-running greedy output', async () => {
    const generated = await model.generate('Once upon a time', { maxNewTokens: 40 });
    let streamed = '';
    for await (const chunk of model.stream('Once upon a time', { maxNewTokens: 40 })) streamed += chunk.text;
    expect(streamed).toBe(generated.text);
    expect(generated.text).toBe(model.tokenizer.decode(generated.tokenIds, { skipSpecialTokens: true }));
  });
});
