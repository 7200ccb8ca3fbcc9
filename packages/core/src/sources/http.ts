import { SlmkitError } from '../spec/errors.js';

/** How a source talks HTTP: which fetch, and which origin may see the access token. */
export interface HttpContext {
  readonly fetch: typeof fetch;
  /** Origin of the endpoint the token belongs to; the token is sent to no other origin. */
  readonly tokenOrigin: string;
  readonly token?: string;
}

/** Facts the hub puts on the first response of a `resolve` request (before any redirect). */
export interface LinkedInfo {
  /** sha256 of the file (from `X-Linked-Etag`, or an ETag that is a sha256). */
  sha256?: string;
  /** Size of the file (from `X-Linked-Size`). */
  size?: number;
}

const MAX_REDIRECTS = 10;

/**
 * Sends a request, following redirects by hand so that the headers of the first response (where
 * the hub puts the file's sha256 and size) can be read, and so that the token never leaves
 * {@link HttpContext.tokenOrigin}.
 */
export async function httpRequest(
  ctx: HttpContext,
  url: string,
  init: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal },
): Promise<{ response: Response; linked: LinkedInfo; url: string }> {
  const linked: LinkedInfo = {};
  let current = url;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...init.headers };
    if (ctx.token && new URL(current).origin === ctx.tokenOrigin)
      headers.Authorization = `Bearer ${ctx.token}`;
    let response: Response;
    try {
      response = await ctx.fetch(current, {
        method: init.method,
        headers,
        signal: init.signal,
        redirect: 'manual',
      });
    } catch (error) {
      throw networkError(error, current, init.signal);
    }
    collectLinked(response.headers, linked, hop === 0);
    if (response.type === 'opaqueredirect') {
      // Browsers hide redirect responses; let the browser follow it (it drops Authorization on
      // cross-origin redirects by itself).
      try {
        response = await ctx.fetch(current, { method: init.method, headers, signal: init.signal });
      } catch (error) {
        throw networkError(error, current, init.signal);
      }
      return { response, linked, url: response.url || current };
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) {
        throw new SlmkitError('NETWORK_ERROR', `Too many redirects while requesting ${url}.`);
      }
      current = new URL(location, current).href;
      continue;
    }
    return { response, linked, url: current };
  }
}

function collectLinked(headers: Headers, linked: LinkedInfo, first: boolean): void {
  const linkedEtag = unquoteEtag(headers.get('x-linked-etag'));
  if (linkedEtag && isSha256Hex(linkedEtag) && !linked.sha256) linked.sha256 = linkedEtag;
  const linkedSize = headers.get('x-linked-size');
  if (linkedSize && linked.size === undefined && /^\d+$/.test(linkedSize)) linked.size = Number(linkedSize);
  if (first && !linked.sha256) {
    const etag = unquoteEtag(headers.get('etag'));
    if (etag && isSha256Hex(etag)) linked.sha256 = etag;
  }
}

/** True for a lowercase hex sha256 digest (64 characters). */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/**
 * The NETWORK_ERROR for a response that is an HTML page where `name` (a file) was expected, or
 * undefined when the response is not HTML or `name` is itself an HTML file.
 */
export function htmlPageError(response: Response, name: string, url: string): SlmkitError | undefined {
  if (!/^\s*text\/html/i.test(response.headers.get('content-type') ?? '') || /\.html?$/i.test(name)) {
    return undefined;
  }
  return new SlmkitError(
    'NETWORK_ERROR',
    `The server returned an HTML page instead of ${name} (${url}). A proxy, captive portal or login page may be in the way, or the URL does not point at a model repository.`,
  );
}

/** The response's Content-Length when it is a plain decimal number. */
export function contentLength(response: Response): number | undefined {
  const length = response.headers.get('content-length');
  return length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
}

function unquoteEtag(value: string | null): string | undefined {
  if (!value) return undefined;
  return value
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
}

/** True when an error (or the signal) means the caller aborted. */
export function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return (
    signal?.aborted === true ||
    (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
  );
}

/** The SlmkitError for a thrown fetch / body-read error. */
export function networkError(error: unknown, url: string, signal?: AbortSignal): SlmkitError {
  if (error instanceof SlmkitError) return error;
  if (isAbort(error, signal)) {
    return new SlmkitError('ABORTED', `Download of ${url} was aborted.`, { cause: error });
  }
  const detail = describeCause(error);
  return new SlmkitError(
    'NETWORK_ERROR',
    `Could not download ${url}: ${detail}. Check the network connection (or set allowRemote: false to use only cached files); a retry resumes where this stopped.`,
    { cause: error },
  );
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message) return `${error.message} (${cause.message})`;
  return error.message;
}

/** True for HTTP statuses worth retrying (server overloaded or temporarily failing). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The SlmkitError for an HTTP error status. `what` names the thing requested (a file and where
 * it is); `hasToken` changes the advice for 401/403. The token itself never appears.
 */
export function statusError(status: number, what: string, url: string, hasToken: boolean): SlmkitError {
  if (status === 401 || status === 403) {
    const advice = hasToken
      ? 'The access token was refused: check that HF_TOKEN (or the `token` option) is valid, has read access to this repository, and, for a gated model, that you accepted its terms on the hub.'
      : 'The repository may be private or gated (or may not exist): pass an access token as the `token` option or set HF_TOKEN.';
    return new SlmkitError('UNAUTHORIZED', `Access to ${what} was refused (HTTP ${status}). ${advice}`);
  }
  if (status === 404) {
    return new SlmkitError(
      'NOT_FOUND',
      `${what} was not found (HTTP 404 from ${url}). Check the repository id, the revision and the file name.`,
    );
  }
  return new SlmkitError(
    'NETWORK_ERROR',
    `The server answered HTTP ${status} for ${what} (${url}).${isRetryableStatus(status) ? ' This is usually temporary: retry later.' : ''}`,
  );
}
