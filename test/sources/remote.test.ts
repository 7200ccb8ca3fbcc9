import { existsSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LoadProgress, ModelStorage } from '@slmkit/core';
import { openRemoteSource } from '@slmkit/core/backend';
import { createFsStorage } from '@slmkit/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';
import { loadList, REPO_FILES, readBytes, rejection, removeTempDirs, tempDir, writeRepo } from './fixture.js';

const REPO = 'test-org/tiny';
const GATED = 'test-org/gated';
const TOKEN = 'hf_secret_token_123';
const Q4_FILES = [
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
  const folder = writeRepo();
  server = await startHubServer({ repos: { [REPO]: folder, [GATED]: folder }, tokens: { [GATED]: TOKEN } });
});
afterAll(() => server.close());
afterAll(removeTempDirs);
afterEach(() => server.reset());

function fsStorageIn(dir = tempDir()) {
  return createFsStorage(dir);
}

async function open(
  storage: ModelStorage = fsStorageIn(),
  extra: Partial<Parameters<typeof openRemoteSource>[1]> = {},
) {
  return openRemoteSource(REPO, { storage, endpoint: server.url, ...extra });
}

/**
 * A fetch whose responses have their whole body before they are returned (as a small file often
 * does), so an abort after a file's last bytes does not cut its body short.
 */
