import type { ModelSourceReader } from '../model/model-source.js';
import type { ModelFile } from '../spec/backend.js';
import { isSlmkitError, SlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import { downloadFile, type ExpectedFile } from './download.js';
import { MODEL_DTYPES, missingVariantError, onnxFileForDtype } from './dtype.js';
import { contentLength, type HttpContext, htmlPageError, httpRequest, statusError } from './http.js';
import { fetchHubListing, type HubListing } from './hub-api.js';
import { checkRepoPath, type RepoLocation, storageKey, storagePrefix } from './keys.js';
import { type FileInfo, readManifest, type SourceManifest, writeManifest } from './manifest.js';
import type { LoadProgress } from './progress.js';

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
 * A remote model repository mirrored into a {@link ModelStorage}. Call {@link fetchFiles} once
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

interface Entry {
  path: string;
  optional: boolean;
  cached: boolean;
  size?: number;
  sha256?: string;
}

class StoredRemoteSource implements RemoteModelSource {
  readonly location: string;
  private readonly prefix: string;
  private readonly storage: ModelStorage;
  private readonly allowRemote: boolean;
  private readonly signal?: AbortSignal;
  private manifest?: SourceManifest;
  private listing?: Promise<HubListing>;

  constructor(
    private readonly repo: RepoLocation,
    private readonly endpoint: string,
    options: RemoteSourceOptions,
    private readonly http: HttpContext,
  ) {
    this.location = repo.kind === 'hub' ? `hub:${repo.repo}@${repo.revision}` : repo.baseUrl;
    this.prefix = storagePrefix(repo);
    this.storage = options.storage;
    this.allowRemote = options.allowRemote ?? true;
    this.signal = options.signal;
  }

  async fetchFiles(files: readonly FetchFileRequest[], options: FetchFilesOptions = {}): Promise<void> {
    const signal = anySignal(this.signal, options.signal);
    const manifest = await this.getManifest();
    const entries = new Map<string, Entry>();
    const known = (path: string): FileInfo | undefined => manifest.listing?.[path] ?? manifest.files[path];

    const add = async (path: string, optional: boolean) => {
      checkRepoPath(path);
      const existing = entries.get(path);
      if (existing) {
        existing.optional &&= optional;
        return;
      }
      const stat = await this.storage.stat(this.key(path));
      const info = known(path);
      const cached = stat !== undefined && (info?.size === undefined || info.size === stat.size);
      if (!cached && optional && manifest.absent.includes(path)) return;
      entries.set(path, {
        path,
        optional,
        cached,
        size: cached ? stat?.size : info?.size,
        sha256: info?.sha256,
      });
    };
    for (const file of files) await add(file.path, file.optional ?? false);

    // External data files of the .onnx files: from what we know, else discovered below.
    const undiscovered: string[] = [];
    for (const entry of [...entries.values()]) {
      if (!entry.path.endsWith('.onnx')) continue;
      const data = knownDataFiles(manifest, entry.path);
      if (data) for (const path of data) await add(path, false);
      else undiscovered.push(entry.path);
    }

    const pending = () => [...entries.values()].filter((e) => !e.cached);
    const learned = pending().length > 0 || undiscovered.length > 0;
    if (learned) {
      if (!this.allowRemote) {
        // What storage holds says nothing about shards it lacks, so this list is used for this
        // call only and never saved: an online call must still learn the full list.
        for (const onnx of undiscovered) {
          for (const path of await this.probeStoredDataFiles(onnx)) await add(path, false);
        }
        const missing = pending().filter((e) => !e.optional);
        if (missing.length > 0) throw this.offlineError(missing.map((e) => e.path));
        for (const entry of pending()) entries.delete(entry.path);
      } else if (this.repo.kind === 'hub') {
        await this.planFromListing(entries, undiscovered, add, signal);
      } else {
        await this.planFromProbes(entries, undiscovered, add, signal);
      }
    }

    await this.transfer([...entries.values()], options.onProgress, signal);
    for (const entry of entries.values()) {
      manifest.files[entry.path] = { size: entry.size, ...(entry.sha256 ? { sha256: entry.sha256 } : {}) };
    }
    if (learned) {
      manifest.absent = [...new Set(manifest.absent)];
      // Only a cache hint: a manifest that cannot be written costs requests next time, nothing else.
      await writeManifest(this.storage, this.prefix, manifest).catch(() => {});
    }
  }

  async readText(path: string): Promise<string | undefined> {
    const key = this.key(path);
    if (!(await this.storage.stat(key))) return undefined;
    return new TextDecoder().decode(await this.readStored(path));
  }

  async modelFile(path: string): Promise<ModelFile | undefined> {
    const key = this.key(path);
    if (!(await this.storage.stat(key))) return undefined;
    const manifest = await this.getManifest();
    const dataFiles = knownDataFiles(manifest, path) ?? (await this.probeStoredDataFiles(path));
    const localPath = this.storage.localPath?.(key);
    if (localPath !== undefined) {
      const dir = dirname(localPath);
      const external: { path: string; data: string }[] = [];
      let beside = true;
      for (const data of dataFiles) {
        const dataKey = this.key(data);
        const dataPath = (await this.storage.stat(dataKey)) ? this.storage.localPath?.(dataKey) : undefined;
        if (dataPath === undefined) throw this.missingDataError(path, data);
        if (dirname(dataPath) !== dir || basename(dataPath) !== basename(data)) beside = false;
        external.push({ path: basename(data), data: dataPath });
      }
      return beside
        ? { name: path, path: localPath }
        : { name: path, path: localPath, externalData: external };
    }
    const externalData: { path: string; data: Uint8Array }[] = [];
    for (const data of dataFiles) {
      const dataKey = this.key(data);
      if (!(await this.storage.stat(dataKey))) throw this.missingDataError(path, data);
      externalData.push({ path: basename(data), data: await this.readStored(data) });
    }
    const data = await this.readStored(path);
    return externalData.length > 0 ? { name: path, data, externalData } : { name: path, data };
  }

  async contentDigest(path: string): Promise<string | undefined> {
    const manifest = await this.getManifest();
    const files = [path, ...(knownDataFiles(manifest, path) ?? [])];
    const digests = files.map((f) => manifest.files[f]?.sha256);
    // The sha256 each file was verified against when it was downloaded.
    return digests.every((d) => d !== undefined) ? digests.join('+') : undefined;
  }

  /**
   * A stored file's bytes. A storage that finds a stored copy corrupt deletes it and throws
   * INTEGRITY_ERROR (see ModelStorage.read); the file is then downloaded once more, when remote
   * access is allowed.
   */
  private async readStored(path: string): Promise<Uint8Array> {
    try {
      return await this.storage.read(this.key(path));
    } catch (error) {
      if (!isSlmkitError(error, 'INTEGRITY_ERROR') || !this.allowRemote) throw error;
      await this.fetchFiles([{ path }]);
      return this.storage.read(this.key(path));
    }
  }

  async listModelFiles(): Promise<string[]> {
    const manifest = await this.getManifest();
    let listing = manifest.listing;
    if (!listing && this.allowRemote && this.repo.kind === 'hub') {
      listing = (await this.getListing(this.signal)).files;
    }
    if (listing) return Object.keys(listing).filter(isOnnxVariant).sort();
    const candidates = new Set([
      ...MODEL_DTYPES.map((d) => onnxFileForDtype(d)),
      ...Object.keys(manifest.files),
    ]);
    const found: string[] = [];
    await Promise.all(
      [...candidates].filter(isOnnxVariant).map(async (path) => {
        const exists =
          (await this.storage.stat(this.key(path))) !== undefined ||
          (this.allowRemote && (await this.probe(path, this.signal)) !== undefined);
        if (exists) found.push(path);
      }),
    );
    return found.sort();
  }

  // --- planning -----------------------------------------------------------------------------

  private async planFromListing(
    entries: Map<string, Entry>,
    undiscovered: string[],
    add: (path: string, optional: boolean) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    const listing = await this.getListing(signal);
    for (const onnx of undiscovered) {
      if (listing.files[onnx]) for (const path of dataFilesIn(listing.files, onnx)) await add(path, false);
    }
    for (const entry of [...entries.values()]) {
      const info = listing.files[entry.path];
      if (!info) {
        if (entry.optional) {
          entries.delete(entry.path);
          this.manifest?.absent.push(entry.path);
          continue;
        }
        throw await this.missingFileError(entry.path, Object.keys(listing.files));
      }
      if (entry.cached && info.size !== undefined && info.size !== entry.size) entry.cached = false;
      if (!entry.cached) {
        entry.size = info.size;
        entry.sha256 = info.sha256;
      }
    }
  }

  private async planFromProbes(
    entries: Map<string, Entry>,
    undiscovered: string[],
    add: (path: string, optional: boolean) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    const manifest = await this.getManifest();
    for (const onnx of undiscovered) {
      const data = await dataShards(
        onnx,
        async (path) =>
          (await this.storage.stat(this.key(path))) !== undefined ||
          (await this.probe(path, signal)) !== undefined,
      );
      manifest.dataFiles[onnx] = data;
      for (const path of data) await add(path, false);
    }
    const toProbe = [...entries.values()].filter((e) => !e.cached);
    const results = await Promise.all(toProbe.map((e) => this.probe(e.path, signal)));
    for (let i = 0; i < toProbe.length; i++) {
      const entry = toProbe[i];
      const info = results[i];
      if (info) {
        entry.size = info.size;
        entry.sha256 = info.sha256;
      } else if (entry.optional) {
        entries.delete(entry.path);
        manifest.absent.push(entry.path);
      } else {
        throw await this.missingFileError(entry.path);
      }
    }
  }

  /** HEAD request for a file: its size and sha256 when it exists, undefined on 404. */
  private async probe(path: string, signal?: AbortSignal): Promise<ExpectedFile | undefined> {
    const url = this.url(path);
    const { response, linked } = await httpRequest(this.http, url, { method: 'HEAD', signal });
    await response.body?.cancel().catch(() => {});
    if (response.status === 404 || response.status === 410) return undefined;
    if (response.status === 405 || response.status === 501) return {};
    if (!response.ok)
      throw statusError(response.status, `${path} of ${this.location}`, url, Boolean(this.http.token));
    const htmlError = htmlPageError(response, path, url);
    if (htmlError) throw htmlError;
    const size = linked.size ?? contentLength(response);
    return { size, ...(linked.sha256 ? { sha256: linked.sha256 } : {}) };
  }

  /** The data shards of `onnx` that storage holds, up to the first missing one. */
  private probeStoredDataFiles(onnx: string): Promise<string[]> {
    return dataShards(onnx, async (path) => (await this.storage.stat(this.key(path))) !== undefined);
  }

  // --- transfer -----------------------------------------------------------------------------

  private async transfer(
    entries: Entry[],
    onProgress: ((p: LoadProgress) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const total = () =>
      entries.every((e) => e.size !== undefined)
        ? entries.reduce((sum, e) => sum + (e.size ?? 0), 0)
        : undefined;
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

    const ordered = [...entries.filter((e) => e.cached), ...entries.filter((e) => !e.cached)];
    for (const entry of ordered) {
      if (entry.cached) {
        emit(entry.path, entry.size ?? 0, entry.size, true);
        done += entry.size ?? 0;
        continue;
      }
      signal?.throwIfAborted?.();
      const result = await downloadFile({
        http: this.http,
        storage: this.storage,
        key: this.key(entry.path),
        url: this.url(entry.path),
        name: `${entry.path} of ${this.location}`,
        expected: { size: entry.size, sha256: entry.sha256 },
        signal,
        onBytes: (loaded, fileTotal) => {
          entry.size ??= fileTotal;
          emit(entry.path, loaded, fileTotal, false);
        },
      }).catch((error) => {
        if (signal?.aborted && !(error instanceof SlmkitError && error.code === 'ABORTED')) {
          throw new SlmkitError('ABORTED', `Download of ${this.location} was aborted.`, { cause: error });
        }
        throw error;
      });
      entry.size = result.size;
      entry.sha256 = result.sha256 ?? entry.sha256;
      if (result.cached) emit(entry.path, result.size, result.size, true);
      done += result.size;
    }
  }

  // --- helpers ------------------------------------------------------------------------------

  private key(path: string): string {
    return storageKey(this.repo, path);
  }

  private url(path: string): string {
    const encoded = checkRepoPath(path).split('/').map(encodeURIComponent).join('/');
    if (this.repo.kind === 'url') return new URL(encoded, this.repo.baseUrl).href;
    const revision = this.manifest?.commit ?? this.repo.revision;
    return `${this.endpoint}/${this.repo.repo}/resolve/${encodeURIComponent(revision)}/${encoded}`;
  }

  private async getManifest(): Promise<SourceManifest> {
    if (!this.manifest) {
      this.manifest = await readManifest(this.storage, this.prefix);
    }
    return this.manifest;
  }

  private getListing(signal?: AbortSignal): Promise<HubListing> {
    if (this.repo.kind !== 'hub') throw new Error('unreachable: listing of a URL source');
    const repo = this.repo;
    this.listing ??= fetchHubListing(this.http, this.endpoint, repo.repo, repo.revision, signal).then(
      async (listing) => {
        const manifest = await this.getManifest();
        if (
          manifest.commit !== undefined &&
          listing.commit !== undefined &&
          manifest.commit !== listing.commit
        ) {
          // The revision moved: what was stored for the old commit is re-verified against the new list.
          manifest.files = {};
          manifest.dataFiles = {};
        }
        manifest.commit = listing.commit;
        manifest.listing = listing.files;
        manifest.absent = [];
        return listing;
      },
      (error) => {
        this.listing = undefined;
        throw error;
      },
    );
    return this.listing;
  }

  private async missingFileError(path: string, listing?: string[]): Promise<SlmkitError> {
    if (path.endsWith('.onnx')) {
      const variants = listing ? listing.filter(isOnnxVariant) : await this.listModelFiles();
      return missingVariantError(path, variants, this.location);
    }
    return new SlmkitError(
      'NOT_FOUND',
      `${this.location} has no ${path}. Check that this is a complete ONNX model repository (config.json, tokenizer.json, onnx/...).`,
    );
  }

  private missingDataError(onnx: string, data: string): SlmkitError {
    return new SlmkitError(
      'MODEL_FILE_MISSING',
      `${data} (external data of ${onnx}) is not in the cache for ${this.location}. Call fetchFiles() with ${onnx} first.`,
    );
  }

  private offlineError(missing: string[]): SlmkitError {
    return new SlmkitError(
      'OFFLINE',
      `Remote access is disabled (allowRemote: false / offline mode) and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the cache for ${this.location} (storage keys under ${this.prefix}/). Load the model once with network access, or allow remote access.`,
    );
  }
}

/**
 * The external data files of `onnx` as far as the manifest knows them: the hub listing when there
 * is one (it is authoritative), else the list probed earlier for a URL source.
 */
function knownDataFiles(manifest: SourceManifest, onnx: string): string[] | undefined {
  if (manifest.listing) return dataFilesIn(manifest.listing, onnx);
  return manifest.dataFiles[onnx];
}

/** `onnx`'s data shards (`_data`, `_data_1`, ...) for which `exists` holds, up to the first that does not. */
async function dataShards(onnx: string, exists: (path: string) => Promise<boolean>): Promise<string[]> {
  const data: string[] = [];
  for (let i = 0; ; i++) {
    const path = `${onnx}_data${i === 0 ? '' : `_${i}`}`;
    if (!(await exists(path))) return data;
    data.push(path);
  }
}

/** The external data files of `onnx` in a file list, in shard order. */
function dataFilesIn(files: Record<string, FileInfo>, onnx: string): string[] {
  const shards: { path: string; index: number }[] = [];
  for (const path of Object.keys(files)) {
    if (!path.startsWith(`${onnx}_data`)) continue;
    const rest = path.slice(onnx.length + '_data'.length);
    if (rest === '') shards.push({ path, index: 0 });
    else if (/^_\d+$/.test(rest)) shards.push({ path, index: Number(rest.slice(1)) });
  }
  return shards.sort((a, b) => a.index - b.index).map((s) => s.path);
}

function isOnnxVariant(path: string): boolean {
  return path.startsWith('onnx/') && path.endsWith('.onnx');
}

function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '' : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
