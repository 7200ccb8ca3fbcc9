import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openRemoteSource } from '@slmkit/core/backend';
import { createFsStorage, defaultCacheDir, hfHubCacheDir, nodeSourceDefaults } from '@slmkit/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';
import { loadList, REPO_FILES, readBytes, removeTempDirs, sha256, tempDir, writeRepo } from './fixture.js';

const REPO = 'test-org/tiny';
const Q4 = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/model_q4.onnx',
  'onnx/model_q4.onnx_data',
  'onnx/model_q4.onnx_data_1',
];
let server: HubServer;

beforeAll(async () => {
  server = await startHubServer({ repos: { [REPO]: writeRepo() } });
});
afterAll(() => server.close());
afterAll(removeTempDirs);
afterEach(() => server.reset());

function same(a: Uint8Array, b: Uint8Array) {
  return Buffer.from(a).equals(b);
}

/** A Hugging Face hub cache holding `files` of the repository, laid out as huggingface_hub does. */
function hfCacheWith(files: string[]): string {
  const hub = tempDir('slmkit-hf-');
  const repoDir = join(hub, 'models--test-org--tiny');
  const commit = server.commitOf(REPO);
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), commit);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  for (const file of files) {
    const blob = join(repoDir, 'blobs', sha256(REPO_FILES[file]));
    writeFileSync(blob, REPO_FILES[file]);
    const link = join(repoDir, 'snapshots', commit, file);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(blob, link);
  }
  return hub;
}

describe('Hugging Face hub cache reuse', () => {
  it('uses files from the HF cache instead of downloading them', async () => {
    const cacheDir = tempDir();
    const hub = hfCacheWith(Q4);
    const defaults = nodeSourceDefaults({ cacheDir, hfHubCache: hub, endpoint: server.url });
    const source = await openRemoteSource(REPO, defaults);
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    // Only the file list was asked for; no file was downloaded.
    expect(server.requests.map((r) => r.url)).toEqual(['/api/models/test-org/tiny/revision/main?blobs=true']);
    const model = await source.modelFile('onnx/model_q4.onnx');
    expect(model?.path?.startsWith(cacheDir)).toBe(true);
    expect(lstatSync(model!.path!).isSymbolicLink()).toBe(true);
    expect(
      same(
        readBytes(join(dirname(model!.path!), 'model_q4.onnx_data_1')),
        REPO_FILES['onnx/model_q4.onnx_data_1'],
      ),
    ).toBe(true);
  });

  it('works offline from the HF cache alone', async () => {
    const hub = hfCacheWith(Q4);
    const source = await openRemoteSource(REPO, {
      ...nodeSourceDefaults({ cacheDir: tempDir(), hfHubCache: hub, endpoint: server.url }),
      allowRemote: false,
    });
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    const model = await source.modelFile('onnx/model_q4.onnx');
    expect(
      same(
        readBytes(join(dirname(model!.path!), 'model_q4.onnx_data')),
        REPO_FILES['onnx/model_q4.onnx_data'],
      ),
    ).toBe(true);
    expect(await source.listModelFiles()).toEqual(['onnx/model_q4.onnx']);
    expect(server.requests).toEqual([]);
  });

  it('downloads only what the HF cache lacks', async () => {
    const hub = hfCacheWith(['config.json', 'tokenizer.json']);
    const source = await openRemoteSource(
      REPO,
      nodeSourceDefaults({ cacheDir: tempDir(), hfHubCache: hub, endpoint: server.url }),
    );
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    const downloaded = new Set(server.requests.filter((r) => r.file && r.status === 200).map((r) => r.file));
    expect([...downloaded].sort()).toEqual(
      Q4.filter((f) => f !== 'config.json' && f !== 'tokenizer.json').sort(),
    );
  });
});

