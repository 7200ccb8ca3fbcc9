import type { SourceManifest } from './manifest.js';

/**
 * The external data files of `onnx` as far as the manifest knows them: the hub listing when there
 * is one (it is authoritative), else the list probed earlier for a URL source.
 */
export function knownDataFiles(manifest: SourceManifest, onnx: string): string[] | undefined {
  if (manifest.listing) return dataFilesIn(Object.keys(manifest.listing), onnx);
  return manifest.dataFiles[onnx];
}

/** `onnx`'s data shards (`_data`, `_data_1`, ...) for which `exists` holds, up to the first that does not. */
export async function dataShards(
  onnx: string,
  exists: (path: string) => Promise<boolean>,
): Promise<string[]> {
  const data: string[] = [];
  for (let i = 0; ; i++) {
    const path = `${onnx}_data${i === 0 ? '' : `_${i}`}`;
    if (!(await exists(path))) return data;
    data.push(path);
  }
}

/**
 * The external data files of `onnx` among `paths` (a listing, or the names in its folder): the
 * names ONNX exports give them, `model.onnx_data`, `model.onnx_data_1`, ... in shard order, or
 * `model.onnx.data`.
 */
export function dataFilesIn(paths: Iterable<string>, onnx: string): string[] {
  const shards: { path: string; index: number }[] = [];
  for (const path of paths) {
    if (path === `${onnx}.data`) shards.push({ path, index: -1 });
    if (!path.startsWith(`${onnx}_data`)) continue;
    const rest = path.slice(onnx.length + '_data'.length);
    if (rest === '') shards.push({ path, index: 0 });
    else if (/^_\d+$/.test(rest)) shards.push({ path, index: Number(rest.slice(1)) });
  }
  return shards.sort((a, b) => a.index - b.index).map((s) => s.path);
}

/** True for an .onnx file under onnx/ (a dtype variant of the model). */
export function isOnnxVariant(path: string): boolean {
  return path.startsWith('onnx/') && path.endsWith('.onnx');
}

/** The folder part of a `/` or `\\` separated path. */
export function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '' : path.slice(0, i);
}

/** The file name of a `/` or `\\` separated path. */
export function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** A signal that aborts when any of `signals` does (undefined when there is none). */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
