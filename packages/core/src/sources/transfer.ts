import { abortedError, SlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import { downloadFile } from './download.js';
import type { HttpContext } from './http.js';
import type { LoadProgress } from './progress.js';

/** A file of a fetch: in storage already (`cached`), or to download. */
export interface TransferFile {
  path: string;
  cached: boolean;
  /** The size, when known; set once the file is stored. */
  size?: number;
  /** The sha256 the download is verified against, when known; set to what it was verified against. */
  sha256?: string;
}

/** Where {@link transfer} downloads from and stores to. */
export interface TransferTarget {
  readonly http: HttpContext;
  readonly storage: ModelStorage;
  /** How messages name the repository: `hub:org/name@revision`, or the base URL. */
  readonly location: string;
  /** The storage key of a file of the repository. */
  readonly key: (path: string) => string;
  /** The URL of a file of the repository. */
  readonly url: (path: string) => string;
}

/**
 * Downloads the files that are not cached, one after the other, and reports progress over all of
 * them: the cached ones first (so `loaded` starts at what storage holds), then each download.
 * Each file's `size` and `sha256` are updated to what was stored.
 */
export async function transfer(
  files: TransferFile[],
  target: TransferTarget,
  onProgress: ((p: LoadProgress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const total = () =>
    files.every((e) => e.size !== undefined) ? files.reduce((sum, e) => sum + (e.size ?? 0), 0) : undefined;
  let done = 0;
  const emit = (file: string, fileLoaded: number, fileTotal: number | undefined, cached: boolean) =>
    onProgress?.({
      phase: 'download',
      file,
      fileLoaded,
      fileTotal,
      loaded: done + fileLoaded,
      total: total(),
      cached,
    });

  const ordered = [...files.filter((e) => e.cached), ...files.filter((e) => !e.cached)];
  for (const entry of ordered) {
    if (entry.cached) {
      emit(entry.path, entry.size ?? 0, entry.size, true);
      done += entry.size ?? 0;
      continue;
    }
    if (signal?.aborted) throw abortedError(signal, `Download of ${target.location} was aborted.`);
    const result = await downloadFile({
      http: target.http,
      storage: target.storage,
      key: target.key(entry.path),
      url: target.url(entry.path),
      name: `${entry.path} of ${target.location}`,
      expected: { size: entry.size, sha256: entry.sha256 },
      signal,
      onBytes: (loaded, fileTotal) => {
        entry.size ??= fileTotal;
        emit(entry.path, loaded, fileTotal, false);
      },
    }).catch((error) => {
      if (signal?.aborted && !(error instanceof SlmkitError && error.code === 'ABORTED')) {
        throw new SlmkitError('ABORTED', `Download of ${target.location} was aborted.`, { cause: error });
      }
      throw error;
    });
    entry.size = result.size;
    entry.sha256 = result.sha256 ?? entry.sha256;
    if (result.cached) emit(entry.path, result.size, result.size, true);
    done += result.size;
  }
}
