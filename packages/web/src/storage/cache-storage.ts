import { type ModelStorage, SlmkitError } from '@slmkit/core';
import { type ReadableStorageWriter, splitStorageKey } from '@slmkit/core/backend';
import { sha256Hex, storageError } from './errors.js';

/** A browser `ModelStorage` that can also forget everything it holds. */
export interface BrowserModelStorage extends ModelStorage {
  /** Deletes every stored file (complete and partial). */
  clear(): Promise<void>;
}

/** Options of {@link createCacheStorage}. */
export interface CacheStorageOptions {
  /** Name of the cache in `caches` (default `'slmkit-models'`). */
  cacheName?: string;
}

const SIZE_HEADER = 'x-slmkit-size';
const HASH_HEADER = 'x-slmkit-sha256';
const ORIGIN = 'https://slmkit.invalid/';

/**
 * A `ModelStorage` in the Cache API (`caches.open(cacheName)`), available in pages and workers.
 *
 * A file becomes visible only through one `cache.put()` of its complete bytes, which the browser
 * applies atomically, with its size and sha256 as headers; an entry without them, or whose bytes no
 * longer match, is never served: `stat()` treats it as absent and `read()` deletes it and throws
 * `INTEGRITY_ERROR` (the web `createModel` then downloads it again). An interrupted write keeps
 * its bytes under a separate partial entry so a download can resume. A full quota fails with
 * `STORAGE_ERROR` naming QuotaExceededError, and leaves nothing behind.
 *
 * @example
 * ```ts
 * const model = await createModel(url, { storage: createCacheStorage({ cacheName: 'my-app-models' }) });
 * ```
 */
export function createCacheStorage(options: CacheStorageOptions = {}): BrowserModelStorage {
  const cacheName = options.cacheName ?? 'slmkit-models';
  let opened: Promise<Cache> | undefined;
  const open = () => {
    if (typeof caches === 'undefined') {
      throw new SlmkitError(
        'STORAGE_ERROR',
        'The Cache API is not available here (it needs a secure context: https or localhost). Use createOpfsStorage() or load without caching.',
      );
    }
    opened ??= caches.open(cacheName);
    return opened;
  };
  const urlOf = (key: string) => ORIGIN + splitStorageKey(key).map(encodeURIComponent).join('/');
  const partialUrlOf = (key: string) => `${urlOf(key)}?partial`;

  return {
    async stat(key) {
      const response = await (await open()).match(urlOf(key));
      const size = Number(response?.headers.get(SIZE_HEADER) ?? Number.NaN);
      if (!response || !Number.isSafeInteger(size)) return undefined;
      await response.body?.cancel();
      return { size };
    },

    async read(key) {
      const cache = await open();
      const url = urlOf(key);
      const response = await cache.match(url);
      if (!response) throw new SlmkitError('MODEL_FILE_MISSING', `${key} is not in the browser cache.`);
      const data = new Uint8Array(await response.arrayBuffer());
      const size = Number(response.headers.get(SIZE_HEADER));
      const expected = response.headers.get(HASH_HEADER);
      let intact = data.length === size;
      if (intact && expected) intact = ((await sha256Hex(data)) ?? expected) === expected;
      if (!intact) {
        await cache.delete(url);
        throw corruptError(key);
      }
      return data;
    },

    async openWriter(key, writerOptions) {
      const cache = await open();
      const url = urlOf(key);
      const partialUrl = partialUrlOf(key);
      const chunks: Uint8Array[] = [];
      let offset = 0;
      if (writerOptions?.resume) {
        const partial = await cache.match(partialUrl);
        if (partial) {
          const kept = new Uint8Array(await partial.arrayBuffer());
          if (kept.length > 0) chunks.push(kept);
          offset = kept.length;
        }
      } else {
        await cache.delete(partialUrl);
      }
      let closed = false;
      const assertOpen = () => {
        if (closed) throw new SlmkitError('STORAGE_ERROR', `The writer of ${key} was already closed.`);
      };
      const writer: ReadableStorageWriter = {
        get offset() {
          return offset;
        },
        async write(chunk) {
          assertOpen();
          // Copied: callers may reuse their buffer.
          chunks.push(chunk.slice());
          offset += chunk.length;
        },
        async commit() {
          assertOpen();
          closed = true;
          const blob = new Blob(chunks as BlobPart[]);
          chunks.length = 0;
          try {
            const hash = await sha256Hex(await blob.arrayBuffer());
            const headers: Record<string, string> = {
              'content-type': 'application/octet-stream',
              'content-length': String(blob.size),
              [SIZE_HEADER]: String(blob.size),
            };
            if (hash) headers[HASH_HEADER] = hash;
            await cache.put(url, new Response(blob, { headers }));
          } catch (error) {
            throw storageError(error, `storing ${key} (${formatBytes(blob.size)}) in the Cache API`);
          } finally {
            await cache.delete(partialUrl).catch(() => {});
          }
        },
        async abort(abortOptions) {
          if (closed) return;
          closed = true;
          const blob = new Blob(chunks as BlobPart[]);
          chunks.length = 0;
          if (abortOptions?.discard || blob.size === 0) {
            await cache.delete(partialUrl).catch(() => {});
            return;
          }
          // Keeping partial bytes is best effort: a full quota just means the next attempt starts over.
          await cache
            .put(partialUrl, new Response(blob))
            .catch(() => cache.delete(partialUrl).catch(() => {}));
        },
        async *readPartial() {
          for (const chunk of chunks) yield chunk;
        },
      };
      return writer;
    },

    async delete(key) {
      const cache = await open();
      await Promise.all([cache.delete(urlOf(key)), cache.delete(partialUrlOf(key))]);
    },

    async clear() {
      opened = undefined;
      if (typeof caches !== 'undefined') await caches.delete(cacheName);
    },
  };
}

/** The error a stored file that no longer matches its recorded size or hash fails with (after deletion). */
function corruptError(key: string): SlmkitError {
  return new SlmkitError(
    'INTEGRITY_ERROR',
    `The cached copy of ${key} was corrupt (its bytes no longer match the size or sha256 recorded when it was stored). It was deleted; it is downloaded again when remote access is allowed.`,
  );
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${bytes} bytes`;
}
