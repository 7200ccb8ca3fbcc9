import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalLanguageModel } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { greedyWithoutCache, loadTiny, loadTinyReference, PROMPTS } from './helpers.js';

describe('greedy generation on onnxruntime-node', () => {
  let model: LocalLanguageModel;
  let folder: string;
  beforeAll(async () => {
    folder = await ensureModel('tiny');
    model = await createModel(folder);
  });
  afterAll(() => model.dispose());

  it('with the KV cache equals recomputing the whole sequence every step', async () => {
    for (const prompt of PROMPTS) {
      const ids = model.tokenizer.encode(prompt);
      const { tokenIds, finishReason } = await model.generate(
        { inputIds: ids },
        { maxNewTokens: 12, temperature: 0 },
      );
      expect(finishReason).toBe('length');
      expect(tokenIds).toEqual(await greedyWithoutCache(folder, ids, 12));
    }
  });

  it('equals the reference backend token for token', async () => {
    const reference = await loadTinyReference();
    try {
      for (const prompt of PROMPTS.slice(0, 3)) {
        const ort = await model.generate(prompt, { maxNewTokens: 10, temperature: 0 });
        const ref = await reference.generate(prompt, { maxNewTokens: 10, temperature: 0 });
        expect(ort.tokenIds).toEqual(ref.tokenIds);
        expect(ort.text).toEqual(ref.text);
      }
    } finally {
      await reference.dispose();
    }
  });

  it('gives each prompt of a left-padded batch the tokens it gets alone', async () => {
    const batch = await model.generate(PROMPTS, { maxNewTokens: 10 });
    expect(batch).toHaveLength(PROMPTS.length);
    const lengths = new Set(PROMPTS.map((p) => model.tokenizer.encode(p).length));
    expect(lengths.size).toBeGreaterThan(1); // the batch really is padded
    for (const [i, prompt] of PROMPTS.entries()) {
      const alone = await model.generate(prompt, { maxNewTokens: 10 });
      expect(batch[i].tokenIds).toEqual(alone.tokenIds);
      expect(batch[i].text).toEqual(alone.text);
      expect(batch[i].usage.promptTokens).toBe(model.tokenizer.encode(prompt).length);
    }
  });

  it('streams a batch with sequence indices that rebuild each result', async () => {
    const stream = model.stream(['Hello', 'The capital of France is'], { maxNewTokens: 6 });
    const texts = ['', ''];
    const ids: number[][] = [[], []];
    for await (const chunk of stream) {
      texts[chunk.sequenceIndex] += chunk.text;
      ids[chunk.sequenceIndex].push(chunk.tokenId);
    }
    const results = await stream.result;
    expect(results.map((r) => r.text)).toEqual(texts);
    expect(results.map((r) => r.tokenIds)).toEqual(ids);
  });

  it('accepts token ids (single and batch) without template or encoding', async () => {
    const ids = model.tokenizer.encode('The capital of France is');
    const fromText = await model.generate('The capital of France is', { maxNewTokens: 8 });
    const fromIds = await model.generate({ inputIds: ids }, { maxNewTokens: 8 });
    expect(fromIds.tokenIds).toEqual(fromText.tokenIds);
    expect(fromIds.text).toBe(model.tokenizer.decode(fromIds.tokenIds, { skipSpecialTokens: true }));
    const [a, b] = await model.generate([{ inputIds: ids }, { inputIds: ids.slice(0, 3) }], {
      maxNewTokens: 4,
    });
    expect(a.tokenIds).toEqual(fromText.tokenIds.slice(0, 4));
    expect(b.usage.promptTokens).toBe(3);
  });

  it('renders chat messages with the model template and no extra BOS', async () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hi there!' },
    ];
    const rendered = await model.applyChatTemplate(messages);
    expect(rendered).toBe('<|system|>\nYou are terse.</s><|user|>\nHi there!</s><|assistant|>');
    const expectedIds = model.tokenizer.encode(rendered, { addSpecialTokens: false });
    expect(expectedIds[0]).not.toBe(1);
    const chat = await model.generate(messages, { maxNewTokens: 6 });
    const direct = await model.generate({ inputIds: expectedIds }, { maxNewTokens: 6 });
    expect(chat.usage.promptTokens).toBe(expectedIds.length);
    expect(chat.tokenIds).toEqual(direct.tokenIds);
  });

  it('serialises concurrent calls on one model without mixing their outputs', async () => {
    const sequential = [];
    for (const prompt of PROMPTS)
      sequential.push((await model.generate(prompt, { maxNewTokens: 8 })).tokenIds);
    const concurrent = await Promise.all(PROMPTS.map((p) => model.generate(p, { maxNewTokens: 8 })));
    expect(concurrent.map((r) => r.tokenIds)).toEqual(sequential);
  });

  it('reports usage', async () => {
    const { usage, tokenIds } = await model.generate('Once upon a time', { maxNewTokens: 16 });
    expect(usage.promptTokens).toBe(model.tokenizer.encode('Once upon a time').length);
    expect(usage.completionTokens).toBe(tokenIds.length);
    expect(usage.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(usage.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(usage.totalMs).toBeGreaterThanOrEqual(usage.timeToFirstTokenMs);
  });
});

