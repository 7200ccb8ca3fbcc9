// Browser end-to-end harness: a static server on 127.0.0.1, the @slmkit/web browser bundle built
// from the sources, and headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
// Any request to a host other than 127.0.0.1 is blocked and recorded; tests assert there were none.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, beforeAll } from 'vitest';
import { webBrowserBundle } from '../../packages/web/tsup.browser.js';
import { ensureModel } from '../fixtures/models.js';

export const CHROMIUM = process.env.SLMKIT_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
// Locally the browser suites skip without Chromium; in CI that would hide them, so fail loudly instead.
if (process.env.CI && !hasChromium) {
  throw new Error(
    `CI is set but no Chromium was found at ${CHROMIUM} (set SLMKIT_CHROMIUM or install Debian's chromium): the browser tests would be skipped.`,
  );
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** Builds the browser bundle (as `npm run build` does into packages/web/dist/browser) into a temp dir. */
export async function buildBundle(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slmkit-web-bundle-'));
  await build({ ...webBrowserBundle(dir), config: false, silent: true, sourcemap: false });
  return dir;
}

/** One request the server answered. */
export interface ServedRequest {
  method: string;
  path: string;
  status: number;
}

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every request, in order. */
  log: ServedRequest[];
  /** Requests whose path starts with `prefix`. */
  requests(prefix: string): ServedRequest[];
  close(): Promise<void>;
}

/**
 * Serves `mounts` (URL prefix → folder) and `pages` (path → HTML) on 127.0.0.1 with HEAD and Range
 * support. `isolated` adds COOP/COEP headers, making pages cross-origin isolated (multi-threaded wasm).
 */