async function bufferedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  const body = response.body ? await response.arrayBuffer() : null;
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function fileGets(file: string) {
  return server.requests.filter((r) => r.method === 'GET' && r.file === file);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function expectStored(storage: ReturnType<typeof createFsStorage>, files: string[]) {
  for (const file of files) {
    const path = storage.localPath(`hub/models--test-org--tiny/main/${file}`);
    expect(path, file).toBeDefined();
    expect(sameBytes(readBytes(path!), REPO_FILES[file]), file).toBe(true);
  }
}

describe('hub source', () => {
  it('downloads once, then loads from the cache without any request', async () => {
    const storage = fsStorageIn();
    const source = await open(storage);
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    expectStored(storage, Q4_FILES);
    // One listing request, then one GET per file (large ones redirect to the content host).
    expect(server.requests.filter((r) => r.url.startsWith('/api/'))).toHaveLength(1);
    for (const file of Q4_FILES)
      expect(
        fileGets(file).filter((r) => r.status === 200),
        file,
      ).toHaveLength(1);
    expect(server.requests.some((r) => r.file === 'chat_template.jinja')).toBe(false);

    server.reset();
    const again = await open(createFsStorage(storage.dir));
    await again.fetchFiles(loadList('onnx/model_q4.onnx'));
    expect(server.requests).toEqual([]);

    expect(await again.readText('config.json')).toBe(new TextDecoder().decode(REPO_FILES['config.json']));
    expect(await again.readText('chat_template.jinja')).toBeUndefined();
    const model = await again.modelFile('onnx/model_q4.onnx');
    expect(model?.name).toBe('onnx/model_q4.onnx');
    expect(model?.externalData).toBeUndefined();
    const dir = dirname(model!.path!);
    expect(sameBytes(readBytes(join(dir, 'model_q4.onnx_data')), REPO_FILES['onnx/model_q4.onnx_data'])).toBe(
      true,
    );
    expect(
      sameBytes(readBytes(join(dir, 'model_q4.onnx_data_1')), REPO_FILES['onnx/model_q4.onnx_data_1']),
    ).toBe(true);
    expect(await again.listModelFiles()).toEqual([
      'onnx/model.onnx',
      'onnx/model_fp16.onnx',
      'onnx/model_q4.onnx',
    ]);
    expect(server.requests).toEqual([]);
    // Nothing half-written is left behind.
    const leftovers = readdirSync(dir).filter((f) => /\.(partial|lock)$|\.link-|\.stale-/.test(f));
    expect(leftovers).toEqual([]);
  });

  it('sends the files as bytes when the storage has no local paths', async () => {
    const fsStorage = fsStorageIn();
    const { localPath: _, ...bytesOnly } = fsStorage;
    const source = await open(bytesOnly);
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    const model = await source.modelFile('onnx/model_q4.onnx');
    expect(model?.path).toBeUndefined();
    expect(sameBytes(model?.data, REPO_FILES['onnx/model_q4.onnx'])).toBe(true);
    expect(model?.externalData?.map((e) => e.path)).toEqual(['model_q4.onnx_data', 'model_q4.onnx_data_1']);
    expect(
      sameBytes(model?.externalData?.[1].data as Uint8Array, REPO_FILES['onnx/model_q4.onnx_data_1']),
    ).toBe(true);
  });

  it('reports progress that adds up to the file sizes', async () => {
    const events: LoadProgress[] = [];
    const storage = fsStorageIn();
    const source = await open(storage);
    await source.fetchFiles(loadList('onnx/model_q4.onnx'), { onProgress: (p) => events.push(p) });
    const downloads = events.filter((e) => e.phase === 'download');
    const expectedTotal = Q4_FILES.reduce((sum, f) => sum + REPO_FILES[f].length, 0);
    const lastPerFile = new Map(downloads.map((e) => [e.file, e]));
    expect([...lastPerFile.keys()].sort()).toEqual([...Q4_FILES].sort());
    for (const [file, event] of lastPerFile) {
      expect(event.fileLoaded, file).toBe(REPO_FILES[file].length);
      expect(event.fileTotal, file).toBe(REPO_FILES[file].length);
      expect(event.cached).toBe(false);
    }
    for (const e of downloads) expect(e.total).toBe(expectedTotal);
    for (let i = 1; i < downloads.length; i++)
      expect(downloads[i].loaded).toBeGreaterThanOrEqual(downloads[i - 1].loaded);
    expect(downloads.at(-1)?.loaded).toBe(expectedTotal);

    // A cached load reports each file once, as cached, with the same totals.
    const cachedEvents: LoadProgress[] = [];
    const again = await open(createFsStorage(storage.dir));
    await again.fetchFiles(loadList('onnx/model_q4.onnx'), { onProgress: (p) => cachedEvents.push(p) });
    expect(cachedEvents).toHaveLength(Q4_FILES.length);
    expect(cachedEvents.every((e) => e.phase === 'download' && e.cached && e.total === expectedTotal)).toBe(
      true,
    );
    expect(cachedEvents.at(-1)).toMatchObject({ loaded: expectedTotal });
  });

  it('resumes a dropped connection with a Range request', async () => {
    server.inject({ file: 'onnx/model.onnx_data', fault: { kind: 'drop', afterBytes: 100_000 }, times: 1 });
    const storage = fsStorageIn();
    const source = await open(storage);
    await source.fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['onnx/model.onnx', 'onnx/model.onnx_data']);
    const gets = server.requests.filter((r) => r.server === 'cdn' && r.file === 'onnx/model.onnx_data');
    expect(gets.map((r) => r.status)).toEqual([200, 206]);
    expect(gets[0].headers.range).toBeUndefined();
    // fetch may drop bytes that arrived but were not read yet when the connection broke, so the
    // resume starts at what was kept: somewhere in (0, 100 000].
    const start = Number(/^bytes=(\d+)-$/.exec(gets[1].headers.range)?.[1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThanOrEqual(100_000);
  });

  it('starts over from byte 0 when the server ignores the Range of a resume', async () => {
    const file = 'onnx/model.onnx_data';
    server.inject({ file, fault: { kind: 'drop', afterBytes: 100_000 }, times: 1 });
    server.inject({ file, fault: { kind: 'ignoreRange' } });
    const storage = fsStorageIn();
    const loaded: number[] = [];
    await (await open(storage)).fetchFiles(loadList('onnx/model.onnx'), {
      onProgress: (p) => {
        if (p.phase === 'download' && p.file === file && !p.cached) loaded.push(p.fileLoaded);
      },
    });
    expectStored(storage, ['onnx/model.onnx', file]);
    const stored = storage.pathOf(`hub/models--test-org--tiny/main/${file}`);
    expect(statSync(stored).size).toBe(REPO_FILES[file].length);
    const gets = server.requests.filter((r) => r.server === 'cdn' && r.file === file);
    // The resume asked for a Range, got the whole file (200) instead, and wrote it from byte 0.
    expect(gets.map((r) => r.status)).toEqual([200, 200]);
    expect(gets[0].headers.range).toBeUndefined();
    expect(gets[1].headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    // Had the kept bytes been resumed, the whole file appended to them would be too large (or fail
    // its sha256); progress would also end above the file's size.
    expect(loaded.at(-1)).toBe(REPO_FILES[file].length);
    expect(Math.max(...loaded)).toBe(REPO_FILES[file].length);
    expect(existsSync(`${stored}.partial`)).toBe(false);
  });

  it('keeps the partial file when retries run out, and the next call resumes it', async () => {
    server.inject({ file: 'onnx/model.onnx_data', fault: { kind: 'drop', afterBytes: 40_000 } });
    const storage = fsStorageIn();
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model.onnx')));
    expect(error.code).toBe('NETWORK_ERROR');
    expect(error.message).toMatch(/retry resumes/);
    const final = storage.pathOf('hub/models--test-org--tiny/main/onnx/model.onnx_data');
    expect(existsSync(final)).toBe(false);
    const kept = statSync(`${final}.partial`).size; // up to 4 attempts × 40 000 bytes
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(160_000);
    expect(fileGets('onnx/model.onnx_data').filter((r) => r.server === 'cdn')).toHaveLength(4);

    server.reset();
    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['onnx/model.onnx_data']);
    expect(
      fileGets('onnx/model.onnx_data')
        .filter((r) => r.server === 'cdn')
        .map((r) => r.headers.range),
    ).toEqual([`bytes=${kept}-`]);
    expect(existsSync(`${final}.partial`)).toBe(false);
  });

  it('retries a transient server error', async () => {
    server.inject({ file: 'tokenizer.json', fault: { kind: 'status', status: 503 }, times: 1 });
    const storage = fsStorageIn();
    await (await open(storage)).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['tokenizer.json']);
    expect(fileGets('tokenizer.json').map((r) => r.status)).toEqual([503, 200]);
  });

  it('rejects a file whose sha256 does not match, deletes it, and a retry works', async () => {
    server.inject({ file: 'onnx/model.onnx_data', fault: { kind: 'corrupt' } });
    const storage = fsStorageIn();
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model.onnx')));
    expect(error.code).toBe('INTEGRITY_ERROR');
    expect(error.message).toContain('sha256');
    const final = storage.pathOf('hub/models--test-org--tiny/main/onnx/model.onnx_data');
    expect(existsSync(final)).toBe(false);
    expect(existsSync(`${final}.partial`)).toBe(false);

    server.reset();
    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['onnx/model.onnx_data']);
  });

  it('rejects a file shorter than announced', async () => {
    server.inject({ file: 'onnx/model_fp16.onnx', fault: { kind: 'truncate', by: 10 } });
    const storage = fsStorageIn();
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model_fp16.onnx')));
    expect(error.code).toBe('INTEGRITY_ERROR');
    expect(error.message).toMatch(/19990 bytes but the server announced 20000/);
    expect(existsSync(storage.pathOf('hub/models--test-org--tiny/main/onnx/model_fp16.onnx.partial'))).toBe(
      false,
    );
  });

  it('rejects an HTML page served instead of a file', async () => {
    server.inject({ file: 'tokenizer.json', fault: { kind: 'html' }, times: 1 });
    const storage = fsStorageIn();
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model.onnx')));
    expect(error.code).toBe('NETWORK_ERROR');
    expect(error.message).toMatch(/HTML page instead of tokenizer\.json/);
    expect(existsSync(storage.pathOf('hub/models--test-org--tiny/main/tokenizer.json'))).toBe(false);
    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['tokenizer.json']);
  });

  it('names the variants a repository has when the dtype is missing', async () => {
    const storage = fsStorageIn();
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model_bnb4.onnx')));
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toContain('bnb4');
    expect(error.message).toContain(
      'fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx), q4 (onnx/model_q4.onnx)',
    );
    expect(server.requests.filter((r) => r.file !== undefined)).toEqual([]); // decided from the listing alone
  });

  it('reports a missing repository, revision and required file as NOT_FOUND', async () => {
    const storage = fsStorageIn();
    const repo = await rejection(
      (await openRemoteSource('test-org/nope', { storage, endpoint: server.url })).fetchFiles(
        loadList('onnx/model.onnx'),
      ),
    );
    expect(repo.code).toBe('NOT_FOUND');
    expect(repo.message).toContain('test-org/nope');
    const revision = await rejection(
      (await open(storage, { revision: 'v9' })).fetchFiles([{ path: 'config.json' }]),
    );
    expect(revision.code).toBe('NOT_FOUND');
    expect(revision.message).toContain('revision v9');
    const file = await rejection((await open(storage)).fetchFiles([{ path: 'vocab.txt' }]));
    expect(file.code).toBe('NOT_FOUND');
    expect(file.message).toContain('vocab.txt');
  });

  it('downloads pinned to the commit the revision resolved to', async () => {
    await (await open()).fetchFiles([{ path: 'config.json' }]);
    expect(fileGets('config.json')[0].url).toBe(
      `/test-org/tiny/resolve/${server.commitOf(REPO)}/config.json`,
    );
  });

  it('needs a token for a gated repository, never shows it, and sends it only to the endpoint', async () => {
    const storage = fsStorageIn();
    const missing = await rejection(
      (await openRemoteSource(GATED, { storage, endpoint: server.url })).fetchFiles(
        loadList('onnx/model.onnx'),
      ),
    );
    expect(missing.code).toBe('UNAUTHORIZED');
    expect(missing.message).toMatch(/HF_TOKEN/);

    const wrong = await rejection(
      (await openRemoteSource(GATED, { storage, endpoint: server.url, token: 'hf_wrong_token' })).fetchFiles(
        loadList('onnx/model.onnx'),
      ),
    );
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toMatch(/refused/);
    expect(`${wrong.message} ${String(wrong.stack)}`).not.toContain('hf_wrong_token');

    server.reset();
    const source = await openRemoteSource(GATED, { storage, endpoint: server.url, token: TOKEN });
    await source.fetchFiles(loadList('onnx/model.onnx'));
    expect(await source.readText('config.json')).toBeDefined();
    const hub = server.requests.filter((r) => r.server === 'hub');
    const cdn = server.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(hub.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(cdn.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('loads two sources of one repository concurrently without corrupting or downloading twice', async () => {
    server.inject({ url: /model/, fault: { kind: 'slow', delayMs: 5 } });
    const dir = tempDir();
    const [a, b] = await Promise.all([open(createFsStorage(dir)), open(createFsStorage(dir))]);
    await Promise.all([
      a.fetchFiles(loadList('onnx/model_q4.onnx')),
      b.fetchFiles(loadList('onnx/model_q4.onnx')),
    ]);
    expectStored(createFsStorage(dir), Q4_FILES);
    for (const file of Q4_FILES) {
      expect(
        fileGets(file).filter((r) => r.status === 200),
        file,
      ).toHaveLength(1);
    }
  });

  it('uses only the cache when remote access is off, and says what is missing', async () => {
    const storage = fsStorageIn();
    const error = await rejection(
      (await open(storage, { allowRemote: false })).fetchFiles(loadList('onnx/model_q4.onnx')),
    );
    expect(error.code).toBe('OFFLINE');
    expect(error.message).toContain('config.json, tokenizer.json, tokenizer_config.json, onnx/model_q4.onnx');
    expect(server.requests).toEqual([]);

    await (await open(storage)).fetchFiles(loadList('onnx/model_q4.onnx'));
    server.reset();
    const offline = await open(createFsStorage(storage.dir), { allowRemote: false });
    await offline.fetchFiles(loadList('onnx/model_q4.onnx'));
    expect((await offline.modelFile('onnx/model_q4.onnx'))?.path).toBeDefined();
    expect(await offline.listModelFiles()).toEqual([
      'onnx/model.onnx',
      'onnx/model_fp16.onnx',
      'onnx/model_q4.onnx',
    ]);
    const notCached = await rejection(offline.fetchFiles(loadList('onnx/model_fp16.onnx')));
    expect(notCached.code).toBe('OFFLINE');
    expect(notCached.message).toContain('onnx/model_fp16.onnx');
    expect(server.requests).toEqual([]);
  });

  it('does not remember the data shards found offline, so an online call fetches a missing one', async () => {
    const storage = fsStorageIn();
    const missing = 'onnx/model_q4.onnx_data_1';
    // A cache filled by hand (no manifest): every file but the second data shard.
    for (const file of Q4_FILES.filter((f) => f !== missing)) {
      const path = storage.pathOf(`hub/models--test-org--tiny/main/${file}`);
      await mkdir(dirname(path), { recursive: true });
      writeFileSync(path, REPO_FILES[file]);
    }
    await (await open(createFsStorage(storage.dir), { allowRemote: false })).fetchFiles(
      loadList('onnx/model_q4.onnx'),
    );
    expect(server.requests).toEqual([]);

    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model_q4.onnx'));
    expectStored(storage, Q4_FILES);
    expect(fileGets(missing).filter((r) => r.status === 200)).toHaveLength(1);
    for (const file of Q4_FILES.filter((f) => f !== missing)) expect(fileGets(file), file).toEqual([]);
  });

  it('reports a full disk as STORAGE_ERROR, leaves no partial file, and a retry works', async () => {
    const storage = fsStorageIn();
    const target = storage.pathOf('hub/models--test-org--tiny/main/onnx/model.onnx_data');
    await mkdir(dirname(target), { recursive: true });
    symlinkSync('/dev/full', `${target}.partial`); // every write to it fails with ENOSPC
    const error = await rejection((await open(storage)).fetchFiles(loadList('onnx/model.onnx')));
    expect(error.code).toBe('STORAGE_ERROR');
    expect(error.message).toMatch(/disk is full/);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(`${target}.partial`)).toBe(false);
    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['onnx/model.onnx_data']);
  });

  it('aborts through the signal and keeps the partial file for later', async () => {
    server.inject({ file: 'onnx/model.onnx_data', fault: { kind: 'slow', delayMs: 20 } });
    const storage = fsStorageIn();
    const controller = new AbortController();
    const source = await open(storage);
    const error = await rejection(
      source.fetchFiles(loadList('onnx/model.onnx'), {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'download' && p.file === 'onnx/model.onnx_data' && p.fileLoaded >= 64_000)
            controller.abort();
        },
      }),
    );
    expect(error.code).toBe('ABORTED');
    const partial = storage.pathOf('hub/models--test-org--tiny/main/onnx/model.onnx_data.partial');
    expect(statSync(partial).size).toBeGreaterThanOrEqual(64_000);
  });

  it('an abort between two files is ABORTED, stores nothing half-written, and the next fetch completes', async () => {
    const storage = fsStorageIn();
    const controller = new AbortController();
    const files = new Set<string>();
    const error = await rejection(
      (await open(storage, { fetch: bufferedFetch })).fetchFiles(loadList('onnx/model.onnx'), {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase !== 'download') return;
          files.add(p.file);
          if (p.fileLoaded === p.fileTotal) controller.abort();
        },
      }),
    );
    expect(error.code).toBe('ABORTED');
    // The first file was complete when the abort came: it is stored, and no other file was started.
    expect([...files]).toEqual(['config.json']);
    const folder = storage.pathOf('hub/models--test-org--tiny/main');
    const written = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(written.map((f) => f.name)).toEqual(['config.json']);
    expectStored(storage, ['config.json']);

    server.reset();
    await (await open(createFsStorage(storage.dir))).fetchFiles(loadList('onnx/model.onnx'));
    expectStored(storage, ['config.json', 'tokenizer.json', 'onnx/model.onnx', 'onnx/model.onnx_data']);
    expect(fileGets('config.json')).toEqual([]);
    expect(fileGets('onnx/model.onnx_data').filter((r) => r.status === 200)).toHaveLength(1);
  });
});

