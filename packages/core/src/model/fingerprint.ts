import { Sha256 } from '../sources/sha256.js';
import type { ModelFile } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import type { ModelSourceReader } from './model-source.js';

/** Bytes hashed from each of the evenly spaced windows of a graph held in memory. */
const WINDOW = 64 * 1024;
const WINDOWS = 64;

/** SHA-256 of the size and {@link WINDOWS} evenly spaced windows of `data`: cheap, and any other file differs. */
function sampledDigest(data: Uint8Array): string {
  const hash = new Sha256().update(new TextEncoder().encode(`${data.byteLength}:`));
  if (data.byteLength <= WINDOW * WINDOWS) return hash.update(data).hex();
  const stride = Math.floor((data.byteLength - WINDOW) / (WINDOWS - 1));
  for (let i = 0; i < WINDOWS; i++) hash.update(data.subarray(i * stride, i * stride + WINDOW));
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
  const sampled = inMemory?.every((d): d is Uint8Array => d instanceof Uint8Array)
    ? inMemory.map(sampledDigest).join('+')
    : undefined;
  let identity: Promise<string> | undefined;
  return () => {
    identity ??= (async () => {
      const digest =
        (await reader.contentDigest?.(path)) ??
        sampled ??
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
