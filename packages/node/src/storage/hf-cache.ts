import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, realpath, rename, stat, symlink, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ModelStorage } from '@slmkit/core';
import { parseHubStorageKey } from '@slmkit/core/backend';
import type { FsStorage } from './fs-storage.js';

/**
 * The Hugging Face hub cache directory, as the Hugging Face libraries compute it: `HF_HUB_CACHE`,
 * else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 */
export function hfHubCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/**
 * Wraps an {@link FsStorage} so that hub files already in a Hugging Face hub cache
 * (`${hubCacheDir}/models--org--name/snapshots/<commit>/<path>`, the revision resolved through
 * `refs/<revision>`) are used instead of being downloaded again. Such a file is linked into the
 * storage directory (a symlink, or a copy where symlinks are not allowed), so every file of a model
 * sits in one folder as onnxruntime expects. The Hugging Face cache itself is never written.
 */
export function withHfHubCache(storage: FsStorage, hubCacheDir: string): FsStorage {
  const findInHfCache = async (key: string): Promise<string | undefined> => {
    const hub = parseHubStorageKey(key);
    if (!hub || hub.path.startsWith('.slmkit/')) return undefined;
    const repoDir = join(hubCacheDir, hub.repoFolder);
    let commit = hub.revision;
    if (!/^[0-9a-f]{40}$/.test(commit)) {
      try {
        commit = (await readFile(join(repoDir, 'refs', ...hub.revision.split('/')), 'utf8')).trim();
      } catch {
        return undefined;
      }
    }
    const file = join(repoDir, 'snapshots', commit, ...hub.path.split('/'));
    try {
      return (await stat(file)).isFile() ? await realpath(file) : undefined;
    } catch {
      return undefined;
    }
  };

  const linkIn = async (key: string, target: string): Promise<void> => {
    const path = storage.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.link-${randomUUID()}`;
    try {
      await symlink(target, temp);
    } catch {
      await copyFile(target, temp);
    }
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  };

  return {
    ...storage,
    async stat(key) {
      const found = await storage.stat(key);
      if (found) return found;
      const target = await findInHfCache(key);
      if (!target) return undefined;
      try {
        await linkIn(key, target);
      } catch {
        return undefined;
      }
      return storage.stat(key);
    },
  } satisfies ModelStorage;
}
