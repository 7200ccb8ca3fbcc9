// Serves the web-chat example on 127.0.0.1 with the headers multi-threaded wasm needs.
//
//   npm run build                                     # builds packages/web/dist/browser
//   node examples/web-chat/serve.mjs --model <model folder> [--port 8080]
//
// Then open http://127.0.0.1:8080/ and load /models/local/ (the --model folder), any model URL,
// a hub id, or pick a model folder. Paths served:
//   /                 this folder (index.html, main.js, style.css)
//   /slmkit/          the @slmkit/web browser bundle (slmkit-web.js, worker.js, onnxruntime-web's .wasm)
//   /models/local/    the --model folder, if given
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = resolve(fileURLToPath(new URL('.', import.meta.url)));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/**
 * Starts the example server. `bundleDir` defaults to packages/web/dist/browser; `modelDir`, when
 * given, is served under /models/local/. Resolves with the server and its URL.
 */
export async function startWebChatServer({ port = 8080, host = '127.0.0.1', modelDir, bundleDir } = {}) {
  const mounts = [
    ['/slmkit/', resolve(bundleDir ?? join(here, '../../packages/web/dist/browser'))],
    ...(modelDir ? [['/models/local/', resolve(modelDir)]] : []),
    ['/', here],
  ];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const [prefix, root] = mounts.find(([p]) => path.startsWith(p));
    let file = normalize(join(root, path.slice(prefix.length)));
    const headers = {
      // Cross-origin isolation: lets onnxruntime-web use several threads.
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-cache',
    };
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403, headers).end();
      return;
    }
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (!info?.isFile() || (root === here && file.endsWith('.mjs'))) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && Number(range[1]) < info.size) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), info.size - 1) : info.size - 1;
      res.writeHead(206, {
        ...headers,
        'content-type': type,
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${info.size}`,
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': type,
      'content-length': info.size,
      'accept-ranges': 'bytes',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(port, host, ok));
  const address = server.address();
  return { server, url: `http://${host}:${address.port}` };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const { url } = await startWebChatServer({
    port: Number(option('port') ?? 8080),
    modelDir: option('model'),
  });
  console.log(`web-chat: ${url}/${option('model') ? `  (model folder at ${url}/models/local/)` : ''}`);
}
