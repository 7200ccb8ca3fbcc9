// Downloads a model into the slmkit cache with a progress bar.
//
//   npx tsx examples/node-download.ts onnx-community/SmolLM2-135M-Instruct q4
//   npx tsx examples/node-download.ts http://127.0.0.1:8080/my-model/ fp32
//
// The first argument is a hub repository id or an http(s) base URL; the second a dtype (default
// q4). The cache is SLMKIT_CACHE_DIR (default ~/.cache/slmkit); HF_ENDPOINT and HF_TOKEN are used
// for hub repositories, and files already in the Hugging Face cache are reused.

import { openRemoteSource } from '@slmkit/core/backend';
import { type LoadProgress, nodeSourceDefaults, SlmkitError } from '@slmkit/node';
import { isModelDtype, onnxFileForDtype } from '../packages/core/src/sources/dtype.js';

const [source, dtype = 'q4'] = process.argv.slice(2);
if (!source || !isModelDtype(dtype)) {
  console.error(
    'usage: npx tsx examples/node-download.ts <org/name | http(s) URL> [fp32|fp16|q8|int8|uint8|q4|q4f16|bnb4]',
  );
  process.exit(2);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function drawBar(p: LoadProgress): void {
  if (p.phase !== 'download') return;
  const width = 30;
  const fraction = p.total ? p.loaded / p.total : 0;
  const filled = Math.round(fraction * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  const amount = p.total ? `${mb(p.loaded)} / ${mb(p.total)}` : mb(p.loaded);
  const note = p.cached ? ' (cached)' : '';
  process.stderr.write(
    `\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${amount}  ${p.file}${note}\x1b[K`,
  );
}

const defaults = nodeSourceDefaults({});
try {
  const model = await openRemoteSource(source, defaults);
  await model.fetchFiles(
    [
      { path: 'config.json' },
      { path: 'generation_config.json', optional: true },
      { path: 'tokenizer.json' },
      { path: 'tokenizer_config.json' },
      { path: 'chat_template.jinja', optional: true },
      { path: onnxFileForDtype(dtype) },
    ],
    { onProgress: drawBar },
  );
  const file = await model.modelFile(onnxFileForDtype(dtype));
  process.stderr.write('\n');
  console.log(`${model.location} is ready in ${defaults.cacheDir}`);
  console.log(`model file: ${file?.path}`);
} catch (error) {
  process.stderr.write('\n');
  if (error instanceof SlmkitError) {
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
