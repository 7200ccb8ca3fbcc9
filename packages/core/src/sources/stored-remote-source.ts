import type { ModelFile } from '../spec/backend.js';
import { isSlmkitError, SlmkitError } from '../spec/errors.js';
import type { ModelStorage } from '../spec/storage.js';
import type { HttpContext } from './http.js';
import { checkRepoPath, type RepoLocation, storageKey, storagePrefix } from './keys.js';
import { type FileInfo, readManifest, type SourceManifest, writeManifest } from './manifest.js';
import type {
  FetchFileRequest,
  FetchFilesOptions,
  RemoteModelSource,
  RemoteSourceOptions,
} from './remote.js';
import { type PlannedFile, RemoteIndex } from './remote-index.js';
import { anySignal, basename, dataShards, dirname, knownDataFiles } from './repo-files.js';
import { type TransferTarget, transfer } from './transfer.js';

/** A remote repository mirrored into a storage: see {@link openRemoteSource}. */
export class StoredRemoteSource implements RemoteModelSource {
  readonly location: string;
  private readonly prefix: string;
  private readonly storage: ModelStorage;
  private readonly allowRemote: boolean;
  private readonly signal?: AbortSignal;
  private readonly index: RemoteIndex;
  private readonly target: TransferTarget;
  private manifest?: SourceManifest;

  constructor(
    private readonly repo: RepoLocation,
    endpoint: string,
    options: RemoteSourceOptions,
    http: HttpContext,
  ) {
    this.location = repo.kind === 'hub' ? `hub:${repo.repo}@${repo.revision}` : repo.baseUrl;
    this.prefix = storagePrefix(repo);
    this.storage = options.storage;
    this.allowRemote = options.allowRemote ?? true;
    this.signal = options.signal;
    this.index = new RemoteIndex(repo, endpoint, http, {
      location: this.location,
      allowRemote: this.allowRemote,
      signal: this.signal,
      onDebug: options.onDebug,
      manifest: () => this.getManifest(),
      commit: () => this.manifest?.commit,
      isStored: (path) => this.stored(path),
    });
    this.target = {
      http,
      storage: this.storage,
      location: this.location,
      key: (path) => this.key(path),
      url: (path) => this.index.url(path),
    };
  }

  async fetchFiles(files: readonly FetchFileRequest[], options: FetchFilesOptions = {}): Promise<void> {
    const signal = anySignal(this.signal, options.signal);
    const manifest = await this.getManifest();
    const entries = new Map<string, PlannedFile>();
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
        await this.index.plan(entries, undiscovered, add, signal);
      }
    }

    await transfer([...entries.values()], this.target, options.onProgress, signal);
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
    if (!(await this.stored(path))) return undefined;
    return new TextDecoder().decode(await this.readStored(path));
  }

  async modelFile(path: string): Promise<ModelFile | undefined> {
    if (!(await this.stored(path))) return undefined;
    const manifest = await this.getManifest();
    const dataFiles = knownDataFiles(manifest, path) ?? (await this.probeStoredDataFiles(path));
    const localPath = this.storage.localPath?.(this.key(path));
    if (localPath !== undefined) {
      const dir = dirname(localPath);
      const external: { path: string; data: string }[] = [];
      let beside = true;
      for (const data of dataFiles) {
        const dataPath = (await this.stored(data)) ? this.storage.localPath?.(this.key(data)) : undefined;
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
      if (!(await this.stored(data))) throw this.missingDataError(path, data);
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

  listModelFiles(): Promise<string[]> {
    return this.index.modelFiles();
  }

  /** The data shards of `onnx` that storage holds, up to the first missing one. */
  private probeStoredDataFiles(onnx: string): Promise<string[]> {
    return dataShards(onnx, (path) => this.stored(path));
  }

  // --- helpers ------------------------------------------------------------------------------

  private key(path: string): string {
    return storageKey(this.repo, path);
  }

  /** True when storage holds the file. */
  private async stored(path: string): Promise<boolean> {
    return (await this.storage.stat(this.key(path))) !== undefined;
  }

  private async getManifest(): Promise<SourceManifest> {
    if (!this.manifest) {
      this.manifest = await readManifest(this.storage, this.prefix);
    }
    return this.manifest;
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