describe('http(s) URL source', () => {
  const base = () => `${server.url}/test-org/tiny/resolve/main/`;

  it('probes with HEAD, finds the data shards, and then loads from the cache without requests', async () => {
    const storage = fsStorageIn();
    const source = await openRemoteSource(base(), { storage });
    expect(source.location).toBe(base());
    await source.fetchFiles(loadList('onnx/model_q4.onnx'));
    expect(server.requests.some((r) => r.url.startsWith('/api/'))).toBe(false);
    expect(
      server.requests.filter((r) => r.method === 'HEAD' && r.file === 'onnx/model_q4.onnx_data_2'),
    ).toHaveLength(1);
    const model = await source.modelFile('onnx/model_q4.onnx');
    expect(
      sameBytes(
        readBytes(join(dirname(model!.path!), 'model_q4.onnx_data_1')),
        REPO_FILES['onnx/model_q4.onnx_data_1'],
      ),
    ).toBe(true);

    server.reset();
    await (await openRemoteSource(base(), { storage: createFsStorage(storage.dir) })).fetchFiles(
      loadList('onnx/model_q4.onnx'),
    );
    expect(server.requests).toEqual([]);
  });

  it('lists the variants when the requested one is missing', async () => {
    const error = await rejection(
      (await openRemoteSource(base(), { storage: fsStorageIn() })).fetchFiles(
        loadList('onnx/model_q4f16.onnx'),
      ),
    );
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toContain(
      'fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx), q4 (onnx/model_q4.onnx)',
    );
  });

  it('sends the token only to the endpoint origin', async () => {
    const source = await openRemoteSource(base(), {
      storage: fsStorageIn(),
      token: TOKEN,
      endpoint: 'https://huggingface.co',
    });
    await source.fetchFiles([{ path: 'config.json' }]);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('rejects sources that are neither a repo id nor a URL', async () => {
    const storage = fsStorageIn();
    for (const bad of ['', '../etc', 'a/b/c', 'org/na me', 'ftp://x/y']) {
      await expect(openRemoteSource(bad, { storage }), bad).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    }
    const source = await openRemoteSource(base(), { storage });
    await expect(source.fetchFiles([{ path: '../secret' }])).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
  });
});