export async function startStaticServer(options: {
  mounts: Record<string, string>;
  pages?: Record<string, string>;
  isolated?: boolean;
  /** URL prefixes the browser may keep in its HTTP cache (default: `/slmkit/`). */
  cacheable?: string[];
}): Promise<StaticServer> {
  options.cacheable ??= ['/slmkit/'];
  const log: ServedRequest[] = [];
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    // Model files are never cached by HTTP (tests count their requests); the runtime may be, which lets
    // Chromium reuse its compiled wasm code across page loads.
    const headers: Record<string, string> = {
      'cache-control': options.cacheable?.some((p) => path.startsWith(p))
        ? 'public, max-age=3600'
        : 'no-store',
    };
    if (options.isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    const send = (status: number, body?: string | Uint8Array, extra: Record<string, string> = {}) => {
      log.push({ method: req.method ?? 'GET', path, status });
      res.writeHead(status, { ...headers, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const page = options.pages?.[path];
    if (page !== undefined) return send(200, page, { 'content-type': TYPES['.html'] });
    const mount = Object.keys(options.mounts)
      .sort((a, b) => b.length - a.length)
      .find((prefix) => path.startsWith(prefix));
    if (!mount) return send(404, 'not found');
    const root = resolve(options.mounts[mount]);
    const file = normalize(join(root, path.slice(mount.length)));
    if (file !== root && !file.startsWith(root + sep)) return send(403, 'forbidden');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return send(404, 'not found');
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const data = await readFile(file);
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
      if (start >= data.length) return send(416, '', { 'content-range': `bytes */${data.length}` });
      return send(206, data.subarray(start, end + 1), {
        'content-type': type,
        'content-length': String(end - start + 1),
        'content-range': `bytes ${start}-${end}/${data.length}`,
        'accept-ranges': 'bytes',
      });
    }
    send(200, data, {
      'content-type': type,
      'content-length': String(data.length),
      'accept-ranges': 'bytes',
    });
  };
  const server: Server = createServer((req, res) => {
    handler(req, res).catch((error) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    requests: (prefix) => log.filter((r) => r.path.startsWith(prefix)),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export interface BrowserSession {
  context: BrowserContext;
  /** URLs of requests to anywhere but 127.0.0.1 (blocked). Must stay empty. */
  foreignRequests: string[];
  /** Console messages of every page and worker, for assertions and for debugging failures. */
  console: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile. `webgpu` enables its software (SwiftShader) adapter. */
export async function launchBrowser(options: { webgpu?: boolean } = {}): Promise<BrowserSession> {
  const profile = await mkdtemp(join(tmpdir(), 'slmkit-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // Nothing but 127.0.0.1 resolves, whatever the page asks for.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ];
  if (options.webgpu) args.push('--enable-unsafe-webgpu');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
  });
  const foreignRequests: string[] = [];
  const consoleLines: string[] = [];
  await context.route(
    (url) => url.hostname !== '127.0.0.1',
    (route) => {
      foreignRequests.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (/^https?:$/.test(url.protocol) && url.hostname !== '127.0.0.1') foreignRequests.push(request.url());
  });
  const watch = (page: Page) => {
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => w.on('console', (m) => consoleLines.push(`worker ${m.type()}: ${m.text()}`)));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    foreignRequests,
    console: consoleLines,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A plain ES-module page that imports the bundle served under /slmkit/ and exposes it as
 * `globalThis.slmkit` (page.evaluate functions cannot `import()`: vitest rewrites dynamic imports).
 */
export const TEST_PAGE = `<!doctype html><meta charset="utf-8"><title>slmkit test</title>
<script type="module">
  import * as slmkit from '/slmkit/slmkit-web.js';
  globalThis.slmkit = slmkit;
</script><body></body>`;

/** Opens the test page of `server` and waits until the bundle is imported. */
export async function openTestPage(session: BrowserSession, server: StaticServer): Promise<Page> {
  const page = await session.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => 'slmkit' in globalThis);
  return page;
}

/** The bundle as the test page exposes it (for use inside page.evaluate). */
export type SlmkitGlobal = typeof import('@slmkit/web');

/** Prompts compared token for token between node and the browser. */
export const PROMPTS: number[][] = [
  [1, 22557, 1526],
  [1, 415, 2936, 9060, 338],
  [1, 315, 737, 263, 1243, 29892, 306],
];
export const MAX_NEW_TOKENS = 12;

/** Greedy continuations of `prompts` (default {@link PROMPTS}) on the node backend: the reference. */
export async function nodeReference(
  modelDir: string,
  prompts: number[][] = PROMPTS,
  options: { maxNewTokens?: number; eosTokenIds?: number[] } = {},
): Promise<number[][]> {
  const { createModel } = await import('@slmkit/node');
  const model = await createModel(modelDir);
  try {
    const out: number[][] = [];
    for (const inputIds of prompts) {
      out.push(
        (await model.generate({ inputIds }, { maxNewTokens: MAX_NEW_TOKENS, ...options, temperature: 0 }))
          .tokenIds,
      );
    }
    return out;
  } finally {
    await model.dispose();
  }
}

/** What {@link useBrowserSuite} sets up. Filled in by its beforeAll: read it inside tests, not at collection. */
export interface BrowserSuite<R> {
  modelDir: string;
  browser: BrowserSession;
  /** Serves TEST_PAGE at /, the bundle at /slmkit/, the tiny model at /models/tiny/ and any extra mounts. */
  plain: StaticServer;
  /** The same, cross-origin isolated (COOP/COEP). */
  isolated: StaticServer;
  reference: R;
}

/**
 * Registers a browser suite's beforeAll/afterAll: the bundle built into a temp dir, the tiny model,
 * headless Chromium, the requested static servers (default: plain only) and the node reference
 * (default: {@link nodeReference}); afterAll closes them and removes the bundle.
 */
export function useBrowserSuite<R = number[][]>(
  options: {
    servers?: ('plain' | 'isolated')[];
    /** Extra folders to serve, by URL path; a function gives a folder made in beforeAll (e.g. a generated model). */
    mounts?: Record<string, string | (() => Promise<string>)>;
    webgpu?: boolean;
    reference?: (modelDir: string) => Promise<R>;
  } = {},
): BrowserSuite<R> {
  const suite = {} as BrowserSuite<R>;
  const reference = options.reference ?? (nodeReference as unknown as (modelDir: string) => Promise<R>);
  const servers: StaticServer[] = [];
  let bundle: string | undefined;

  beforeAll(async () => {
    suite.modelDir = await ensureModel('tiny');
    [bundle, suite.reference, suite.browser] = await Promise.all([
      buildBundle(),
      reference(suite.modelDir),
      launchBrowser({ webgpu: options.webgpu }),
    ]);
    const extra = await Promise.all(
      Object.entries(options.mounts ?? {}).map(async ([at, dir]) => [
        at,
        typeof dir === 'string' ? dir : await dir(),
      ]),
    );
    const mounts = { '/slmkit/': bundle, '/models/tiny/': suite.modelDir, ...Object.fromEntries(extra) };
    const pages = { '/': TEST_PAGE };
    await Promise.all(
      (options.servers ?? ['plain']).map(async (kind) => {
        suite[kind] = await startStaticServer({ mounts, pages, isolated: kind === 'isolated' });
        servers.push(suite[kind]);
      }),
    );
  });

  afterAll(async () => {
    await suite.browser?.close();
    await Promise.all(servers.map((server) => server.close()));
    if (bundle) await rm(bundle, { recursive: true, force: true });
  });

  return suite;
}
