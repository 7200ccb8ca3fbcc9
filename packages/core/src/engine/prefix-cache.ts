import type { DecoderSignature } from '../model/decoder-signature.js';
import { KvCache } from './kv-cache.js';

/** Default byte bound of the automatic prefix cache. */
export const DEFAULT_PREFIX_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * Shortest shared prefix worth copying out of an entry that goes on differently: a copy costs a
 * round trip to where the session keeps the cache (a read too, for a session that cannot slice
 * there), while a few more prompt tokens cost almost nothing in a prefill (a shared BOS alone is not
 * worth it).
 */
export const MIN_COPIED_PREFIX = 4;

/** Length of the common prefix of two token lists. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

interface Entry {
  readonly cache: KvCache;
  readonly tokenIds: readonly number[];
}

interface PinnedEntry extends Entry {
  /** How many `cachePrefix` handles hold it. */
  holders: number;
}

/**
 * The automatic prefix cache: the KV caches of recent single-prompt calls, least recently used
 * first, bounded in bytes. A call runs on the entry sharing the longest prefix with its prompt:
 * an entry that is wholly a prefix of the prompt is taken over (and comes back extended); one that
 * goes on differently stays for its own conversation, and the call runs on a copy of the shared
 * part. So interleaved conversations each keep their cache.
 */
export class PrefixCache {
  private entries: Entry[] = [];
  /** Prefixes kept on purpose (cachePrefix): outside the byte bound, never taken over, only copied. */
  private pinned: PinnedEntry[] = [];

  constructor(
    private readonly signature: DecoderSignature,
    readonly maxBytes: number,
  ) {}

  /** Bytes held by every entry. */
  get bytes(): number {
    return this.entries.reduce((sum, e) => sum + e.cache.bytes, 0);
  }

  /** Number of entries. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * The cache to run `prompt` on and how many of its tokens it already holds (at least one prompt
   * token is always left to run, for the logits).
   */
  async acquire(prompt: readonly number[]): Promise<{ cache: KvCache; reused: number }> {
    const recent = longestShared(this.entries, prompt);
    const pinned = longestShared(this.pinned, prompt);
    if (pinned.entry && pinned.shared >= recent.shared && pinned.shared >= MIN_COPIED_PREFIX) {
      return { cache: await pinned.entry.cache.copy(pinned.shared), reused: pinned.shared };
    }
    const { entry, shared } = recent;
    if (!entry) return { cache: new KvCache(this.signature, 1), reused: 0 };
    if (shared === entry.tokenIds.length) {
      this.entries.splice(this.entries.indexOf(entry), 1);
      return { cache: entry.cache, reused: shared };
    }
    if (shared < MIN_COPIED_PREFIX) return { cache: new KvCache(this.signature, 1), reused: 0 };
    // Still the entry of its own conversation, and just used (also when the copy fails).
    this.entries.splice(this.entries.indexOf(entry), 1);
    this.entries.push(entry);
    return { cache: await entry.cache.copy(shared), reused: shared };
  }

  /** Keeps `cache` (holding `tokenIds`) as the most recently used entry, evicting the oldest past the bound. */
  keep(cache: KvCache, tokenIds: readonly number[]): void {
    if (cache.length === 0 || cache.bytes > this.maxBytes) {
      cache.release();
      return;
    }
    this.entries.push({ cache, tokenIds });
    let total = this.bytes;
    while (total > this.maxBytes) {
      const oldest = this.entries.shift()!;
      total -= oldest.cache.bytes;
      oldest.cache.release();
    }
  }

  /**
   * Keeps a cache of exactly `tokenIds` until every holder unpins it: the one already pinned (it
   * gains a holder; `true`), or else `cache()`'s (`false`). Returns the pinned cache and whether it
   * was there.
   */
  async pin(
    tokenIds: readonly number[],
    cache: () => Promise<KvCache>,
  ): Promise<{ cache: KvCache; found: boolean }> {
    const pinned = this.pinned.find(
      (e) =>
        e.tokenIds.length === tokenIds.length && commonPrefixLength(e.tokenIds, tokenIds) === tokenIds.length,
    );
    if (pinned) {
      pinned.holders++;
      return { cache: pinned.cache, found: true };
    }
    const made = await cache();
    this.pinned.push({ cache: made, tokenIds, holders: 1 });
    return { cache: made, found: false };
  }

  /** Drops one holder of a pinned cache; the last one frees it. */
  unpin(cache: KvCache): void {
    const index = this.pinned.findIndex((e) => e.cache === cache);
    if (index === -1 || --this.pinned[index].holders > 0) return;
    this.pinned.splice(index, 1);
    cache.release();
  }

  /** Frees every entry, pinned ones too. */
  clear(): void {
    for (const entry of [...this.entries, ...this.pinned]) entry.cache.release();
    this.entries = [];
    this.pinned = [];
  }
}

/** The entry sharing the longest prefix with `prompt` (capped to leave one prompt token to run). */
function longestShared(
  entries: readonly Entry[],
  prompt: readonly number[],
): { entry?: Entry; shared: number } {
  let best: Entry | undefined;
  let shared = 0;
  for (const entry of entries) {
    const length = Math.min(commonPrefixLength(entry.tokenIds, prompt), prompt.length - 1);
    if (length > shared) {
      best = entry;
      shared = length;
    }
  }
  return { entry: best, shared };
}
