// End to end with a real (generated) model: what fetchFiles stores, onnxruntime-node can load,
// external data included, both from a local path and from bytes.
import { openRemoteSource } from '@slmkit/core/backend';
import { createFsStorage, createNodeBackend } from '@slmkit/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureModel, ONNX_DATA_FILE, ONNX_FILE } from '../fixtures/models.js';
import { type HubServer, startHubServer } from '../helpers/hub-server.js';
import { removeTempDirs, tempDir } from './fixture.js';

let server: HubServer;

beforeAll(async () => {
  server = await startHubServer({
    repos: { 'test-org/generated': await ensureModel('tiny', { externalData: true }) },
  });
});
afterAll(() => server?.close());
afterAll(removeTempDirs);

it('stores a model onnxruntime-node loads, from a path and from bytes', async () => {
  const storage = createFsStorage(tempDir());
  const source = await openRemoteSource('test-org/generated', { storage, endpoint: server.url });
  await source.fetchFiles([{ path: 'config.json' }, { path: ONNX_FILE }]);
  // The external data file was fetched without being asked for.
  expect(server.requests.some((r) => r.file === ONNX_DATA_FILE && r.status === 200)).toBe(true);

  const backend = createNodeBackend();
  const fromPath = await backend.createSession((await source.modelFile(ONNX_FILE))!, {});
  expect(fromPath.inputNames).toContain('input_ids');
  await fromPath.release();

  const { localPath: _, ...bytesOnly } = storage;
  const bytesSource = await openRemoteSource('test-org/generated', {
    storage: bytesOnly,
    endpoint: server.url,
  });
  const file = (await bytesSource.modelFile(ONNX_FILE))!;
  expect(file.path).toBeUndefined();
  const fromBytes = await backend.createSession(file, {});
  expect(fromBytes.outputNames).toContain('logits');
  await fromBytes.release();
});
