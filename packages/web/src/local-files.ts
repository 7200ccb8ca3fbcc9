import type { ModelSourceReader } from '@slmkit/core';

/** Files the user picked: a `FileList` from `<input type="file" webkitdirectory>`, or an array of `File`s. */
export type PickedFiles = FileList | readonly File[];

/** True when `value` is a list of `File`s (as picked, or passed to a worker). */
export function isPickedFiles(value: unknown): value is PickedFiles {
  if (typeof File === 'undefined') return false;
  if (typeof FileList !== 'undefined' && value instanceof FileList) return true;
  return Array.isArray(value) && value.length > 0 && value.every((f) => f instanceof File);
}

/**
 * Reads a model folder the user picked (`<input type="file" webkitdirectory>`): paths come from each
 * file's `webkitRelativePath` without the picked folder's own name, else from its name. Nothing is
 * copied into storage; the files are read when the model loads.
 *
 * @example
 * ```ts
 * input.onchange = async () => { model = await createModel(input.files!); };
 * ```
 */
export function openPickedFiles(files: PickedFiles): ModelSourceReader {
  const list = Array.from(files as ArrayLike<File>);
  const byPath = new Map<string, File>();
  for (const file of list) {
    const relative = file.webkitRelativePath || file.name;
    const parts = relative.split('/');
    byPath.set(parts.length > 1 ? parts.slice(1).join('/') : relative, file);
  }
  const root = list[0]?.webkitRelativePath?.split('/')[0] || 'picked files';
  const bytes = async (path: string) => {
    const file = byPath.get(path);
    return file ? new Uint8Array(await file.arrayBuffer()) : undefined;
  };
  return {
    location: root,
    async readText(path) {
      return byPath.get(path)?.text();
    },
    async modelFile(path) {
      const data = await bytes(path);
      if (!data) return undefined;
      const externalData: { path: string; data: Uint8Array }[] = [];
      for (let i = 0; ; i++) {
        const dataPath = `${path}_data${i === 0 ? '' : `_${i}`}`;
        const content = await bytes(dataPath);
        if (!content) break;
        externalData.push({ path: dataPath.slice(dataPath.lastIndexOf('/') + 1), data: content });
      }
      return externalData.length > 0 ? { name: path, data, externalData } : { name: path, data };
    },
    async listModelFiles() {
      return [...byPath.keys()].filter((p) => p.startsWith('onnx/') && p.endsWith('.onnx')).sort();
    },
  };
}
