import { createReadStream, existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type ModelStorage, SlmkitError } from '@slmkit/core';
import { type ReadableStorageWriter, splitStorageKey } from '@slmkit/core/backend';
import { acquireFileLock, type FileLock } from './lock.js';

/** A `ModelStorage` in a directory; `dir` is where its files are. */
export interface FsStorage extends ModelStorage {
  /** The storage's directory, as an absolute path. */
  readonly dir: string;
  /** The file-system path a key maps to (whether or not the file exists). */
  pathOf(key: string): string;
  /** The file-system path of a complete stored file, or undefined when absent (onnxruntime opens it directly). */
  localPath(key: string): string | undefined;
}

/**
 * A `ModelStorage` over a directory: key `a/b/c` is the file `${dir}/a/b/c`.
 *
 * Writes go to `${file}.partial` (kept after an interruption, so a download can resume) under an
 * exclusive `${file}.lock`, so concurrent writers of one key — in this process or others — take
 * turns instead of corrupting it. `commit()` fsyncs and renames the partial file into place, so a
 * file exists under its own name only when complete. A full disk (ENOSPC, EDQUOT) fails with a
 * `STORAGE_ERROR` and removes the partial file.
 */
export function createFsStorage(dir: string): FsStorage {
  const root = resolve(dir);
  const pathOf = (key: string): string => {
    return join(root, ...splitStorageKey(key));
  };

  return {
    dir: root,
    pathOf,
    async stat(key) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { size: info.size } : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw storageError(error, `read ${pathOf(key)}`);
      }
    },
    async read(key) {
      try {
        const buffer = await readFile(pathOf(key));
        return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        throw storageError(error, `read ${pathOf(key)}`);
      }
    },
    localPath(key) {
      const path = pathOf(key);
      return existsSync(path) ? path : undefined;
    },
    async openWriter(key, options) {
      const path = pathOf(key);
      try {
        await mkdir(dirname(path), { recursive: true });
      } catch (error) {
        throw storageError(error, `create ${dirname(path)}`);
      }
      const lock = await acquireFileLock(`${path}.lock`);
      try {
        return await FsWriter.open(path, lock, options?.resume ?? false);
      } catch (error) {
        await lock.release();
        throw storageError(error, `write ${path}.partial`);
      }
    },
    async delete(key) {
      const path = pathOf(key);
      for (const file of [path, `${path}.partial`]) {
        await unlink(file).catch((error) => {
          if (!isMissing(error)) throw storageError(error, `delete ${file}`);
        });
      }
    },
  };
}

class FsWriter implements ReadableStorageWriter {
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly partial: string,
    private readonly handle: FileHandle,
    private readonly lock: FileLock,
    public offset: number,
  ) {}

  static async open(path: string, lock: FileLock, resume: boolean): Promise<FsWriter> {
    const partial = `${path}.partial`;
    const handle = await open(partial, resume ? 'a' : 'w');
    const offset = resume ? (await handle.stat()).size : 0;
    return new FsWriter(path, partial, handle, lock, offset);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    try {
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await this.handle.write(chunk, written, chunk.length - written);
        written += bytesWritten;
      }
      this.offset += chunk.length;
    } catch (error) {
      await this.abort({ discard: true }).catch(() => {});
      throw storageError(error, `write ${this.partial}`);
    }
  }

  async commit(): Promise<void> {
    this.assertOpen();
    try {
      await this.handle.sync();
      const size = (await this.handle.stat()).size;
      if (size !== this.offset) {
        throw new SlmkitError(
          'STORAGE_ERROR',
          `${this.partial} has ${size} bytes where ${this.offset} were written (was it changed by another program?). It was deleted; retry.`,
        );
      }
      this.closed = true;
      await this.handle.close();
      await rename(this.partial, this.path);
      await syncDir(dirname(this.path));
    } catch (error) {
      this.closed = true;
      await this.handle.close().catch(() => {});
      await unlink(this.partial).catch(() => {});
      throw storageError(error, `write ${this.path}`);
    } finally {
      await this.lock.release();
    }
  }

  async abort(options?: { discard?: boolean }): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle.close().catch(() => {});
      if (options?.discard) await unlink(this.partial).catch(() => {});
    } finally {
      await this.lock.release();
    }
  }

  async *readPartial(): AsyncIterable<Uint8Array> {
    if (this.offset === 0) return;
    for await (const chunk of createReadStream(this.partial, { start: 0, end: this.offset - 1 })) {
      yield chunk as Buffer;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SlmkitError('STORAGE_ERROR', `The writer of ${this.path} was already closed.`);
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r').catch(() => undefined);
  await handle?.sync().catch(() => {});
  await handle?.close().catch(() => {});
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function storageError(error: unknown, action: string): SlmkitError {
  if (error instanceof SlmkitError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SlmkitError(
      'STORAGE_ERROR',
      `The disk is full: could not ${action}. The partial file was removed; free some space (or point SLMKIT_CACHE_DIR / cacheDir at another disk) and retry.`,
      { cause: error },
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new SlmkitError(
      'STORAGE_ERROR',
      `Permission denied: could not ${action}. Choose a writable cache directory (SLMKIT_CACHE_DIR or cacheDir).`,
      { cause: error },
    );
  }
  return new SlmkitError('STORAGE_ERROR', `Could not ${action}: ${(error as Error)?.message ?? error}`, {
    cause: error,
  });
}
