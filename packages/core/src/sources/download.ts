import { isSlmkitError, SlmkitError } from '../spec/errors.js';
import type { ModelStorage, StorageWriter } from '../spec/storage.js';
import {
  contentLength,
  type HttpContext,
  htmlPageError,
  httpRequest,
  isAbort,
  isRetryableStatus,
  networkError,
  statusError,
} from './http.js';
import { Sha256 } from './sha256.js';

/**
 * A {@link StorageWriter} that can also read back the bytes it kept from an interrupted write, so
 * a resumed download can still be verified against the file's sha256. Only such writers resume:
 * with a storage whose writer has no `readPartial`, kept partial bytes are discarded and the
 * download starts over from byte 0.
 */
export interface ReadableStorageWriter extends StorageWriter {
  /** The bytes written so far (the first `offset` bytes), in order. */
  readPartial(): AsyncIterable<Uint8Array>;
}

/** What is known about a file before downloading it (from the hub API or a HEAD request). */
export interface ExpectedFile {
  size?: number;
  sha256?: string;
}

/** Result of {@link downloadFile}. */
export interface DownloadedFile {
  size: number;
  /** sha256 the file was verified against, when the server gave one. */
  sha256?: string;
  /** True when another writer stored the file while this one waited, so nothing was downloaded. */
  cached: boolean;
}

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions {
  http: HttpContext;
  storage: ModelStorage;
  /** Storage key the file is written to. */
  key: string;
  /** URL to GET. */
  url: string;
  /** Repository path, for messages. */
  name: string;
  expected?: ExpectedFile;
  signal?: AbortSignal;
  /** Called as bytes arrive with this file's bytes so far and its total when known. */
  onBytes?: (loaded: number, total: number | undefined) => void;
  /** Attempts per file before giving up on a failing connection (default 4). */
  maxAttempts?: number;
}

const RETRY_DELAY_MS = 250;

/**
 * Downloads one file into storage: resumes kept partial data with a Range request, retries a
 * dropped connection from where it stopped, verifies size and sha256 before the file becomes
 * visible, and leaves nothing that looks complete when it fails.
 */
