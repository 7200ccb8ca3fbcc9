/**
 * chat-10 in one process: load one system, warm up, then ten turns of the same conversation, timing
 * each turn's first token as the caller receives it.
 */
import { basename } from 'node:path';
import { AutoTokenizer, Tensor } from '@huggingface/transformers';
import type { ChatMessage, GenerateOptions, GenerationResult, GenerationStream } from '@slmkit/node';
import {
  CHAT_SYSTEM,
  CHAT_USER_MESSAGES,
  CHAT_WARMUP_TOKENS,
  type ChatRole,
  type ChatTurn,
  NEW_TOKENS,
  WARMUP_MESSAGES,
} from '../lib/scenarios.js';
import { promptIds } from '../lib/workloads.js';
import { builtPackage, slmkitSessionOptions } from '../systems/slmkit.js';
import { loadTransformersModel, TimingStreamer } from '../systems/transformers.js';
import type { LoadOptions } from '../systems/types.js';

/** Greedy, always NEW_TOKENS new tokens (no end-of-sequence rule: the model's weights are random). */
const TURN_OPTIONS: GenerateOptions = { maxNewTokens: NEW_TOKENS, doSample: false, eosTokenIds: [] };

/** Drains a stream, timing the first and last chunk against `start`. */
export async function timeStream(
  stream: GenerationStream<GenerationResult>,
  start: number,
): Promise<{ ttftMs: number; decodeMs: number; result: GenerationResult }> {
  let first = 0;
  let last = 0;
  for await (const _ of stream) {
    last = performance.now();
    if (first === 0) first = last;
  }
  return { ttftMs: first - start, decodeMs: last - first, result: await stream.result };
}

export async function runChat(
  role: ChatRole,
  load: LoadOptions,
  cacheDir: string,
): Promise<{ loadMs: number; turns: ChatTurn[] }> {
  return role === 'transformers' ? runTransformers(load) : runSlmkit(role, load, cacheDir);
}

async function runSlmkit(
  role: 'chat' | 'recompute',
  load: LoadOptions,
  cacheDir: string,
): Promise<{ loadMs: number; turns: ChatTurn[] }> {
  const { createModel } = await builtPackage();
  const loadStart = performance.now();
  const model = await createModel(load.folder, {
    cacheDir,
    hfHubCache: false,
    sessionOptions: slmkitSessionOptions(load),
    // recompute: the whole conversation is prefilled every turn. The chat keeps its own sequence
    // and does not use the automatic prefix cache, so it runs with the default.
    ...(role === 'recompute' ? { prefixCache: false } : {}),
  });
  const loadMs = performance.now() - loadStart;
  await model.generate({ inputIds: promptIds(CHAT_WARMUP_TOKENS) }, { ...TURN_OPTIONS, maxNewTokens: 4 });
  await model.countTokens([...WARMUP_MESSAGES]);
  const turns: ChatTurn[] = [];
  if (role === 'chat') {
    const chat = model.createChat({ system: CHAT_SYSTEM });
    for (const content of CHAT_USER_MESSAGES) {
      const start = performance.now();
      const { ttftMs, decodeMs, result } = await timeStream(chat.stream(content, TURN_OPTIONS), start);
      turns.push({
        ttftMs,
        decodeMs,
        promptTokens: result.usage.promptTokens,
        cachedPromptTokens: result.usage.cachedPromptTokens,
        tokenIds: result.tokenIds,
      });
    }
    await chat.dispose();
  } else {
    let messages: ChatMessage[] = [{ role: 'system', content: CHAT_SYSTEM }];
    for (const content of CHAT_USER_MESSAGES) {
      messages = [...messages, { role: 'user', content }];
      const start = performance.now();
      const { ttftMs, decodeMs, result } = await timeStream(model.stream(messages, TURN_OPTIONS), start);
      // Outside the timing: the ids it fed, to compare with transformers.js's.
      const prompt = model.tokenizer.encode(await model.applyChatTemplate(messages), {
        addSpecialTokens: false,
      });
      turns.push({
        ttftMs,
        decodeMs,
        promptTokens: result.usage.promptTokens,
        cachedPromptTokens: result.usage.cachedPromptTokens,
        promptIds: prompt,
        tokenIds: result.tokenIds,
      });
      messages = [...messages, { role: 'assistant', content: result.text }];
    }
  }
  await model.dispose();
  return { loadMs, turns };
}

/**
 * transformers.js as its documentation shows a chat: apply_chat_template on the whole
 * conversation, generate, decode the new tokens, append the reply; nothing kept between turns.
 */
async function runTransformers(load: LoadOptions): Promise<{ loadMs: number; turns: ChatTurn[] }> {
  const loadStart = performance.now();
  const model = await loadTransformersModel(load);
  const tokenizer = await AutoTokenizer.from_pretrained(basename(load.folder), { local_files_only: true });
  const loadMs = performance.now() - loadStart;
  const greedy = { do_sample: false, min_new_tokens: null, eos_token_id: [] };
  const warmup = promptIds(CHAT_WARMUP_TOKENS);
  const warmupOutput = (await model.generate({
    inputs: new Tensor('int64', BigInt64Array.from(warmup, BigInt), [1, warmup.length]),
    attention_mask: new Tensor('int64', new BigInt64Array(warmup.length).fill(1n), [1, warmup.length]),
    max_new_tokens: 4,
    ...greedy,
  } as never)) as Tensor;
  warmupOutput.dispose?.();
  tokenizer.apply_chat_template([...WARMUP_MESSAGES], { add_generation_prompt: true, return_dict: true });
  const messages: { role: string; content: string }[] = [{ role: 'system', content: CHAT_SYSTEM }];
  const turns: ChatTurn[] = [];
  for (const content of CHAT_USER_MESSAGES) {
    messages.push({ role: 'user', content });
    const streamer = new TimingStreamer();
    const start = performance.now();
    const inputs = tokenizer.apply_chat_template(messages, {
      add_generation_prompt: true,
      return_dict: true,
    }) as {
      input_ids: Tensor;
      attention_mask: Tensor;
    };
    const output = (await model.generate({
      ...inputs,
      max_new_tokens: NEW_TOKENS,
      streamer,
      ...greedy,
    } as never)) as Tensor;
    const prompt = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
    const tokenIds = (output.tolist() as bigint[][])[0].slice(prompt.length).map(Number);
    output.dispose?.();
    turns.push({
      ttftMs: streamer.firstTokenTime - start,
      decodeMs: streamer.lastTokenTime - streamer.firstTokenTime,
      promptTokens: prompt.length,
      cachedPromptTokens: 0,
      promptIds: prompt,
      tokenIds,
    });
    messages.push({ role: 'assistant', content: tokenizer.decode(tokenIds, { skip_special_tokens: true }) });
  }
  await model.dispose();
  return { loadMs, turns };
}
