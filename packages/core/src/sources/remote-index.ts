import { SlmkitError } from '../spec/errors.js';
import type { ExpectedFile } from './download.js';
import { MODEL_DTYPES, missingVariantError, onnxFileForDtype } from './dtype.js';
import { contentLength, type HttpContext, htmlPageError, httpRequest, statusError } from './http.js';
import { fetchHubListing, type HubListing, type HubListingGap } from './hub-api.js';
import { checkRepoPath, type RepoLocation } from './keys.js';
import type { SourceManifest } from './manifest.js';
import { dataFilesIn, dataShards, isOnnxVariant } from './repo-files.js';
import type { TransferFile } from './transfer.js';

/** A file a fetch asked for (or an external data file it added), as planned. */
export interface PlannedFile extends TransferFile {
  /** A missing optional file is dropped from the plan instead of failing it. */
  optional: boolean;
}

/**
 * Adds a file to the plan, with whether storage holds it; a file planned already stays, required
 * when either request was.
 */
export type AddFile = (path: string, optional: boolean) => Promise<void>;

/** Options of {@link RemoteIndex}. */
export interface RemoteIndexOptions {
  /** How messages name the repository: `hub:org/name@revision`, or the base URL. */
  readonly location: string;
  readonly allowRemote: boolean;
  /** The source's signal: aborts the probes {@link RemoteIndex.modelFiles} makes. */
  readonly signal?: AbortSignal;
  readonly onDebug?: (message: string) => void;
  /** The repository's manifest (read from storage once); the index records what it learns in it. */
  readonly manifest: () => Promise<SourceManifest>;
  /** The commit the revision resolved to, when known: hub files are resolved at it. */
  readonly commit: () => string | undefined;
  /** True when storage holds the file. */
  readonly isStored: (path: string) => Promise<boolean>;
}

/**
 * What a remote repository has: the hub's file list (or why the endpoint gave none), HEAD
 * probes of single files, the plan of what a fetch downloads, and the errors for what is not there.
 */
export class RemoteIndex {
  private readonly location: string;
  private fetchedListing?: Promise<HubListing | { gap: HubListingGap }>;

  constructor(
    private readonly repo: RepoLocation,
    private readonly endpoint: string,
    private readonly http: HttpContext,
    private readonly options: RemoteIndexOptions,
  ) {
    this.location = options.location;
  }

  /** The URL of a file of the repository; without a path, the folder its files resolve under. */
  url(path?: string): string {
    const encoded =
      path === undefined ? '' : checkRepoPath(path).split('/').map(encodeURIComponent).join('/');
    if (this.repo.kind === 'url') return new URL(encoded, this.repo.baseUrl).href;
    const revision = this.options.commit() ?? this.repo.revision;
    return `${this.endpoint}/${this.repo.repo}/resolve/${encodeURIComponent(revision)}/${encoded}`;
  }

  /**
   * The hub's file list for the revision (one request per index, recorded in the manifest), or
   * why the endpoint has none to give (a mirror that serves `resolve/` but not the API): the files
   * are then probed one by one.
   */
  private listing(signal?: AbortSignal): Promise<HubListing | { gap: HubListingGap }> {
    if (this.repo.kind !== 'hub') throw new Error('unreachable: listing of a URL source');
    const { repo, revision } = this.repo;
    this.fetchedListing ??= fetchHubListing(this.http, this.endpoint, repo, revision, signal).then(
      async (result) => {
        if ('gap' in result) {
          this.options.onDebug?.(
            `${this.location}: the endpoint gave no file list (${result.gap.reason} from ${result.gap.url}), so the listing was skipped; each file is resolved directly under ${this.url()}, with its size and sha256 from the response headers where the server sends them.`,
          );
          return result;
        }
        const manifest = await this.options.manifest();
        if (
          manifest.commit !== undefined &&
          result.commit !== undefined &&
          manifest.commit !== result.commit
        ) {
          // The revision moved: what was stored for the old commit is re-verified against the new list.
          manifest.files = {};
          manifest.dataFiles = {};
        }
        manifest.commit = result.commit;
        manifest.listing = result.files;
        manifest.absent = [];
        return result;
      },
      (error) => {
        this.fetchedListing = undefined;
        throw error;
      },
    );
    return this.fetchedListing;
  }

