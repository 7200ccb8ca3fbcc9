import { Sha256 } from '../sources/sha256.js';
import type { ModelFile } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelSourceReader } from './model-source.js';

/** Bytes hashed from each of the evenly spaced windows of a graph file. */
const WINDOW = 64 * 1024;
const WINDOWS = 64;

/**
 * SHA-256 of a file's size and of 64 evenly spaced windows of 64 KiB of its bytes (all of it
 * when it is small), read through `read(offset, length)`: 4 MiB whatever the file's size, and any
 * other weights (a retrained or requantised model) differ in it. It fingerprints a graph for saved
 * state without reading hundreds of megabytes in every process.
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
 * The identity of a loaded graph that saved sequences are checked against, computed at most once:
 * the reader's content digest when it has one (a hub download's verified sha256, a local file's
 * hash), else a digest of the bytes the backend was given (computed now, so the bytes need not be
 * kept), else the adapter's hash of the local file. Returns a function that resolves it when first needed.
 */
export function graphIdentity(
  reader: ModelSourceReader,
  path: string,
  file: ModelFile,
  hashLocalFile?: (file: ModelFile) => Promise<string>,
): () => Promise<string> {
  const inMemory = file.data ? [file.data, ...(file.externalData ?? []).map((d) => d.data)] : undefined;
  // Started now, so the bytes need not be kept (the windows are copied by the hash as it reads them).
  const sampled = inMemory?.every((d): d is Uint8Array => d instanceof Uint8Array)
    ? Promise.all(
        inMemory.map((d) => sampledFileDigest(d.byteLength, (at, n) => d.subarray(at, at + n))),
      ).then((digests) => digests.join('+'))
    : undefined;
  let identity: Promise<string> | undefined;
  return () => {
    identity ??= (async () => {
      const digest =
        (await reader.contentDigest?.(path)) ??
        (await sampled) ??
        (file.path !== undefined ? await hashLocalFile?.(file) : undefined);
      if (digest === undefined) {
        throw new SlmkitError(
          'UNSUPPORTED_MODEL',
          `Sequences of ${path} in ${reader.location} cannot be saved or restored: its source gives neither a content digest nor the graph's bytes (implement ModelSourceReader.contentDigest, or pass hashLocalFile to loadModel).`,
        );
      }
      return digest;
    })();
    return identity;
  };
}
