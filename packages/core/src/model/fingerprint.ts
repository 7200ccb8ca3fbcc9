import { Sha256 } from '../sources/sha256.js';
import type { ModelFile } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelSourceReader } from './model-source.js';

/** Bytes hashed from each of the evenly spaced windows of a graph file. */
const WINDOW = 64 * 1024;
const WINDOWS = 64;

/**
 * SHA-256 of a file's size and of 64 evenly spaced windows of 64 KiB of its bytes (all of it
 * when it is at most 4 MiB), read through `read(offset, length)`. It fingerprints a graph for saved
 * state without reading hundreds of megabytes in every process: another export, dtype or training
 * run differs in size or in the sampled bytes, but a change confined to bytes between the windows
 * (a few edited rows of a large weight file) is not seen — sources that know a full hash (hub
 * downloads) give it instead (`ModelSourceReader.contentDigest`).
 */
export async function sampledFileDigest(
  size: number,
  read: (offset: number, length: number) => Uint8Array | Promise<Uint8Array>,
): Promise<string> {
  const hash = new Sha256().update(new TextEncoder().encode(`${size}:`));
  if (size <= WINDOW * WINDOWS) return hash.update(await read(0, size)).hex();
  const stride = Math.floor((size - WINDOW) / (WINDOWS - 1));
  for (let i = 0; i < WINDOWS; i++) hash.update(await read(i * stride, WINDOW));
  return hash.hex();
}

/**
 * The identity of a loaded graph that saved sequences are checked against: the reader's content
 * digest when it has one (a hub download's verified sha256, a local folder's sampled digest), else
 * a sampled digest of the bytes the backend was given, else the adapter's digest of the local file.
 * Worked out at load, so bytes given in memory are held only until then; the returned function
 * gives the result (or the reason there is none) when a snapshot needs it.
 */
export function graphIdentity(
  reader: ModelSourceReader,
  path: string,
  file: ModelFile,
  hashLocalFile?: (file: ModelFile) => Promise<string>,
): () => Promise<string> {
  const parts = file.data ? [file.data, ...(file.externalData ?? []).map((d) => d.data)] : undefined;
  const bytes = parts?.every((d): d is Uint8Array => d instanceof Uint8Array) ? parts : undefined;
  // Only the path and its data files' paths, so the closure below never holds the model's bytes.
  const local =
    file.data === undefined && file.path !== undefined
      ? { name: file.name, path: file.path, externalData: file.externalData }
      : undefined;
  const identity = (async () => {
    const known = await reader.contentDigest?.(path);
    if (known !== undefined) return known;
    if (bytes) {
      const digests = await Promise.all(
        bytes.map((d) => sampledFileDigest(d.byteLength, (at, n) => d.subarray(at, at + n))),
      );
      return digests.join('+');
    }
    const hashed = local && (await hashLocalFile?.(local));
    if (hashed !== undefined) return hashed;
    throw new SlmkitError(
      'UNSUPPORTED_MODEL',
      `Sequences of ${path} in ${reader.location} cannot be saved or restored: its source gives neither a content digest nor the graph's bytes (implement ModelSourceReader.contentDigest, or pass hashLocalFile to loadModel).`,
    );
  })();
  // Reported when a snapshot needs it, not as an unhandled rejection at load.
  identity.catch(() => {});
  return () => identity;
}
