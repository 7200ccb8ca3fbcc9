import type { ModelStorage } from '../spec/storage.js';

/** What is known about one file of a repository. */
export interface FileInfo {
  size?: number;
  sha256?: string;
}

/**
 * What slmkit remembers about a repository in storage (`${prefix}/.slmkit/manifest.json`), so a
 * cached load needs no request: which files were fetched (size, sha256), which optional files the
 * repository does not have, the external data files of each .onnx file, and the repository's file
 * list and commit when the hub API gave them.
 */
export interface SourceManifest {
  version: 1;
  /** Commit the revision resolved to, when known. */
  commit?: string;
  /** Every file of the repository (hub API), when known. */
  listing?: Record<string, FileInfo>;
  /** Files stored by slmkit, with what they were verified against. */
  files: Record<string, FileInfo>;
  /** Optional files the repository was found not to have. */
  absent: string[];
  /** External data files of each .onnx file, e.g. `{ 'onnx/model.onnx': ['onnx/model.onnx_data'] }`. */
  dataFiles: Record<string, string[]>;
}

/** An empty manifest. */
export function emptyManifest(): SourceManifest {
  return { version: 1, files: {}, absent: [], dataFiles: {} };
}

/** Storage key of a repository's manifest. */
export function manifestKey(prefix: string): string {
  return `${prefix}/.slmkit/manifest.json`;
}

/** Reads a manifest; an absent or unreadable one reads as empty (the cache then re-learns). */
export async function readManifest(storage: ModelStorage, prefix: string): Promise<SourceManifest> {
  const key = manifestKey(prefix);
  try {
    if (!(await storage.stat(key))) return emptyManifest();
    const parsed = JSON.parse(new TextDecoder().decode(await storage.read(key))) as Partial<SourceManifest>;
    if (parsed?.version !== 1 || typeof parsed.files !== 'object') return emptyManifest();
    return {
      version: 1,
      commit: parsed.commit,
      listing: parsed.listing,
      files: parsed.files ?? {},
      absent: Array.isArray(parsed.absent) ? parsed.absent : [],
      dataFiles: parsed.dataFiles ?? {},
    };
  } catch {
    return emptyManifest();
  }
}

/** Writes a manifest atomically (through a storage writer and commit). */
export async function writeManifest(
  storage: ModelStorage,
  prefix: string,
  manifest: SourceManifest,
): Promise<void> {
  const writer = await storage.openWriter(manifestKey(prefix));
  try {
    await writer.write(new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    await writer.commit();
  } catch (error) {
    await writer.abort({ discard: true }).catch(() => {});
    throw error;
  }
}
