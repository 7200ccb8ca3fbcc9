import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ModelFile } from '@slmkit/core/backend';

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * SHA-256 of an .onnx file given by local path and of its external data: the files listed in
 * `externalData`, else the files beside it that ONNX exports name after it (`model.onnx_data`,
 * `model.onnx_data_1`, `model.onnx.data`). For the model's fingerprint, computed when first needed.
 */
export async function hashLocalModelFile(file: ModelFile): Promise<string> {
  const graph = file.path!;
  let data = (file.externalData ?? []).map((d) => d.data).filter((d): d is string => typeof d === 'string');
  if (!file.externalData) {
    const name = basename(graph);
    const siblings = await readdir(dirname(graph));
    data = siblings
      .filter((f) => f.startsWith(`${name}_data`) || f === `${name}.data`)
      .sort()
      .map((f) => join(dirname(graph), f));
  }
  const digests = await Promise.all([graph, ...data].map(sha256OfFile));
  return digests.join('+');
}