describe('nodeSourceDefaults', () => {
  const saved = { ...process.env };
  /** The variables nodeSourceDefaults reads (XDG_CACHE_HOME only through the default cache dir). */
  const SOURCE_VARIABLES = [
    'SLMKIT_CACHE_DIR',
    'HF_ENDPOINT',
    'HF_TOKEN',
    'HF_HUB_OFFLINE',
    'HF_HOME',
    'HF_HUB_CACHE',
  ];
  afterEach(() => {
    for (const name of [...SOURCE_VARIABLES, 'XDG_CACHE_HOME']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('reads the environment, and options win over it', async () => {
    process.env.SLMKIT_CACHE_DIR = '/tmp/slmkit-env-cache';
    process.env.HF_ENDPOINT = 'https://mirror.example/';
    process.env.HF_TOKEN = 'hf_env';
    process.env.HF_HUB_OFFLINE = '1';
    const fromEnv = nodeSourceDefaults({});
    expect(fromEnv).toMatchObject({
      cacheDir: '/tmp/slmkit-env-cache',
      endpoint: 'https://mirror.example',
      token: 'hf_env',
      allowRemote: false,
    });
    const fromOptions = nodeSourceDefaults({ cacheDir: '/tmp/other', endpoint: 'http://x', token: 't' });
    expect(fromOptions).toMatchObject({ cacheDir: '/tmp/other', endpoint: 'http://x', token: 't' });
  });

  it('has documented defaults', () => {
    for (const name of SOURCE_VARIABLES) delete process.env[name];
    process.env.XDG_CACHE_HOME = '/xdg';
    expect(nodeSourceDefaults({})).toMatchObject({
      cacheDir: '/xdg/slmkit',
      endpoint: 'https://huggingface.co',
      token: undefined,
      allowRemote: true,
    });
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/slmkit');
    expect(hfHubCacheDir({ HF_HOME: '/h' })).toBe('/h/hub');
    expect(hfHubCacheDir({ HF_HOME: '/h', HF_HUB_CACHE: '/hc' })).toBe('/hc');
    expect(hfHubCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/huggingface/hub');
  });

  it('reaches the endpoint from HF_ENDPOINT', async () => {
    process.env.HF_ENDPOINT = server.url;
    const source = await openRemoteSource(
      REPO,
      nodeSourceDefaults({ cacheDir: tempDir(), hfHubCache: false }),
    );
    await source.fetchFiles([{ path: 'config.json' }]);
    expect(await source.readText('config.json')).toBe(new TextDecoder().decode(REPO_FILES['config.json']));
  });
});

describe('file-system storage', () => {
  it('commits atomically: a key is invisible until committed', async () => {
    const storage = createFsStorage(tempDir());
    const writer = await storage.openWriter('a/b.bin');
    await writer.write(new Uint8Array([1, 2, 3]));
    expect(await storage.stat('a/b.bin')).toBeUndefined();
    await writer.commit();
    expect(await storage.stat('a/b.bin')).toEqual({ size: 3 });
    expect([...(await storage.read('a/b.bin'))]).toEqual([1, 2, 3]);
    await storage.delete('a/b.bin');
    expect(await storage.stat('a/b.bin')).toBeUndefined();
  });

  it('resumes kept partial data', async () => {
    const storage = createFsStorage(tempDir());
    const first = await storage.openWriter('k');
    await first.write(new Uint8Array([1, 2]));
    await first.abort();
    const second = await storage.openWriter('k', { resume: true });
    expect(second.offset).toBe(2);
    await second.write(new Uint8Array([3]));
    await second.commit();
    expect([...(await storage.read('k'))]).toEqual([1, 2, 3]);
    const third = await storage.openWriter('k', { resume: true });
    expect(third.offset).toBe(0);
    await third.abort({ discard: true });
  });

  it('makes a second writer wait for the first', async () => {
    const storage = createFsStorage(tempDir());
    const first = await storage.openWriter('k');
    let secondOpened = false;
    const second = storage.openWriter('k').then((w) => {
      secondOpened = true;
      return w;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondOpened).toBe(false);
    await first.write(new Uint8Array([9]));
    await first.commit();
    const writer = await second;
    expect(await storage.stat('k')).toEqual({ size: 1 });
    await writer.abort();
  });

  it('takes over a lock left by a dead process or untouched for too long', async () => {
    const storage = createFsStorage(tempDir());
    const lockOf = (key: string) => `${storage.pathOf(key)}.lock`;
    mkdirSync(storage.dir, { recursive: true });
    writeFileSync(lockOf('dead'), JSON.stringify({ id: 'x', pid: 2 ** 22 + 12345, host: hostname() }));
    writeFileSync(lockOf('old'), JSON.stringify({ id: 'y', pid: 1, host: 'another-host' }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockOf('old'), old, old);
    const started = Date.now();
    const a = await storage.openWriter('dead');
    const b = await storage.openWriter('old');
    expect(Date.now() - started).toBeLessThan(2_000);
    await a.abort();
    await b.abort();
    expect(() => readFileSync(lockOf('dead'))).toThrow();
  });
});

describe('concurrent processes', () => {
  it('two processes downloading one repository into one cache do not corrupt it', async () => {
    server.inject({ url: /model_q4/, fault: { kind: 'slow', delayMs: 10 } });
    const cacheDir = tempDir();
    const worker = fileURLToPath(new URL('./download-worker.ts', import.meta.url));
    const run = () =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', worker, server.url, REPO, cacheDir, 'onnx/model_q4.onnx'],
        {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
        },
      );
    const results = await Promise.all([run(), run()]);
    expect(results.map((r) => r.stdout)).toEqual(['done\n', 'done\n']);
    const storage = createFsStorage(cacheDir);
    for (const file of Q4) {
      const path = storage.localPath(`hub/models--test-org--tiny/main/${file}`);
      expect(same(readBytes(path!), REPO_FILES[file]), file).toBe(true);
      expect(
        server.requests.filter((r) => r.file === file && r.status === 200),
        file,
      ).toHaveLength(1);
    }
  });
});
