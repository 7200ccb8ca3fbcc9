import { SlmkitError } from '@slmkit/core';
import { type ReadableStorageWriter, splitStorageKey } from '@slmkit/core/backend';
import type { BrowserModelStorage } from './cache-storage.js';
import { storageError } from './errors.js';

/** Options of {@link createOpfsStorage}. */
export interface OpfsStorageOptions {
  /** Directory in the origin private file system (default `'slmkit-models'`). */
  directory?: string;
}

type Dir = FileSystemDirectoryHandle;
type MovableFile = FileSystemFileHandle & { move?(parent: Dir, name: string): Promise<void> };

/**
 * A `ModelStorage` in the origin private file system (`navigator.storage.getDirectory()`).
 * Suits large models better than the Cache API: files are read without a network-style response.
 *
 * Writes go to `partial/<key>` and `commit()` moves the file to `files/<key>` (where `move()` is
 * missing it is rewritten there through one atomic `createWritable()`), so a file is only ever
 * visible complete; an interrupted write is kept under `partial/` to be resumed. A full quota fails
 * with `STORAGE_ERROR` naming QuotaExceededError and the partial file is removed.
 *
 * @example
 * ```ts
 * const model = await createModel(url, { storage: createOpfsStorage() });
 * ```
 */
export function createOpfsStorage(options: OpfsStorageOptions = {}): BrowserModelStorage {
  const name = options.directory ?? 'slmkit-models';
  const root = async (): Promise<Dir> => {
    const storage = globalThis.navigator?.storage;
    if (!storage?.getDirectory) {
      throw new SlmkitError(
        'STORAGE_ERROR',
        'The origin private file system is not available here (it needs a secure context and a recent browser). Use createCacheStorage() instead.',
      );
    }
    return (await storage.getDirectory()).getDirectoryHandle(name, { create: true });
  };
  /** The directory holding a key's file, and the file's name; undefined when a directory is missing. */
  const locate = async (area: 'files' | 'partial', key: string, create: boolean) => {
    const parts = splitStorageKey(key);
    let dir = await (await root()).getDirectoryHandle(area, { create: true });
    try {
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return { dir, file: parts[parts.length - 1] };
  };
  const fileOf = async (area: 'files' | 'partial', key: string): Promise<File | undefined> => {
    const place = await locate(area, key, false);
    if (!place) return undefined;
    try {
      return await (await place.dir.getFileHandle(place.file)).getFile();
    } catch (error) {
      if (isNotFound(error) || isTypeMismatch(error)) return undefined;
      throw error;
    }
  };
  const remove = async (area: 'files' | 'partial', key: string) => {
    const place = await locate(area, key, false);
    await place?.dir.removeEntry(place.file).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
  };

  return {
    async stat(key) {
      const file = await fileOf('files', key);
      return file ? { size: file.size } : undefined;
    },

    async read(key) {
      const file = await fileOf('files', key);
      if (!file)
        throw new SlmkitError('MODEL_FILE_MISSING', `${key} is not in the origin private file system.`);
      return new Uint8Array(await file.arrayBuffer());
    },

    async openWriter(key, writerOptions) {
      const resume = writerOptions?.resume ?? false;
      if (!resume) await remove('partial', key);
      const place = (await locate('partial', key, true))!;
      const handle = (await place.dir.getFileHandle(place.file, { create: true })) as MovableFile;
      const kept = resume ? await handle.getFile() : undefined;
      let offset = kept?.size ?? 0;
      let writable: FileSystemWritableFileStream;
      try {
        writable = await handle.createWritable({ keepExistingData: offset > 0 });
        if (offset > 0) await writable.seek(offset);
      } catch (error) {
        throw storageError(error, `opening ${key} for writing in the origin private file system`);
      }
      let closed = false;
      const fail = async (error: unknown, what: string) => {
        closed = true;
        await writable.abort().catch(() => {});
        await remove('partial', key).catch(() => {});
        return storageError(error, what);
      };
      const writer: ReadableStorageWriter = {
        get offset() {
          return offset;
        },
        async write(chunk) {
          if (closed) throw new SlmkitError('STORAGE_ERROR', `The writer of ${key} was already closed.`);
          try {
            await writable.write(chunk as Uint8Array<ArrayBuffer>);
          } catch (error) {
            throw await fail(error, `writing ${key} to the origin private file system`);
          }
          offset += chunk.length;
        },
        async commit() {
          if (closed) throw new SlmkitError('STORAGE_ERROR', `The writer of ${key} was already closed.`);
          try {
            await writable.close();
            closed = true;
            const target = (await locate('files', key, true))!;
            if (typeof handle.move === 'function') {
              await target.dir.removeEntry(target.file).catch(() => {});
              await handle.move(target.dir, target.file);
            } else {
              const out = await (
                await target.dir.getFileHandle(target.file, { create: true })
              ).createWritable();
              await out.write(await handle.getFile());
              await out.close();
              await remove('partial', key);
            }
          } catch (error) {
            throw await fail(error, `storing ${key} in the origin private file system`);
          }
        },
        async abort(abortOptions) {
          if (closed) return;
          closed = true;
          if (abortOptions?.discard) {
            await writable.abort().catch(() => {});
            await remove('partial', key).catch(() => {});
          } else {
            await writable.close().catch(() => remove('partial', key).catch(() => {}));
          }
        },
        async *readPartial() {
          if (kept && kept.size > 0) yield new Uint8Array(await kept.arrayBuffer());
        },
      };
      return writer;
    },

    async delete(key) {
      await Promise.all([remove('files', key), remove('partial', key)]);
    },

    async clear() {
      const storage = globalThis.navigator?.storage;
      if (!storage?.getDirectory) return;
      await (await storage.getDirectory()).removeEntry(name, { recursive: true }).catch((error) => {
        if (!isNotFound(error)) throw error;
      });
    },
  };
}

function isNotFound(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'NotFoundError';
}

function isTypeMismatch(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'TypeMismatchError';
}
