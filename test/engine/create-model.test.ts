import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadProgress } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';

describe('createModel from the hub', () => {
  let server: HubServer;
  let folder: string;
  const cacheDirs: string[] = [];
  const newCache = () => {
    const dir = mkdtempSync(join(tmpdir(), 'slmkit-cache-'));
    cacheDirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    folder = await ensureModel('tiny');
    const withVariant = mkdtempSync(join(tmpdir(), 'slmkit-repo-'));
    cacheDirs.push(withVariant);
    cpSync(folder, withVariant, { recursive: true });
    // A second variant: the same graph under the q4 name, so dtype picks a different file.
    cpSync(join(folder, 'onnx/model.onnx'), join(withVariant, 'onnx/model_q4.onnx'));
    server = await startHubServer({ repos: { 'test-org/tiny': withVariant } });
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('downloads once with progress, then loads from the cache without a request', async () => {
    const cacheDir = newCache();
    const events: LoadProgress[] = [];
    const options = { cacheDir, endpoint: server.url, hfHubCache: false as const, dtype: 'q4' as const };
    const model = await createModel('test-org/tiny', { ...options, onProgress: (e) => events.push(e) });
    const local = await createModel(folder);
    try {
      const remote = await model.generate('Once upon a time', { maxNewTokens: 8 });
      expect(remote.tokenIds).toEqual(
        (await local.generate('Once upon a time', { maxNewTokens: 8 })).tokenIds,
      );
    } finally {
      await model.dispose();
      await local.dispose();
    }
    const downloads = events.filter((e) => e.phase === 'download');
    expect(downloads.some((e) => e.phase === 'download' && e.file === 'onnx/model_q4.onnx')).toBe(true);
    expect(downloads.some((e) => e.phase === 'download' && e.file === 'onnx/model.onnx')).toBe(false);
    const last = downloads.at(-1);
    expect(last?.phase === 'download' && last.loaded === last.total).toBe(true);
    expect(events.slice(-2).map((e) => e.phase)).toEqual(['load', 'ready']);

    server.reset();
    const cached = await createModel('test-org/tiny', options);
    await cached.dispose();
    expect(server.requests).toEqual([]);
  });

  it('lists the variants the repo has when the dtype is missing', async () => {
    const error = await createModel('test-org/tiny', {
      cacheDir: newCache(),
      endpoint: server.url,
      hfHubCache: false,
      dtype: 'q4f16',
    }).catch((e) => e);
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toContain('q4f16');
    expect(error.message).toContain('q4 (onnx/model_q4.onnx)');
    expect(error.message).toContain('fp32 (onnx/model.onnx)');
  });

  it('offline with an empty cache says what is missing', async () => {
    const error = await createModel('test-org/tiny', {
      cacheDir: newCache(),
      endpoint: server.url,
      hfHubCache: false,
      allowRemote: false,
    }).catch((e) => e);
    expect(error.code).toBe('OFFLINE');
    expect(error.message).toContain('config.json');
  });

  it('a local folder also honours dtype and reports missing variants', async () => {
    const error = await createModel(folder, { dtype: 'fp16' }).catch((e) => e);
    expect(error.code).toBe('MODEL_FILE_MISSING');
    expect(error.message).toContain('fp32 (onnx/model.onnx)');
  });
});
