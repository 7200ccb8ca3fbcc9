import { SlmkitError } from '../spec/errors.js';
import { storageKeyParts } from '../spec/storage.js';

/**
 * Where a remote repository's files live inside a {@link ModelStorage}. Keys are
 * `${prefix}/${path}`:
 *
 * - hub repo `org/name` at revision `rev`: `hub/models--org--name/${encodeURIComponent(rev)}`
 *   (the repository folder is named as in the Hugging Face hub cache);
 * - http(s) base URL: `url/${host}[_${port}]/${path segments of the URL}`.
 */
export type RepoLocation = { kind: 'hub'; repo: string; revision: string } | { kind: 'url'; baseUrl: string };

const HUB_PREFIX = 'hub/';

/** The storage key prefix (no trailing slash) of a repository. */
export function storagePrefix(location: RepoLocation): string {
  if (location.kind === 'hub') {
    return `hub/models--${location.repo.replace('/', '--')}/${encodeURIComponent(location.revision)}`;
  }
  const url = new URL(location.baseUrl);
  const host = url.port ? `${url.hostname}_${url.port}` : url.hostname;
  const segments = url.pathname.split('/').filter((s) => s !== '');
  return ['url', host, ...segments.map(sanitizeSegment)].join('/');
}

/** The storage key of a file of a repository. Rejects paths that would escape the repository. */
export function storageKey(location: RepoLocation, path: string): string {
  return `${storagePrefix(location)}/${checkRepoPath(path)}`;
}

/**
 * Reads a hub storage key back (used by @slmkit/node to find the same file in a Hugging Face hub
 * cache). Returns undefined for keys that are not hub keys.
 */
export function parseHubStorageKey(
  key: string,
): { repoFolder: string; repo: string; revision: string; path: string } | undefined {
  if (!key.startsWith(HUB_PREFIX)) return undefined;
  const parts = key.slice(HUB_PREFIX.length).split('/');
  if (parts.length < 3 || !parts[0].startsWith('models--')) return undefined;
  const repoFolder = parts[0];
  let revision: string;
  try {
    revision = decodeURIComponent(parts[1]);
  } catch {
    return undefined;
  }
  return {
    repoFolder,
    repo: repoFolder.slice('models--'.length).replace('--', '/'),
    revision,
    path: parts.slice(2).join('/'),
  };
}

/** Validates a `/`-separated path inside a repository (no `..`, no empty or absolute parts). */
export function checkRepoPath(path: string): string {
  if (storageKeyParts(path) === undefined) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Invalid file path ${JSON.stringify(path)}: use a relative path inside the repository, e.g. onnx/model.onnx.`,
    );
  }
  return path;
}

function sanitizeSegment(segment: string): string {
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {}
  const safe = decoded.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '.' || safe === '..' ? '_' : safe;
}