  /**
   * Completes the plan of a fetch: adds the external data files of the `undiscovered` .onnx files,
   * fills in each file's size and sha256, drops missing optional files (recorded as absent in the
   * manifest), and throws for a missing required one. From the hub's file list when there is one,
   * else from a HEAD request per file.
   */
  async plan(
    entries: Map<string, PlannedFile>,
    undiscovered: readonly string[],
    add: AddFile,
    signal?: AbortSignal,
  ): Promise<void> {
    const listing = this.repo.kind === 'hub' ? await this.listing(signal) : undefined;
    if (listing && !('gap' in listing)) await this.planFromListing(listing, entries, undiscovered, add);
    else await this.planFromProbes(entries, undiscovered, add, listing?.gap, signal);
  }

  /**
   * The .onnx variants under onnx/ the repository has: from its file list when there is one, else
   * every candidate (each dtype's file, and the files the manifest knows) that storage holds or a
   * HEAD request finds.
   */
  async modelFiles(): Promise<string[]> {
    const { signal } = this.options;
    const manifest = await this.options.manifest();
    let files = manifest.listing;
    if (!files && this.options.allowRemote && this.repo.kind === 'hub') {
      const listing = await this.listing(signal);
      if (!('gap' in listing)) files = listing.files;
    }
    if (files) return Object.keys(files).filter(isOnnxVariant).sort();
    const candidates = new Set([
      ...MODEL_DTYPES.map((d) => onnxFileForDtype(d)),
      ...Object.keys(manifest.files),
    ]);
    const found: string[] = [];
    await Promise.all(
      [...candidates].filter(isOnnxVariant).map(async (path) => {
        const exists =
          (await this.options.isStored(path)) ||
          (this.options.allowRemote && (await this.probe(path, signal)) !== undefined);
        if (exists) found.push(path);
      }),
    );
    return found.sort();
  }

  private async planFromListing(
    listing: HubListing,
    entries: Map<string, PlannedFile>,
    undiscovered: readonly string[],
    add: AddFile,
  ): Promise<void> {
    const manifest = await this.options.manifest();
    for (const onnx of undiscovered) {
      if (listing.files[onnx])
        for (const path of dataFilesIn(Object.keys(listing.files), onnx)) await add(path, false);
    }
    for (const entry of [...entries.values()]) {
      const info = listing.files[entry.path];
      if (!info) {
        if (entry.optional) {
          entries.delete(entry.path);
          manifest.absent.push(entry.path);
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
   * sends them): for URL sources, and for a hub endpoint that gave no file list (`gap`: a mirror).
   */
  private async planFromProbes(
    entries: Map<string, PlannedFile>,
    undiscovered: readonly string[],
    add: AddFile,
    gap: HubListingGap | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const manifest = await this.options.manifest();
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
        async (path) => (await this.options.isStored(path)) || (await probe(path)) !== undefined,
      );
      manifest.dataFiles[onnx] = data;
      for (const path of data) await add(path, false);
    }
    const toProbe = [...entries.values()].filter((e) => !e.cached);
    const results = await Promise.all(toProbe.map((e) => probe(e.path)));
    // No file list and not even the first required file (one in storage proves the repository):
    // the repository (or the revision) is not there.
    const first = toProbe.indexOf([...entries.values()].find((e) => !e.optional) as PlannedFile);
    if (gap && first >= 0 && !results[first]) throw this.repositoryMissingError(gap, toProbe[first].path);
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
      const variants = listing ? listing.filter(isOnnxVariant) : await this.modelFiles();
      return missingVariantError(path, variants, this.location);
    }
    return new SlmkitError(
      'NOT_FOUND',
      `${this.location} has no ${path}. Check that this is a complete ONNX model repository (config.json, tokenizer.json, onnx/...).`,
    );
  }
}