export async function downloadFile(options: DownloadFileOptions): Promise<DownloadedFile> {
  const { storage, key, name, signal } = options;
  const maxAttempts = options.maxAttempts ?? 4;
  let writer = await openWriter(storage, key, true);
  try {
    const existing = await storage.stat(key);
    const expectedSize = options.expected?.size;
    if (existing && (expectedSize === undefined || existing.size === expectedSize)) {
      await writer.abort();
      return { size: existing.size, cached: true };
    }
    let hasher = new Sha256();
    let offset = writer.offset;
    if (offset > 0) {
      const readable = writer as Partial<ReadableStorageWriter>;
      if (typeof readable.readPartial === 'function') {
        let hashed = 0;
        for await (const chunk of readable.readPartial()) {
          hasher.update(chunk);
          hashed += chunk.length;
        }
        if (hashed !== offset) offset = -1;
      } else {
        offset = -1;
      }
      if (offset < 0) ({ writer, hasher, offset } = await restart(storage, key, writer));
    }

    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      let response: Response;
      let linked: { sha256?: string; size?: number };
      let finalUrl: string;
      try {
        ({
          response,
          linked,
          url: finalUrl,
        } = await httpRequest(options.http, options.url, {
          method: 'GET',
          headers,
          signal,
        }));
      } catch (error) {
        if (isSlmkitError(error, 'NETWORK_ERROR') && attempt < maxAttempts) {
          await delay(RETRY_DELAY_MS * attempt, signal);
          continue;
        }
        throw error;
      }

      if (response.status === 416 && offset > 0) {
        // The kept bytes do not fit the file on the server (it changed, or they are corrupt).
        await response.body?.cancel().catch(() => {});
        ({ writer, hasher, offset } = await restart(storage, key, writer));
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        if (isRetryableStatus(response.status) && attempt < maxAttempts) {
          await delay(RETRY_DELAY_MS * attempt, signal);
          continue;
        }
        throw statusError(response.status, name, options.url, Boolean(options.http.token));
      }
      const htmlError = htmlPageError(response, name, finalUrl);
      if (htmlError) {
        await response.body?.cancel().catch(() => {});
        await writer.abort({ discard: true });
        throw htmlError;
      }

      let start = 0;
      let total = options.expected?.size ?? linked.size;
      if (response.status === 206) {
        const range = parseContentRange(response.headers.get('content-range'));
        if (!range || range.start !== offset) {
          await response.body?.cancel().catch(() => {});
          ({ writer, hasher, offset } = await restart(storage, key, writer));
          continue;
        }
        start = range.start;
        total ??= range.total;
      } else {
        total ??= contentLength(response);
        if (offset > 0) {
          // The server ignored the Range header and sends the whole file: start over with it.
          ({ writer, hasher, offset } = await restart(storage, key, writer));
        }
      }
      const sha256 = options.expected?.sha256 ?? linked.sha256;

      const state = { offset: start };
      try {
        await copyBody(response, writer, hasher, state, total, name, (n) => options.onBytes?.(n, total));
      } catch (error) {
        offset = state.offset;
        if (isSlmkitError(error) && error.code !== 'NETWORK_ERROR') throw error;
        if (!isAbort(error, signal) && attempt < maxAttempts) {
          await delay(RETRY_DELAY_MS * attempt, signal);
          continue;
        }
        throw networkError(error, options.url, signal);
      }
      offset = state.offset;

      if (total !== undefined && offset !== total) {
        await writer.abort({ discard: true });
        throw new SlmkitError(
          'INTEGRITY_ERROR',
          `${name} from ${options.url} has ${offset} bytes but the server announced ${total}. The partial file was deleted; retry the download.`,
        );
      }
      if (sha256) {
        const actual = hasher.hex();
        if (actual !== sha256) {
          await writer.abort({ discard: true });
          throw new SlmkitError(
            'INTEGRITY_ERROR',
            `${name} from ${options.url} is corrupt: its sha256 is ${actual} but the server announced ${sha256}. The file was deleted; retry the download.`,
          );
        }
      }
      await commit(writer, name);
      return { size: offset, sha256, cached: false };
    }
  } catch (error) {
    // Keep partial bytes for a later resume when the transfer was merely interrupted.
    const keep =
      isAbort(error, signal) ||
      (isSlmkitError(error) && (error.code === 'NETWORK_ERROR' || error.code === 'ABORTED'));
    await writer.abort({ discard: !keep }).catch(() => {});
    if (error instanceof SlmkitError) throw error;
    if (isAbort(error, signal)) throw networkError(error, options.url, signal);
    throw toStorageError(error, name);
  }
}

/** Streams a response body into the writer; `state.offset` always says how many bytes are kept. */
async function copyBody(
  response: Response,
  writer: StorageWriter,
  hasher: Sha256,
  state: { offset: number },
  total: number | undefined,
  name: string,
  onBytes: (loaded: number) => void,
): Promise<void> {
  if (!response.body) throw new SlmkitError('NETWORK_ERROR', `The server sent no body for ${name}.`);
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (total !== undefined && state.offset + value.length > total) {
        throw new SlmkitError(
          'INTEGRITY_ERROR',
          `${name} is larger than the ${total} bytes the server announced. The partial file was deleted; retry the download.`,
        );
      }
      await storageCall(() => writer.write(value), name);
      hasher.update(value);
      state.offset += value.length;
      onBytes(state.offset);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}

async function openWriter(storage: ModelStorage, key: string, resume: boolean): Promise<StorageWriter> {
  return storageCall(() => storage.openWriter(key, { resume }), key);
}

async function commit(writer: StorageWriter, name: string): Promise<void> {
  await storageCall(() => writer.commit(), name);
}

async function restart(
  storage: ModelStorage,
  key: string,
  writer: StorageWriter,
): Promise<{ writer: StorageWriter; hasher: Sha256; offset: number }> {
  await writer.abort({ discard: true });
  return { writer: await openWriter(storage, key, false), hasher: new Sha256(), offset: 0 };
}

async function storageCall<T>(call: () => Promise<T>, name: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toStorageError(error, name);
  }
}

/** A storage failure as a `STORAGE_ERROR` (SlmkitErrors pass through unchanged). */
function toStorageError(error: unknown, name: string): SlmkitError {
  if (error instanceof SlmkitError) return error;
  return new SlmkitError('STORAGE_ERROR', `Could not store ${name}: ${(error as Error)?.message ?? error}`, {
    cause: error,
  });
}

function parseContentRange(value: string | null): { start: number; total?: number } | undefined {
  const match = value?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
