import { SlmkitError } from './errors.js';

/**
 * Where downloaded model files live: a directory on node, the Cache API or OPFS in a browser.
 * Keys are `/`-separated relative paths chosen by the caller (e.g. `org/name/main/onnx/model.onnx`).
 *
 * The contract that keeps a cache honest: a key is only ever visible through {@link ModelStorage.stat}
 * and {@link ModelStorage.read} once its writer was committed, so a half-written file is never served as complete.
 */
export interface ModelStorage {
  /** Size of a complete stored file, or undefined when absent. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /**
   * The whole content of a complete file. A storage that verifies what it serves and finds a copy
   * corrupt must delete it and throw SlmkitError 'INTEGRITY_ERROR' (remote sources then download it
   * again), never return wrong bytes.
   */
  read(key: string): Promise<Uint8Array>;
  /**
   * A file-system path of a complete file, when the storage is a file system (lets a runtime
   * memory-map or stream the file instead of holding it in JS memory).
   */
  localPath?(key: string): string | undefined;
  /**
   * Opens a writer for `key`. With `resume`, bytes kept from an earlier interrupted write are
   * kept and `writer.offset` says how many there are; otherwise writing starts at 0.
   */
  openWriter(key: string, options?: { resume?: boolean }): Promise<StorageWriter>;
  /** Removes a complete file and any partial data for it. */
  delete(key: string): Promise<void>;
}

/** An in-progress write of one storage key. */
export interface StorageWriter {
  /** Bytes already written (from an earlier attempt when resuming). */
  readonly offset: number;
  /** Appends `chunk` after the bytes written so far. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file visible as complete, atomically. */
  commit(): Promise<void>;
  /** Stops writing; partial data is kept for a later resume unless `discard` is true. */
  abort(options?: { discard?: boolean }): Promise<void>;
}

/**
 * The `/`-separated parts of a storage key or repository path, or undefined when one of them is
 * empty, `.`, `..`, or holds a `\` or NUL (anything that could leave the storage's root).
 */
export function storageKeyParts(key: string): string[] | undefined {
  const parts = key.split('/');
  const bad = parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'));
  return bad ? undefined : parts;
}

/** {@link storageKeyParts} for storage implementations: throws INVALID_OPTION for an invalid key. */
export function splitStorageKey(key: string): string[] {
  const parts = storageKeyParts(key);
  if (!parts) throw new SlmkitError('INVALID_OPTION', `Invalid storage key ${JSON.stringify(key)}.`);
  return parts;
}
