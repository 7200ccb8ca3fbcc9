// Run by chat.test.ts as a fresh process: restores saved state from a file and prints what the
// next call generates, as JSON on stdout.
// Usage: tsx chat-process.ts <model dir> chat <snapshot file> <user message>
//        tsx chat-process.ts <model dir> prefix <cache dir> <prefix text> <question>
import { readFile } from 'node:fs/promises';
import { createModel } from '@slmkit/node';

const [dir, mode, path, text, question] = process.argv.slice(2);
const GREEDY = { maxNewTokens: 8, temperature: 0 } as const;
if (mode === 'chat') {
  const model = await createModel(dir);
  const chat = await model.restoreChat(new Uint8Array(await readFile(path)));
  const reply = await chat.send(text, GREEDY);
  process.stdout.write(JSON.stringify({ tokenIds: reply.tokenIds, cached: reply.usage.cachedPromptTokens }));
  await model.dispose();
} else {
  const model = await createModel(dir, { cacheDir: path, prefixCache: false });
  const prefix = await model.cachePrefix(text, { persist: true });
  const reply = await model.generate(text + question, GREEDY);
  process.stdout.write(
    JSON.stringify({
      source: prefix.source,
      tokenIds: reply.tokenIds,
      cached: reply.usage.cachedPromptTokens,
    }),
  );
  await model.dispose();
}
