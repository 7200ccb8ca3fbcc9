/**
 * profile-1000 in one process. `save` prefills the profile and persists it into the round's cache
 * directory; `restore` (a later, fresh process on the same directory) loads it from there and asks
 * the question; `recompute` asks the same question with nothing saved and `prefixCache: false`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CachedPrefix, ChatMessage, GenerateOptions } from '@slmkit/node';
import {
  NEW_TOKENS,
  PROFILE_QUESTION,
  type ProfileMeasure,
  type ProfileRole,
  profileText,
} from '../lib/scenarios.js';
import { promptIds } from '../lib/workloads.js';
import { builtPackage, slmkitSessionOptions } from '../systems/slmkit.js';
import type { LoadOptions } from '../systems/types.js';
import { timeStream } from './chat.js';

const OPTIONS: GenerateOptions = { maxNewTokens: NEW_TOKENS, doSample: false, eosTokenIds: [] };

/** Total size and number of the files under `dir` (0 and 0 when it does not exist). */
async function filesUnder(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch {
    return { bytes, files };
  }
  for (const entry of entries) {
    const info = await stat(join(dir, entry));
    if (!info.isFile()) continue;
    bytes += info.size;
    files += 1;
  }
  return { bytes, files };
}

export async function runProfile(
  role: ProfileRole,
  load: LoadOptions,
  cacheDir: string,
): Promise<{ loadMs: number; profile: ProfileMeasure }> {
  const { createModel } = await builtPackage();
  const loadStart = performance.now();
  // prefixCache off in every role: nothing but the prefix kept on purpose (cachePrefix) is reused.
  const model = await createModel(load.folder, {
    cacheDir,
    hfHubCache: false,
    prefixCache: false,
    sessionOptions: slmkitSessionOptions(load),
  });
  const loadMs = performance.now() - loadStart;
  const system: ChatMessage = { role: 'system', content: profileText() };
  const request: ChatMessage[] = [system, { role: 'user', content: PROFILE_QUESTION }];
  // Also the process's first text encode, which costs more than later ones (see WARMUP_MESSAGES).
  const requestTokens = await model.countTokens(request);
  // Warm-up at the request's length on unrelated ids (nothing is kept with prefixCache off).
  await model.generate({ inputIds: promptIds(requestTokens) }, { ...OPTIONS, maxNewTokens: 4 });

  let measure: Partial<ProfileMeasure> = {};
  let prefixTokens = await model.countTokens([system]);
  let prefix: CachedPrefix | undefined;
  if (role !== 'recompute') {
    const start = performance.now();
    // `persist` in both processes: cachePrefix looks in storage only when asked to persist.
    prefix = await model.cachePrefix([system], { persist: true });
    const cachePrefixMs = performance.now() - start;
    prefixTokens = prefix.tokenCount;
    measure = { cachePrefixMs, cachePrefixSource: prefix.source };
    if (role === 'save') {
      const { bytes, files } = await filesUnder(join(cacheDir, 'slmkit-state'));
      const { numLayers, numKeyValueHeads, headDim } = model.config;
      measure = {
        ...measure,
        snapshotBytes: bytes,
        snapshotFiles: files,
        kvBytes: prefix.tokenCount * numLayers * 2 * numKeyValueHeads * headDim * 4,
      };
    }
  }
  const start = performance.now();
  const { ttftMs, result } = await timeStream(model.stream(request, OPTIONS), start);
  await prefix?.release();
  if (role === 'restore') {
    // The same load again, now that the model's fingerprint is known: what restoring costs by itself.
    const again = performance.now();
    const reloaded = await model.cachePrefix([system], { persist: true });
    measure = { ...measure, reloadMs: performance.now() - again };
    if (reloaded.source !== 'storage')
      throw new Error(`second load came from ${reloaded.source}, not storage`);
    await reloaded.release();
  }
  await model.dispose();
  return {
    loadMs,
    profile: {
      ...measure,
      prefixTokens,
      requestTokens,
      cachedPromptTokens: result.usage.cachedPromptTokens,
      ttftMs,
      tokenIds: result.tokenIds,
    },
  };
}
