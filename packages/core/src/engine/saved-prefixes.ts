import { Sha256 } from '../sources/sha256.js';
import { isSlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import type { KvCache } from './kv-cache.js';
import type { SequenceHost } from './sequence.js';
import { decodeSequenceSnapshot, encodeSequenceSnapshot } from './sequence-snapshot.js';

/** Storage key of a saved prefix: under the model's fingerprint, named by a hash of its token ids. */
function prefixKey(fingerprint: string, tokenIds: readonly number[]): string {
  const model = new Sha256().update(new TextEncoder().encode(fingerprint)).hex();
  const tokens = new Sha256().update(new Uint8Array(Int32Array.from(tokenIds).buffer)).hex();
  return `slmkit-state/${model}/prefix-${tokens}.snapshot`;
}

/**
 * Prefilled prefixes saved in a {@link ModelStorage} as sequence snapshots, so a later process or
 * page load starts from them. Written through a storage writer and committed whole, so a half-written
 * snapshot is never visible; one that does not restore (corrupt, another slmkit version) is deleted.
 */
export class SavedPrefixes {
  constructor(
    private readonly storage: ModelStorage,
    private readonly host: Pick<SequenceHost, 'signature' | 'fingerprint'>,
  ) {}

  /** The saved cache of exactly `tokenIds`, or undefined. */
  async load(tokenIds: readonly number[]): Promise<KvCache | undefined> {
    const key = prefixKey(await this.host.fingerprint(), tokenIds);
    if (!(await this.storage.stat(key))) return undefined;
    try {
      const { cache, tokens } = await decodeSequenceSnapshot(this.host, await this.storage.read(key));
      if (tokens.length === tokenIds.length && tokens.every((t, i) => t === tokenIds[i])) return cache;
      cache.release();
    } catch (error) {
      if (!isSlmkitError(error, 'INVALID_SNAPSHOT') && !isSlmkitError(error, 'INTEGRITY_ERROR')) throw error;
    }
    await this.storage.delete(key);
    return undefined;
  }

  /** Saves `cache` (holding `tokenIds`). */
  async save(cache: KvCache, tokenIds: readonly number[]): Promise<void> {
    const key = prefixKey(await this.host.fingerprint(), tokenIds);
    const bytes = await encodeSequenceSnapshot(this.host, cache, tokenIds);
    const writer = await this.storage.openWriter(key);
    try {
      await writer.write(bytes);
      await writer.commit();
    } catch (error) {
      await writer.abort({ discard: true }).catch(() => {});
      throw error;
    }
  }
}
