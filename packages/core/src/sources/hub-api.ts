import { SlmkitError } from '../spec/errors.js';
import { type HttpContext, httpRequest, isSha256Hex, statusError } from './http.js';
import type { FileInfo } from './manifest.js';

/** A repository's files at one commit, from `GET {endpoint}/api/models/{repo}/revision/{revision}`. */
export interface HubListing {
  commit?: string;
  files: Record<string, FileInfo>;
}

interface HubModelInfo {
  sha?: string;
  siblings?: { rfilename?: string; size?: number; lfs?: { sha256?: string; size?: number } }[];
}

/** Fetches a hub repository's file list (with sizes and LFS sha256s) for a revision. */
export async function fetchHubListing(
  http: HttpContext,
  endpoint: string,
  repo: string,
  revision: string,
  signal?: AbortSignal,
): Promise<HubListing> {
  const url = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const { response } = await httpRequest(http, url, {
    method: 'GET',
    headers: { Accept: 'application/json' },
    signal,
  });
  const what = `the model repository ${repo} (revision ${revision})`;
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw statusError(response.status, what, url, Boolean(http.token));
  }
  let info: HubModelInfo;
  try {
    info = (await response.json()) as HubModelInfo;
  } catch (error) {
    throw new SlmkitError(
      'NETWORK_ERROR',
      `${endpoint} did not answer with JSON for ${what} (${url}). Check that the endpoint is a Hugging Face hub or mirror.`,
      { cause: error },
    );
  }
  if (!Array.isArray(info?.siblings)) {
    throw new SlmkitError('NETWORK_ERROR', `${endpoint} returned no file list for ${what} (${url}).`);
  }
  const files: Record<string, FileInfo> = {};
  for (const sibling of info.siblings) {
    if (typeof sibling?.rfilename !== 'string') continue;
    const sha256 = sibling.lfs?.sha256;
    files[sibling.rfilename] = {
      size: sibling.lfs?.size ?? sibling.size,
      ...(typeof sha256 === 'string' && isSha256Hex(sha256) ? { sha256 } : {}),
    };
  }
  return { commit: typeof info.sha === 'string' ? info.sha : undefined, files };
}
