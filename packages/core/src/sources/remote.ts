import type { ModelSourceReader } from '../model/model-source.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import type { RepoLocation } from './keys.js';
import type { LoadProgress } from './progress.js';
import { StoredRemoteSource } from './stored-remote-source.js';

/** The Hugging Face hub, used when neither the `endpoint` option nor `HF_ENDPOINT` is set. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Options of {@link openRemoteSource}. */
export interface RemoteSourceOptions {
  /** Where downloaded files are kept (a directory on node, the Cache API or OPFS in a browser). */
  storage: ModelStorage;
  /** Branch, tag or commit of a hub repository (default `'main'`). Ignored for URLs. */
  revision?: string;
  /** Hub endpoint (default {@link DEFAULT_HUB_ENDPOINT}), e.g. a mirror. */
  endpoint?: string;
  /**
   * Access token for private or gated repositories. Sent (as `Authorization: Bearer`) only to the
   * origin of `endpoint`, never to the content host a file redirects to, and never printed.
   */
  token?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * `false` uses only files already in storage and fails with an `OFFLINE` error naming what is
   * missing (default `true`).
   */
  allowRemote?: boolean;
  /** Aborts every request of this source. */
  signal?: AbortSignal;
  /**
   * Receives diagnostic messages about how files are found, e.g. that a hub endpoint (a mirror)
   * serves no file list for the repository, so the listing was skipped and each file is resolved
   * directly. Nothing is printed when it is not given.
   */
  onDebug?: (message: string) => void;
}

/** One file asked of {@link RemoteModelSource.fetchFiles}. */
export interface FetchFileRequest {
  /** Path within the repository, e.g. `tokenizer.json` or `onnx/model_q4.onnx`. */
  path: string;
  /** A missing optional file is skipped instead of failing the load. */
  optional?: boolean;
}

/** Options of {@link RemoteModelSource.fetchFiles}. */
export interface FetchFilesOptions {
  /** Progress of the download, per file and overall (`phase: 'download'`). */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts the download; partial files are kept so the next call resumes them. */
  signal?: AbortSignal;
}

/**
 * A remote model repository mirrored into a {@link ModelStorage}. Call {@link RemoteModelSource.fetchFiles} once
 * with every file a load needs; afterwards `readText`, `modelFile` and `listModelFiles` serve
 * from storage.
 */
export interface RemoteModelSource extends ModelSourceReader {
  /**
   * Makes the files available in storage: files already stored are used as they are (no
   * request), the others are downloaded, resumed and verified. The external data files of each
   * requested .onnx file (`model.onnx_data`, `model.onnx_data_1`, ...) are added automatically.
   *
   * Throws SlmkitError: `NOT_FOUND` (repository, revision or a required file does not exist),
   * `MODEL_FILE_MISSING` (the requested .onnx variant does not exist; the message lists those that
   * do), `UNAUTHORIZED`, `NETWORK_ERROR`, `INTEGRITY_ERROR`, `OFFLINE`, `STORAGE_ERROR`, `ABORTED`.
   */
  fetchFiles(files: readonly FetchFileRequest[], options?: FetchFilesOptions): Promise<void>;
}

const HUB_REPO_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

/**
 * Parses a remote source: an `http(s)://` base URL, or a hub repository id (`org/name`).
 * Throws `INVALID_OPTION` for anything else.
 */
export function parseRemoteSource(source: string, revision = 'main'): RepoLocation {
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new SlmkitError('INVALID_OPTION', `${JSON.stringify(source)} is not a valid URL.`);
    }
    url.search = '';
    url.hash = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return { kind: 'url', baseUrl: url.href };
  }
  if (!HUB_REPO_ID.test(source) || source.includes('--') || source.includes('..')) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `${JSON.stringify(source)} is neither a hub repository id (like onnx-community/SmolLM2-135M-Instruct) nor an http(s) URL. For a local folder, check that the path exists.`,
    );
  }
  if (revision === '' || revision.includes('..')) {
    throw new SlmkitError('INVALID_OPTION', `Invalid revision ${JSON.stringify(revision)}.`);
  }
  return { kind: 'hub', repo: source, revision };
}

/**
 * Opens a model repository on a Hugging Face hub (`org/name`, at `revision`) or under an http(s)
 * base URL, mirrored into `options.storage`. Makes no request by itself.
 *
 * @example
 * ```ts
 * const source = await openRemoteSource('onnx-community/SmolLM2-135M-Instruct', { storage });
 * await source.fetchFiles([{ path: 'config.json' }, { path: onnxFileForDtype('q4') }], { onProgress });
 * const config = JSON.parse((await source.readText('config.json'))!);
 * ```
 */
export async function openRemoteSource(
  source: string,
  options: RemoteSourceOptions,
): Promise<RemoteModelSource> {
  if (!options?.storage) throw new SlmkitError('INVALID_OPTION', 'openRemoteSource needs a `storage`.');
  const location = parseRemoteSource(source, options.revision ?? 'main');
  const endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  let tokenOrigin: string;
  try {
    tokenOrigin = new URL(endpoint).origin;
  } catch {
    throw new SlmkitError(
      'INVALID_OPTION',
      `The hub endpoint ${JSON.stringify(endpoint)} is not a valid URL.`,
    );
  }
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!fetchImpl)
    throw new SlmkitError('INVALID_OPTION', 'No fetch is available: pass one as the `fetch` option.');
  return new StoredRemoteSource(location, endpoint, options, {
    fetch: fetchImpl,
    tokenOrigin,
    token: options.token,
  });
}
