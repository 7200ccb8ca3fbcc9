import { type HttpContext, httpRequest, isSha256Hex, networkError, statusError } from './http.js';
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

/**
 * Why an endpoint gave no file list for a repository although it may still serve the files: a
 * mirror that serves `resolve/` but not the model-info API answers it 404 (or 405, 410, 501), or
 * with something that is not the API's JSON.
 */
export interface HubListingGap {
  /** What the endpoint answered, e.g. `HTTP 404` or `a text/html page instead of JSON`. */
  readonly reason: string;
  /** The listing URL that was asked. */
  readonly url: string;
  /** The HTTP status, when the answer was an error status. */
  readonly status?: number;
}

/** Statuses of a listing request that mean "no such API here", not "no such repository" by themselves. */
const NO_API_STATUSES = new Set([404, 405, 410, 501]);

/**
 * Fetches a hub repository's file list (with sizes and LFS sha256s) for a revision, or says why
 * the endpoint gave none ({@link HubListingGap}); the caller then resolves the files one by one.
 * Throws for what resolving the files could not get past either (401/403, 5xx, network errors).
 */
export async function fetchHubListing(
  http: HttpContext,
  endpoint: string,
  repo: string,
  revision: string,
  signal?: AbortSignal,
): Promise<HubListing | { gap: HubListingGap }> {
  const url = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const { response } = await httpRequest(http, url, {
    method: 'GET',
    headers: { Accept: 'application/json' },
    signal,
  });
  const what = `the model repository ${repo} (revision ${revision})`;
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    if (NO_API_STATUSES.has(response.status)) {
      return { gap: { reason: `HTTP ${response.status}`, url, status: response.status } };
    }
    throw statusError(response.status, what, url, Boolean(http.token));
  }
  let info: HubModelInfo;
  try {
    info = (await response.json()) as HubModelInfo;
  } catch (error) {
    if (signal?.aborted) throw networkError(error, url, signal);
    const type = response.headers.get('content-type')?.split(';')[0];
    return { gap: { reason: `${type ? `a ${type} answer` : 'an answer'} that is not JSON`, url } };
  }
  if (!Array.isArray(info?.siblings)) {
    return { gap: { reason: 'JSON without a file list (`siblings`)', url } };
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
