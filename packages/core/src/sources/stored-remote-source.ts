import type { ModelFile } from '../spec/backend.js';
import { isSlmkitError, SlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import { downloadFile, type ExpectedFile } from './download.js';
import { MODEL_DTYPES, missingVariantError, onnxFileForDtype } from './dtype.js';
import { contentLength, type HttpContext, htmlPageError, httpRequest, statusError } from './http.js';
import { fetchHubListing, type HubListing, type HubListingGap } from './hub-api.js';
import { checkRepoPath, type RepoLocation, storageKey, storagePrefix } from './keys.js';
import { type FileInfo, readManifest, type SourceManifest, writeManifest } from './manifest.js';
import type { LoadProgress } from './progress.js';
import type {
  FetchFileRequest,
  FetchFilesOptions,
  RemoteModelSource,
  RemoteSourceOptions,
} from './remote.js';
import {
  anySignal,
  basename,
  dataFilesIn,
  dataShards,
  dirname,
  isOnnxVariant,
  knownDataFiles,
} from './repo-files.js';

interface Entry {
  path: string;
  optional: boolean;
  cached: boolean;
  size?: number;
  sha256?: string;
}

/** A remote repository mirrored into a storage: see {@link openRemoteSource}. */
export class StoredRemoteSource implements RemoteModelSource {
  readonly location: string;
  private readonly prefix: string;
  private readonly storage: ModelStorage;
  private readonly allowRemote: boolean;
  private readonly signal?: AbortSignal;
  private readonly onDebug?: (message: string) => void;
  private manifest?: SourceManifest;
  /** The hub's file list; undefined when the endpoint has none (see {@link listingGap}). */
  private listing?: Promise<HubListing | undefined>;
  /** Why the endpoint gave no file list (a mirror without the model-info API): files are probed. */
  private listingGap?: HubListingGap;

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
    this.onDebug = options.onDebug;
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
      } else {
        const listing = this.repo.kind === 'hub' ? await this.getListing(signal) : undefined;
        if (listing) await this.planFromListing(listing, entries, undiscovered, add);
        else await this.planFromProbes(entries, undiscovered, add, signal);
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
      listing = (await this.getListing(this.signal))?.files;
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
    listing: HubListing,
    entries: Map<string, Entry>,
    undiscovered: string[],
    add: (path: string, optional: boolean) => Promise<void>,
  ): Promise<void> {
    for (const onnx of undiscovered) {
      if (listing.files[onnx])
        for (const path of dataFilesIn(Object.keys(listing.files), onnx)) await add(path, false);
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

  /**
   * Plans from a HEAD request per file (size and sha256 from the response headers where the server
   * sends them): for URL sources, and for a hub endpoint that gave no file list (a mirror).
   */
  private async planFromProbes(
    entries: Map<string, Entry>,
    undiscovered: string[],
    add: (path: string, optional: boolean) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    const manifest = await this.getManifest();
    // One HEAD per file, also for a data shard found while looking for the shards.
    const probes = new Map<string, Promise<ExpectedFile | undefined>>();
    const probe = (path: string) => {
      let result = probes.get(path);
      if (!result) {
        result = this.probe(path, signal);
        probes.set(path, result);
      }
      return result;
    };
    for (const onnx of undiscovered) {
      const data = await dataShards(
        onnx,
        async (path) =>
          (await this.storage.stat(this.key(path))) !== undefined || (await probe(path)) !== undefined,
      );
      manifest.dataFiles[onnx] = data;
      for (const path of data) await add(path, false);
    }
    const toProbe = [...entries.values()].filter((e) => !e.cached);
    const results = await Promise.all(toProbe.map((e) => probe(e.path)));
    // No file list and not even the first required file (one in storage proves the repository):
    // the repository (or the revision) is not there.
    const first = toProbe.indexOf([...entries.values()].find((e) => !e.optional) as Entry);
    if (this.listingGap && first >= 0 && !results[first]) {
      throw this.repositoryMissingError(this.listingGap, toProbe[first].path);
    }
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

  /**
   * The hub's file list for the revision (one request per source), or undefined when the endpoint
   * has none to give (a mirror that serves `resolve/` but not the API): the files are then probed.
   */
  private getListing(signal?: AbortSignal): Promise<HubListing | undefined> {
    if (this.repo.kind !== 'hub') throw new Error('unreachable: listing of a URL source');
    const repo = this.repo;
    this.listing ??= fetchHubListing(this.http, this.endpoint, repo.repo, repo.revision, signal).then(
      async (result) => {
        if ('gap' in result) {
          this.listingGap = result.gap;
          this.onDebug?.(
            `${this.location}: the endpoint gave no file list (${result.gap.reason} from ${result.gap.url}), so the listing was skipped; each file is resolved directly under ${this.endpoint}/${repo.repo}/resolve/${encodeURIComponent(this.manifest?.commit ?? repo.revision)}/, with its size and sha256 from the response headers where the server sends them.`,
          );
          return undefined;
        }
        const listing = result;
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

  /** NOT_FOUND for a hub repository whose file list and first required file were both not found. */
  private repositoryMissingError(gap: HubListingGap, path: string): SlmkitError {
    if (this.repo.kind !== 'hub') throw new Error('unreachable: repository of a URL source');
    const { repo, revision } = this.repo;
    return new SlmkitError(
      'NOT_FOUND',
      `The model repository ${repo} (revision ${revision}) was not found at ${this.endpoint}: neither its file list (${gap.reason} from ${gap.url}) nor ${path} (${this.url(path)}) is there. Check the repository id, the revision and the endpoint.`,
    );
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
