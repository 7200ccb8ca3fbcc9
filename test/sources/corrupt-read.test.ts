// A storage that verifies what it serves (the browser Cache API storage does) deletes a corrupt copy
// and throws INTEGRITY_ERROR from read(); the remote source then downloads that file once more.
import { type ModelStorage, SlmkitError } from '@slmkit/core';
import { openRemoteSource } from '@slmkit/core/backend';
import { createFsStorage } from '@slmkit/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';
import { loadList, REPO_FILES, removeTempDirs, tempDir, writeRepo } from './fixture.js';

const REPO = 'test-org/tiny';
let server: HubServer;

beforeAll(async () => {
  server = await startHubServer({ repos: { [REPO]: writeRepo() } });
});
afterAll(() => server.close());
afterAll(removeTempDirs);

/** The node storage, with the first read of `corruptKey` behaving like a verifying storage that found it corrupt. */
function storageWithOneCorruptRead(corruptKeySuffix: string): ModelStorage {
  const storage = createFsStorage(tempDir());
  let corrupted = false;
  return {
    ...storage,
    async read(key) {
      if (!corrupted && key.endsWith(corruptKeySuffix)) {
        corrupted = true;
        await storage.delete(key);
        throw new SlmkitError('INTEGRITY_ERROR', `${key} was corrupt and was deleted.`);
      }
      return storage.read(key);
    },
  };
}

it('a corrupt stored file is downloaded again once, and the right bytes are served', async () => {
  const storage = storageWithOneCorruptRead('/config.json');
  const source = await openRemoteSource(REPO, { storage, endpoint: server.url });
  await source.fetchFiles(loadList('onnx/model_q4.onnx'));
  server.reset();
  const text = await source.readText('config.json');
  expect(text).toBe(new TextDecoder().decode(REPO_FILES['config.json']));
  expect(server.requests.filter((r) => r.file === 'config.json' && r.method === 'GET')).toHaveLength(1);
});

it('offline, the INTEGRITY_ERROR reaches the caller', async () => {
  const storage = storageWithOneCorruptRead('/config.json');
  const online = await openRemoteSource(REPO, { storage, endpoint: server.url });
  await online.fetchFiles(loadList('onnx/model_q4.onnx'));
  const offline = await openRemoteSource(REPO, { storage, endpoint: server.url, allowRemote: false });
  await expect(offline.readText('config.json')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
});
