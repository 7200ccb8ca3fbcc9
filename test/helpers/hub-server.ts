// A local stand-in for the Hugging Face hub, for tests: serves model folders in the hub's URL
// layout on 127.0.0.1, with the headers the real hub sends and switches to inject failures.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';

/** Options of {@link startHubServer}. */
export interface HubServerOptions {
  /** Repository id (`org/name`) → folder whose files it serves. Files are read at request time. */
  repos: Record<string, string>;
  /**
   * Files of at least this many bytes are served like LFS files: `resolve` answers 302 to a
   * second server (another origin, like the hub's content host), with `X-Linked-Etag` (sha256)
   * and `X-Linked-Size` on the redirect. Default 4096.
   */
  lfsThreshold?: number;
  /** Repositories that need `Authorization: Bearer <token>` (401 without one, 403 with a wrong one). */
  tokens?: Record<string, string>;
  /** Bytes per body write (default 16 KiB), so faults can cut a body in the middle. */
  chunkSize?: number;
  /**
   * `false` serves no model-info API (`/api/models/...` answers a plain 404, like an unknown
   * route), as a mirror that serves only `resolve/` does. Default true.
   */
  serveApi?: boolean;
}

/** A failure to inject. */
export type Fault =
  /** Close the connection after this many body bytes. */
  | { kind: 'drop'; afterBytes: number }
  /** Answer with this status and a small body. */
  | { kind: 'status'; status: number }
  /** Answer 200 with an HTML page (a proxy or login page). */
  | { kind: 'html' }
  /** Serve the body `by` bytes short (with a Content-Length to match), while the hub still announces the real size. */
  | { kind: 'truncate'; by: number }
  /** Flip one byte of the body (the size stays right, the sha256 does not). */
  | { kind: 'corrupt' }
  /** Wait this long before each body chunk. */
  | { kind: 'slow'; delayMs: number }
  /** Ignore Range headers (always answer 200 with the whole file). */
  | { kind: 'ignoreRange' };

/** When a fault applies. */
export interface FaultRule {
  /** Repository path of the file (e.g. `onnx/model.onnx_data`); matches every file when omitted. */
  file?: string;
  /** Or: a pattern tested against the request's URL path (e.g. /\/api\//). */
  url?: RegExp;
  fault: Fault;
  /** How many matching requests it affects (default: all). */
  times?: number;
  /** Request methods it applies to (default GET and HEAD). */
  methods?: string[];
}

/** One request the servers received. */
export interface LoggedRequest {
  /** `hub` for the endpoint, `cdn` for the content host large files redirect to. */
  server: 'hub' | 'cdn';
  method: string;
  /** URL path and query. */
  url: string;
  /** The repository path of the requested file, for file requests. */
  file?: string;
  headers: Record<string, string>;
  status?: number;
}

/** A running hub server. */
export interface HubServer {
  /** Base URL of the hub endpoint, e.g. `http://127.0.0.1:12345` (no trailing slash). */
  url: string;
  /** Base URL of the content host. */
  cdnUrl: string;
  /** Every request so far, in order. */
  requests: LoggedRequest[];
  /** Commit sha the server reports for a repository. */
  commitOf(repo: string): string;
  /** Adds a fault rule. */
  inject(rule: FaultRule): void;
  /** Removes all fault rules and clears the request log. */
  reset(): void;
  close(): Promise<void>;
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'ETag, Content-Length, Content-Range, Accept-Ranges, X-Linked-Etag, X-Linked-Size, X-Repo-Commit, X-Error-Code, Location',
};

/** Answers a browser's CORS preflight for GET/HEAD with the given request headers allowed. */
function answerPreflight(res: ServerResponse, allowHeaders: string): ServerResponse {
  res.writeHead(204, {
    ...CORS,
    'Access-Control-Allow-Headers': allowHeaders,
    'Access-Control-Allow-Methods': 'GET, HEAD',
  });
  return res.end();
}

interface FileEntry {
  path: string;
  absolute: string;
}

