// A hub mirror that serves files under resolve/ but not the model-info API
// (/api/models/<repo>/revision/<rev>): the files are resolved one by one.
import type { LoadProgress } from '@slmkit/core';
import { openRemoteSource, type RemoteSourceOptions } from '@slmkit/core/backend';
import { createFsStorage } from '@slmkit/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';
import { loadList, REPO_FILES, readBytes, rejection, removeTempDirs, tempDir, writeRepo } from './fixture.js';

const REPO = 'test-org/tiny';
const Q4_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/model_q4.onnx',
  'onnx/model_q4.onnx_data',
  'onnx/model_q4.onnx_data_1',
];

let mirror: HubServer;
let hub: HubServer;

beforeAll(async () => {
  const folder = writeRepo();
  [mirror, hub] = await Promise.all([
    startHubServer({ repos: { [REPO]: folder }, serveApi: false }),
    startHubServer({ repos: { [REPO]: folder } }),
  ]);
});
afterAll(() => Promise.all([mirror.close(), hub.close()]));
afterAll(removeTempDirs);
afterEach(() => {
  mirror.reset();
  hub.reset();
  vi.restoreAllMocks();
});

function open(repo = REPO, extra: Partial<RemoteSourceOptions> = {}, server = mirror) {
  return openRemoteSource(repo, { storage: createFsStorage(tempDir()), endpoint: server.url, ...extra });
}

const apiRequests = (server: HubServer) => server.requests.filter((r) => r.url.startsWith('/api/'));

describe('hub mirror without the model-info API', () => {
  it('resolves the files directly, verifies them, says so in a debug message, and then loads from the cache', async () => {
    const storage = createFsStorage(tempDir());
    const debug: string[] = [];
    const events: LoadProgress[] = [];
    const source = await openRemoteSource(REPO, {
      storage,
      endpoint: mirror.url,
      onDebug: (message) => debug.push(message),
    });
    await source.fetchFiles(loadList('onnx/model_q4.onnx'), { onProgress: (p) => events.push(p) });
    for (const file of Q4_FILES) {
      const path = storage.localPath(`hub/models--test-org--tiny/main/${file}`)!;
      expect(Buffer.from(readBytes(path)).equals(REPO_FILES[file]), file).toBe(true);
    }
    expect(apiRequests(mirror).map((r) => r.status)).toEqual([404]);
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatch(
      /hub:test-org\/tiny@main: .*no file list \(HTTP 404 from .*\/api\/models\/test-org\/tiny\/revision\/main.*listing was skipped/,
    );
    expect(debug[0]).toContain(`${mirror.url}/test-org/tiny/resolve/main/`);
    // Sizes came from the probes' headers, so the total was known from the first event.
    const total = Q4_FILES.reduce((sum, f) => sum + REPO_FILES[f].length, 0);
    expect(events.every((e) => e.phase === 'download' && e.total === total)).toBe(true);
    expect(await source.listModelFiles()).toEqual([
      'onnx/model.onnx',
      'onnx/model_fp16.onnx',
      'onnx/model_q4.onnx',
    ]);

    mirror.reset();
    const again = await openRemoteSource(REPO, {
      storage: createFsStorage(storage.dir),
      endpoint: mirror.url,
    });
    await again.fetchFiles(loadList('onnx/model_q4.onnx'));
    expect(mirror.requests).toEqual([]);
  });

  it('checks large files against the sha256 and size in the response headers', async () => {
    mirror.inject({ file: 'onnx/model_q4.onnx_data', fault: { kind: 'corrupt' } });
    const corrupt = await rejection((await open()).fetchFiles(loadList('onnx/model_q4.onnx')));
    expect(corrupt.code).toBe('INTEGRITY_ERROR');
    expect(corrupt.message).toContain('sha256');
    mirror.reset();
    mirror.inject({ file: 'onnx/model_fp16.onnx', fault: { kind: 'truncate', by: 10 }, methods: ['GET'] });
    const short = await rejection((await open()).fetchFiles(loadList('onnx/model_fp16.onnx')));
    expect(short.code).toBe('INTEGRITY_ERROR');
    expect(short.message).toMatch(/19990 bytes but the server announced 20000/);
  });

  it('prints nothing without onDebug', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m));
    await (await open()).fetchFiles(loadList('onnx/model.onnx'));
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('also falls back when the API answers with an HTML page', async () => {
    hub.inject({ url: /^\/api\//, fault: { kind: 'html' } });
    const debug: string[] = [];
    await (await open(REPO, { onDebug: (m) => debug.push(m) }, hub)).fetchFiles(loadList('onnx/model.onnx'));
    expect(debug[0]).toMatch(/text\/html answer that is not JSON/);
    const data = hub.requests.filter((r) => r.server === 'cdn' && r.file === 'onnx/model.onnx_data');
    // One HEAD (its size and sha256), one GET.
    expect(data.map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 200', 'GET 200']);
  });

  it('a repository or revision that is not there is NOT_FOUND (the API and the first required file 404)', async () => {
    const repo = await rejection((await open('test-org/nope')).fetchFiles(loadList('onnx/model.onnx')));
    expect(repo.code).toBe('NOT_FOUND');
    expect(repo.message).toMatch(/model repository test-org\/nope \(revision main\) was not found/);
    expect(repo.message).toContain('config.json');
    const revision = await rejection(
      (await open(REPO, { revision: 'v9' })).fetchFiles([{ path: 'config.json' }]),
    );
    expect(revision.code).toBe('NOT_FOUND');
    expect(revision.message).toContain('revision v9');
  });

  it('a missing file of a repository that is there is NOT_FOUND for that file, a missing variant lists the others', async () => {
    const file = await rejection((await open()).fetchFiles([{ path: 'config.json' }, { path: 'vocab.txt' }]));
    expect(file.code).toBe('NOT_FOUND');
    expect(file.message).toMatch(/has no vocab\.txt/);
    // Also when the files before it are already in storage.
    const source = await open();
    await source.fetchFiles(loadList('onnx/model.onnx'));
    const variant = await rejection(source.fetchFiles(loadList('onnx/model_bnb4.onnx')));
    expect(variant.code).toBe('MODEL_FILE_MISSING');
    expect(variant.message).toContain(
      'fp32 (onnx/model.onnx), fp16 (onnx/model_fp16.onnx), q4 (onnx/model_q4.onnx)',
    );
  });

  it('still fails for refused access and server errors of the API, without probing', async () => {
    hub.inject({ url: /^\/api\//, fault: { kind: 'status', status: 503 } });
    const error = await rejection((await open(REPO, {}, hub)).fetchFiles(loadList('onnx/model.onnx')));
    expect(error.code).toBe('NETWORK_ERROR');
    expect(hub.requests.filter((r) => r.file !== undefined)).toEqual([]);
  });
});
