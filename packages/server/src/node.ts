/**
 * `@slmkit/server/node`: serves a web-standard handler (such as `createOpenAIHandler`'s) with
 * node:http. Request and response bodies stream both ways, and a client that disconnects aborts
 * the Request's `signal`, which stops its generation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OpenAIHandler } from './handler.js';

export type { OpenAIHandler } from './handler.js';

/** A node:http request listener, for `http.createServer(listener)` or `server.on('request', listener)`. */
export type NodeRequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * A node:http request listener that answers with `handler`: each request becomes a web-standard
 * Request (its body streamed in, its `signal` aborted when the client disconnects before the
 * response has been sent), and the Response is written back as it is produced (Server-Sent Events
 * arrive event by event; a client that reads slowly slows the generation instead of piling it up).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createOpenAIHandler } from '@slmkit/server';
 * import { createNodeListener } from '@slmkit/server/node';
 *
 * createServer(createNodeListener(createOpenAIHandler({ models: { tiny: model } }))).listen(8080);
 * ```
 */
export function createNodeListener(handler: OpenAIHandler): NodeRequestListener {
  return (req, res) => {
    void respond(handler, req, res).catch((error: unknown) => res.destroy(error as Error));
  };
}

async function respond(handler: OpenAIHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const disconnected = new AbortController();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // 'close' comes after the response was sent, or first when the client went away.
  res.once('close', () => {
    if (res.writableFinished) return;
    disconnected.abort();
    void reader?.cancel().catch(() => {});
  });
  const response = await handler(toRequest(req, disconnected.signal));
  if (disconnected.signal.aborted) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.statusCode = response.status;
  for (const [name, value] of response.headers) res.setHeader(name, value);
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders();
  reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (disconnected.signal.aborted) break;
    if (!res.write(value)) await drained(res);
  }
  res.end();
}

/** Resolves once `res` can take more data, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const path = req.url ?? '/';
  let url: URL;
  try {
    url = new URL(path, `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    url = new URL(path.startsWith('/') ? path : `/${path}`, 'http://localhost');
  }
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    signal,
    ...(hasBody ? { body: bodyOf(req), duplex: 'half' } : {}),
  } as RequestInit);
}

/**
 * The request body as a web stream. Cancelling it (a handler that stops reading a body too large)
 * discards the rest of the upload instead of destroying the socket, so the response still arrives.
 */
function bodyOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on('data', (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once('end', () => {
        if (open) controller.close();
        open = false;
      });
      req.once('error', (error) => {
        if (open) controller.error(error);
        open = false;
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      open = false;
      req.resume();
    },
  });
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Port to listen on (default 8080; 0 picks a free one, see {@link NodeServer.port}). */
  port?: number;
  /** Address to listen on (default '127.0.0.1', this machine only; '0.0.0.0' for every interface). */
  hostname?: string;
}

/** A running server of {@link serve}. */
export interface NodeServer {
  /** Base URL, e.g. `http://127.0.0.1:8080` (an OpenAI client's `baseURL` is this plus `/v1`). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The node:http server. */
  readonly server: Server;
  /** Stops accepting connections; resolves once the requests in progress have been answered. */
  close(): Promise<void>;
}

/**
 * Serves `handler` with node:http until `close()`.
 *
 * @example
 * ```ts
 * import { createOpenAIHandler } from '@slmkit/server';
 * import { serve } from '@slmkit/server/node';
 *
 * const server = await serve(createOpenAIHandler({ models: { tiny: model } }), { port: 0 });
 * const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
 * // ...
 * await server.close();
 * ```
 */
export async function serve(handler: OpenAIHandler, options: ServeOptions = {}): Promise<NodeServer> {
  const server = createServer(createNodeListener(handler));
  const hostname = options.hostname ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