/** Starts the hub and content-host servers on 127.0.0.1 (random ports). */
export async function startHubServer(options: HubServerOptions): Promise<HubServer> {
  const lfsThreshold = options.lfsThreshold ?? 4096;
  const chunkSize = options.chunkSize ?? 16 * 1024;
  const requests: LoggedRequest[] = [];
  let rules: (FaultRule & { used: number })[] = [];
  const commitOf = (repo: string) => createHash('sha1').update(`commit:${repo}`).digest('hex');

  const takeFault = (method: string, urlPath: string, file: string | undefined, kinds: Fault['kind'][]) => {
    for (const rule of rules) {
      if (!kinds.includes(rule.fault.kind)) continue;
      if (!(rule.methods ?? ['GET', 'HEAD']).includes(method)) continue;
      if (rule.file !== undefined && rule.file !== file) continue;
      if (rule.url !== undefined && !rule.url.test(urlPath)) continue;
      if (rule.file === undefined && rule.url === undefined && file === undefined) continue;
      if (rule.used >= (rule.times ?? Number.POSITIVE_INFINITY)) continue;
      rule.used++;
      return rule.fault;
    }
    return undefined;
  };

  const listFiles = (repo: string): FileEntry[] => {
    const root = options.repos[repo];
    const out: FileEntry[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const absolute = join(dir, entry.name);
        if (entry.isDirectory()) walk(absolute);
        else if (entry.isFile()) out.push({ path: relative(root, absolute).split(sep).join('/'), absolute });
      }
    };
    walk(root);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  };

  const fileOf = (repo: string, path: string): FileEntry | undefined =>
    listFiles(repo).find((f) => f.path === path);
  const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
  const gitSha1 = (data: Uint8Array) =>
    createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

  const log = (server: 'hub' | 'cdn', req: IncomingMessage, file?: string): LoggedRequest => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      headers[name] = Array.isArray(value) ? value.join(', ') : (value ?? '');
    }
    const entry: LoggedRequest = { server, method: req.method ?? 'GET', url: req.url ?? '/', file, headers };
    requests.push(entry);
    return entry;
  };

  const send = (
    res: ServerResponse,
    entry: LoggedRequest,
    status: number,
    headers: Record<string, string>,
    body?: string,
  ) => {
    entry.status = status;
    res.writeHead(status, { ...CORS, ...headers });
    res.end(body);
  };

  const authorize = (
    req: IncomingMessage,
    res: ServerResponse,
    entry: LoggedRequest,
    repo: string,
  ): boolean => {
    const token = options.tokens?.[repo];
    if (token === undefined) return true;
    const given = req.headers.authorization;
    if (given === `Bearer ${token}`) return true;
    const status = given ? 403 : 401;
    send(
      res,
      entry,
      status,
      { 'Content-Type': 'application/json', 'X-Error-Code': 'GatedRepo' },
      JSON.stringify({ error: 'Access to this repository is restricted.' }),
    );
    return false;
  };

  /** Answers 404 for an unknown repository or revision and 401/403 for a gated one; true when the request may go on. */
  const admitRepo = (
    req: IncomingMessage,
    res: ServerResponse,
    entry: LoggedRequest,
    repo: string,
    revision: string,
  ): boolean => {
    const notFound = (code: string, error: string) => {
      send(
        res,
        entry,
        404,
        { 'Content-Type': 'application/json', 'X-Error-Code': code },
        JSON.stringify({ error }),
      );
      return false;
    };
    if (!options.repos[repo]) return notFound('RepoNotFound', 'Repository not found');
    if (!authorize(req, res, entry, repo)) return false;
    if (revision !== 'main' && revision !== commitOf(repo))
      return notFound('RevisionNotFound', `Invalid rev id: ${revision}`);
    return true;
  };

  /** Serves a file body (hub for small files, content host for large ones) with Range and faults. */
  const serveBody = async (
    req: IncomingMessage,
    res: ServerResponse,
    entry: LoggedRequest,
    file: FileEntry,
    extraHeaders: Record<string, string>,
  ) => {
    const method = req.method ?? 'GET';
    const urlPath = (req.url ?? '/').split('?')[0];
    const statusFault = takeFault(method, urlPath, file.path, ['status', 'html']);
    if (statusFault?.kind === 'status') {
      return send(
        res,
        entry,
        statusFault.status,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ error: `injected ${statusFault.status}` }),
      );
    }
    if (statusFault?.kind === 'html') {
      return send(
        res,
        entry,
        200,
        { 'Content-Type': 'text/html; charset=utf-8' },
        '<!doctype html><html><body>Please log in</body></html>',
      );
    }
    let data: Uint8Array = readFileSync(file.absolute);
    const size = data.length;
    const faults: Fault[] = [];
    for (
      let f = takeFault(method, urlPath, file.path, ['drop', 'truncate', 'corrupt', 'slow', 'ignoreRange']);
      f;
    ) {
      faults.push(f);
      f = takeFault(
        method,
        urlPath,
        file.path,
        ['drop', 'truncate', 'corrupt', 'slow', 'ignoreRange'].filter(
          (k) => !faults.some((x) => x.kind === k),
        ) as Fault['kind'][],
      );
    }
    const fault = <K extends Fault['kind']>(kind: K) =>
      faults.find((f) => f.kind === kind) as Extract<Fault, { kind: K }> | undefined;
    const corrupt = fault('corrupt');
    if (corrupt && size > 0) {
      data = Uint8Array.from(data);
      data[size >> 1] ^= 0xff;
    }
    const truncate = fault('truncate');
    if (truncate) data = data.subarray(0, Math.max(0, size - truncate.by));

    let start = 0;
    let end = data.length - 1;
    let status = 200;
    const headers: Record<string, string> = {
      'Content-Type': contentType(file.path),
      'Accept-Ranges': 'bytes',
      ...extraHeaders,
    };
    const range = req.headers.range;
    if (range && !fault('ignoreRange')) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (match) {
        start = Number(match[1]);
        if (match[2]) end = Math.min(end, Number(match[2]));
        if (start >= data.length) {
          return send(res, entry, 416, { ...headers, 'Content-Range': `bytes */${data.length}` });
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${data.length}`;
      }
    }
    const body = data.subarray(start, end + 1);
    headers['Content-Length'] = String(body.length);
    entry.status = status;
    res.writeHead(status, { ...CORS, ...headers });
    if (method === 'HEAD') return res.end();
    const drop = fault('drop');
    const slow = fault('slow');
    let sent = 0;
    while (sent < body.length) {
      if (drop && sent >= drop.afterBytes) {
        // Let the bytes so far reach the client, then cut the connection mid-body (a FIN, so the
        // client keeps what arrived; a reset could make it drop bytes it had not read yet).
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        const socket = res.socket;
        socket?.end();
        setTimeout(() => socket?.destroy(), 50).unref();
        return;
      }
      if (slow) await sleep(slow.delayMs);
      let next = Math.min(body.length, sent + chunkSize);
      if (drop && next > drop.afterBytes) next = drop.afterBytes;
      const ok = res.write(body.subarray(sent, next));
      sent = next;
      if (!ok) await new Promise<void>((resolve) => res.once('drain', resolve));
      if (res.destroyed) return;
    }
    res.end();
  };

  let cdnBase = '';
  const hub = createServer((req, res) => {
    handleHub(req, res).catch((error) => {
      res.destroy(error as Error);
    });
  });
  const cdn = createServer((req, res) => {
    handleCdn(req, res).catch((error) => {
      res.destroy(error as Error);
    });
  });

  const handleHub = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'OPTIONS') return answerPreflight(res, 'Authorization, Range, Accept-Encoding');
    if (path.startsWith('/api/models/') && options.serveApi !== false) {
      const entry = log('hub', req);
      const rest = path.slice('/api/models/'.length);
      const at = rest.indexOf('/revision/');
      const repo = decodeURIComponent(at < 0 ? rest : rest.slice(0, at));
      const revision = at < 0 ? 'main' : decodeURIComponent(rest.slice(at + '/revision/'.length));
      const statusFault = takeFault(req.method ?? 'GET', path, undefined, ['status', 'html']);
      if (statusFault?.kind === 'status')
        return send(
          res,
          entry,
          statusFault.status,
          { 'Content-Type': 'application/json' },
          '{"error":"injected"}',
        );
      if (statusFault?.kind === 'html')
        return send(res, entry, 200, { 'Content-Type': 'text/html' }, '<html></html>');
      if (!admitRepo(req, res, entry, repo, revision)) return;
      const blobs = url.searchParams.get('blobs') === 'true';
      const siblings = listFiles(repo).map((file) => {
        const data = readFileSync(file.absolute);
        const sibling: Record<string, unknown> = { rfilename: file.path };
        if (blobs) {
          sibling.size = data.length;
          sibling.blobId = gitSha1(data);
          if (data.length >= lfsThreshold)
            sibling.lfs = { sha256: sha256(data), size: data.length, pointerSize: 134 };
        }
        return sibling;
      });
      const body = JSON.stringify({
        _id: commitOf(repo).slice(0, 24),
        id: repo,
        modelId: repo,
        sha: commitOf(repo),
        siblings,
      });
      return send(
        res,
        entry,
        200,
        {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': String(Buffer.byteLength(body)),
        },
        body,
      );
    }
    const at = path.indexOf('/resolve/');
    if (at < 0) {
      const entry = log('hub', req);
      return send(res, entry, 404, { 'Content-Type': 'text/plain' }, 'Not found');
    }
    const repo = decodeURIComponent(path.slice(1, at));
    const afterResolve = path.slice(at + '/resolve/'.length);
    const slash = afterResolve.indexOf('/');
    const revision = decodeURIComponent(afterResolve.slice(0, slash));
    const filePath = afterResolve
      .slice(slash + 1)
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    const entry = log('hub', req, filePath);
    if (!admitRepo(req, res, entry, repo, revision)) return;
    const file = slash < 0 ? undefined : fileOf(repo, filePath);
    if (!file) {
      return send(
        res,
        entry,
        404,
        { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' },
        '{"error":"Entry not found"}',
      );
    }
    const data = readFileSync(file.absolute);
    const commitHeaders = { 'X-Repo-Commit': commitOf(repo) };
    if (data.length >= lfsThreshold) {
      const statusFault = takeFault(req.method ?? 'GET', path, file.path, ['status']);
      if (statusFault?.kind === 'status')
        return send(
          res,
          entry,
          statusFault.status,
          { 'Content-Type': 'application/json' },
          '{"error":"injected"}',
        );
      const hash = sha256(data);
      const location = `${cdnBase}/repos/${encodeURIComponent(repo)}/${commitOf(repo)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
      return send(
        res,
        entry,
        302,
        {
          ...commitHeaders,
          Location: location,
          ETag: `"${hash}"`,
          'X-Linked-Etag': `"${hash}"`,
          'X-Linked-Size': String(data.length),
          'Content-Type': 'text/plain; charset=utf-8',
        },
        `Found. Redirecting to ${location}`,
      );
    }
    return serveBody(req, res, entry, file, { ...commitHeaders, ETag: `"${gitSha1(data)}"` });
  };

  const handleCdn = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').slice(1);
    if (req.method === 'OPTIONS') return answerPreflight(res, 'Range');
    const repo = decodeURIComponent(parts[1] ?? '');
    const filePath = parts.slice(3).map(decodeURIComponent).join('/');
    const entry = log('cdn', req, filePath);
    const file = parts[0] === 'repos' && options.repos[repo] ? fileOf(repo, filePath) : undefined;
    if (!file) return send(res, entry, 404, { 'Content-Type': 'text/plain' }, 'Not found');
    const data = readFileSync(file.absolute);
    return serveBody(req, res, entry, file, { ETag: `"${sha256(data)}"` });
  };

  const listen = (server: Server) =>
    new Promise<string>((resolve) => {
      server.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      );
    });
  const url = await listen(hub);
  cdnBase = await listen(cdn);

  return {
    url,
    cdnUrl: cdnBase,
    requests,
    commitOf,
    inject(rule) {
      rules.push({ ...rule, used: 0 });
    },
    reset() {
      rules = [];
      requests.length = 0;
    },
    async close() {
      for (const server of [hub, cdn]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

function contentType(path: string): string {
  if (path.endsWith('.json')) return 'application/json; charset=utf-8';
  if (path.endsWith('.jinja') || path.endsWith('.txt') || path.endsWith('.md'))
    return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
