import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ModelStorage } from '@slmkit/core';
import { DEFAULT_HUB_ENDPOINT } from '@slmkit/core/backend';
import { createFsStorage, hfHubCacheDir, withHfHubCache } from './storage/index.js';

/** Options of {@link nodeSourceDefaults}; each one wins over its environment variable. */
export interface NodeSourceDefaultsOptions {
  /** Cache directory (default: `SLMKIT_CACHE_DIR`, else {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Hub endpoint (default: `HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** Access token (default: `HF_TOKEN`). */
  token?: string;
  /**
   * Hugging Face hub cache whose files are reused instead of downloaded (default: `HF_HUB_CACHE`,
   * else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`); `false` to not look there.
   */
  hfHubCache?: string | false;
}

/** What {@link nodeSourceDefaults} resolves, ready to spread into `openRemoteSource` options. */
export interface NodeSourceDefaults {
  /** The file-system cache in `cacheDir`, reusing files of the Hugging Face hub cache unless `hfHubCache: false`. */
  storage: ModelStorage;
  /** The hub endpoint, without a trailing `/`. */
  endpoint: string;
  /** The access token, or undefined when none is set. */
  token: string | undefined;
  /** False when `HF_HUB_OFFLINE` is set to a true value (`1`, `true`, `yes`, `on`). */
  allowRemote: boolean;
  /** The resolved cache directory. */
  cacheDir: string;
}

/**
 * The default slmkit cache directory on node: `$XDG_CACHE_HOME/slmkit`, else `~/.cache/slmkit`
 * (`SLMKIT_CACHE_DIR` overrides it; see {@link nodeSourceDefaults}).
 */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slmkit');
}

/**
 * Node defaults for remote model sources, from options and the environment: the file-system cache
 * (`cacheDir` / `SLMKIT_CACHE_DIR` / {@link defaultCacheDir}) reusing the Hugging Face hub cache,
 * the endpoint (`endpoint` / `HF_ENDPOINT`), the token (`token` / `HF_TOKEN`) and offline mode
 * (`HF_HUB_OFFLINE`).
 *
 * @example
 * ```ts
 * const source = await openRemoteSource('onnx-community/SmolLM2-135M-Instruct', { ...nodeSourceDefaults({}) });
 * ```
 */
export function nodeSourceDefaults(options: NodeSourceDefaultsOptions = {}): NodeSourceDefaults {
  const env = process.env;
  const cacheDir = options.cacheDir ?? (env.SLMKIT_CACHE_DIR || defaultCacheDir(env));
  const fsStorage = createFsStorage(cacheDir);
  const hfCache = options.hfHubCache ?? hfHubCacheDir(env);
  return {
    storage: hfCache === false ? fsStorage : withHfHubCache(fsStorage, hfCache),
    endpoint: (options.endpoint ?? (env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT)).replace(/\/+$/, ''),
    token: options.token ?? (env.HF_TOKEN || undefined),
    allowRemote: !/^(1|true|yes|on)$/i.test(env.HF_HUB_OFFLINE ?? ''),
    cacheDir,
  };
}
