import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelSourceReader } from '@slmkit/core';
import { hashLocalModelFile } from './file-digest.js';

/** True when `source` names an existing directory. */
export function isLocalFolder(source: string): boolean {
  return existsSync(source) && statSync(source).isDirectory();
}

/** Reads a model from a local folder in the Hugging Face layout. */
export function openLocalFolder(folder: string): ModelSourceReader {
  const root = resolve(folder);
  const fileIn = (path: string) => {
    const full = join(root, path);
    return existsSync(full) && statSync(full).isFile() ? full : undefined;
  };
  return {
    location: root,
    async readText(path) {
      const full = fileIn(path);
      return full === undefined ? undefined : readFile(full, 'utf8');
    },
    async modelFile(path) {
      const full = fileIn(path);
      // onnxruntime-node reads external data (model.onnx_data, ...) from beside the file itself.
      return full === undefined ? undefined : { name: path, path: full };
    },
    async contentDigest(path) {
      const full = fileIn(path);
      return full === undefined ? undefined : hashLocalModelFile({ name: path, path: full });
    },
    async listModelFiles() {
      const dir = join(root, 'onnx');
      if (!existsSync(dir)) return [];
      return (await readdir(dir))
        .filter((f) => f.endsWith('.onnx'))
        .map((f) => `onnx/${f}`)
        .sort();
    },
  };
}
