import { accessSync, constants, existsSync, type Stats, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type ModelSourceReader, SlmkitError } from '@slmkit/core';
import { dataFilesIn } from '@slmkit/core/backend';
import { hashLocalModelFile } from './file-digest.js';

/** True when `source` names an existing directory. */
export function isLocalFolder(source: string): boolean {
  return existsSync(source) && statSync(source).isDirectory();
}

const isDenied = (code: unknown) => code === 'EACCES' || code === 'EPERM';

/**
 * The SlmkitError (MODEL_FILE_INVALID) for a file-system error reading `path` of the model folder
 * `location`: permission denied says to make it readable, anything else keeps the system's message.
 * The original error is the `cause`.
 */
function describeFileError(error: unknown, path: string, location: string): SlmkitError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  let reason: string;
  if (isDenied(code)) {
    reason = `permission denied (${code}). Make it readable by the user this process runs as (e.g. \`chmod a+r\` on the file, \`chmod a+rx\` on its folders)`;
  } else if (code === 'EISDIR') {
    reason = 'it is a directory, not a file';
  } else {
    reason = error instanceof Error ? error.message : String(error);
  }
  return new SlmkitError('MODEL_FILE_INVALID', `${path} in ${location} cannot be read: ${reason}.`, {
    cause: error,
  });
}

/** Reads a model from a local folder in the Hugging Face layout. */
export function openLocalFolder(folder: string): ModelSourceReader {
  const root = resolve(folder);
  /**
   * The error for reading `path` below the root; for a denied access, the folder's own when the
   * folder is what is unreadable.
   */
  const readError = (error: unknown, path: string): SlmkitError => {
    if (!isDenied((error as NodeJS.ErrnoException | undefined)?.code)) {
      return describeFileError(error, path, root);
    }
    try {
      accessSync(root, constants.R_OK | constants.X_OK);
    } catch (rootError) {
      if (isDenied((rootError as NodeJS.ErrnoException).code)) {
        return new SlmkitError(
          'MODEL_FILE_INVALID',
          `The model folder ${root} cannot be read: permission denied (it needs read and search permission, e.g. \`chmod a+rx ${root}\`), so ${path} cannot be opened.`,
          { cause: rootError },
        );
      }
    }
    return describeFileError(error, path, root);
  };
  /** The full path of a regular file of the folder; undefined when there is none; throws when it cannot be read. */
  const fileIn = (path: string): string | undefined => {
    const full = join(root, path);
    let stats: Stats;
    try {
      stats = statSync(full);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw readError(error, path);
    }
    if (!stats.isFile()) {
      const what = stats.isDirectory() ? 'a directory' : 'not a regular file';
      throw new SlmkitError(
        'MODEL_FILE_INVALID',
        `${path} in ${root} is ${what}, not the file it should be: remove or replace it.`,
      );
    }
    return full;
  };
  /** Throws when `full` (the file `path`) exists but cannot be read. */
  const checkReadable = (full: string, path: string) => {
    try {
      accessSync(full, constants.R_OK);
    } catch (error) {
      throw readError(error, path);
    }
  };
  return {
    location: root,
    async readText(path) {
      const full = fileIn(path);
      if (full === undefined) return undefined;
      try {
        return await readFile(full, 'utf8');
      } catch (error) {
        throw readError(error, path);
      }
    },
    async modelFile(path) {
      const full = fileIn(path);
      if (full === undefined) return undefined;
      // onnxruntime-node reads external data (model.onnx_data, ...) from beside the file itself,
      // and reports an unreadable one as "system error number 13": check them here, by name.
      checkReadable(full, path);
      const siblings = await readdir(dirname(full)).catch(() => [] as string[]);
      for (const data of dataFilesIn(siblings, basename(full))) {
        checkReadable(join(dirname(full), data), join(dirname(path), data));
      }
      return { name: path, path: full };
    },
    async contentDigest(path) {
      const full = fileIn(path);
      return full === undefined ? undefined : hashLocalModelFile({ name: path, path: full });
    },
    async listModelFiles() {
      const dir = join(root, 'onnx');
      // Only for messages: what cannot be listed is not listed.
      const entries = await readdir(dir).catch(() => [] as string[]);
      // Files only (a directory named model.onnx is not a variant), through symlinks (a hub cache's).
      const isFile = (name: string) => {
        try {
          return statSync(join(dir, name)).isFile();
        } catch {
          return false;
        }
      };
      return entries
        .filter((name) => name.endsWith('.onnx') && isFile(name))
        .map((name) => `onnx/${name}`)
        .sort();
    },
  };
}
