// Run by node.test.ts as a separate process: downloads a repository into a cache directory.
// Usage: tsx download-worker.ts <endpoint> <repo> <cacheDir> <onnx file>
import { openRemoteSource } from '../../packages/core/src/sources/remote.js';
import { createFsStorage } from '../../packages/node/src/storage/index.js';
import { loadList } from './fixture.js';

const [endpoint, repo, cacheDir, onnx] = process.argv.slice(2);
const source = await openRemoteSource(repo, { storage: createFsStorage(cacheDir), endpoint });
await source.fetchFiles(loadList(onnx));
process.stdout.write('done\n');