describe('graph variants are driven from their declared inputs', () => {
  it('a graph with num_logits_to_keep gives the same tokens as the plain graph', async () => {
    const plain = await loadTiny();
    const keep = await loadTiny({ preset: 'tiny', logitsToKeep: true });
    try {
      for (const prompt of PROMPTS.slice(0, 3)) {
        const a = await plain.generate(prompt, { maxNewTokens: 10 });
        const b = await keep.generate(prompt, { maxNewTokens: 10 });
        expect(b.tokenIds).toEqual(a.tokenIds);
      }
    } finally {
      await plain.dispose();
      await keep.dispose();
    }
  });

  it('a float16 KV cache runs and matches the reference backend on the same graph', async () => {
    const spec = { preset: 'tiny', kvDtype: 'float16' } as const;
    const model = await loadTiny(spec);
    const reference = await loadTinyReference(spec);
    try {
      const a = await model.generate('Once upon a time', { maxNewTokens: 10 });
      const b = await reference.generate('Once upon a time', { maxNewTokens: 10 });
      expect(a.tokenIds).toEqual(b.tokenIds);
    } finally {
      await model.dispose();
      await reference.dispose();
    }
  });
});

describe('chat templates', () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });
  async function copyOfTiny(edit: (dir: string) => void): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'slmkit-template-'));
    folders.push(dir);
    cpSync(await ensureModel('tiny'), dir, { recursive: true });
    edit(dir);
    return dir;
  }

  it('a chat_template.jinja file wins over tokenizer_config.json, and sees templateVariables', async () => {
    const dir = await copyOfTiny((d) =>
      writeFileSync(
        join(d, 'chat_template.jinja'),
        '{% for m in messages %}[{{ m.role }}{% if shout %}!{% endif %}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}',
      ),
    );
    const model = await createModel(dir);
    try {
      const messages = [{ role: 'user', content: 'Hi' }];
      expect(await model.applyChatTemplate(messages)).toBe('[user] Hi</s>[assistant]');
      expect(await model.applyChatTemplate(messages, { shout: true })).toBe('[user!] Hi</s>[assistant]');
      const a = await model.generate(messages, { maxNewTokens: 1, templateVariables: { shout: true } });
      const ids = model.tokenizer.encode('[user!] Hi</s>[assistant]', { addSpecialTokens: false });
      expect(a.usage.promptTokens).toBe(ids.length);
    } finally {
      await model.dispose();
    }
  });

  it('messages to a model without a chat template are refused with a clear error', async () => {
    const dir = await copyOfTiny((d) => {
      const path = join(d, 'tokenizer_config.json');
      const config = JSON.parse(readFileSync(path, 'utf8'));
      delete config.chat_template;
      writeFileSync(path, JSON.stringify(config));
    });
    const model = await createModel(dir);
    try {
      await expect(model.generate([{ role: 'user', content: 'Hi' }])).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/no chat template.*plain string or token ids/),
      });
      expect((await model.generate('Hi', { maxNewTokens: 2 })).tokenIds).toHaveLength(2);
    } finally {
      await model.dispose();
    }
  });
});
