import { open, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { dataFilesIn, type ModelFile, sampledFileDigest } from '@slmkit/core/backend';

/** {@link sampledFileDigest} of a file on disk: 64 positional reads of 64 KiB. */
async function digestOfFile(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    return await sampledFileDigest(size, async (offset, length) => {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    });
  } finally {
    await file.close();
  }
}

/**
 * The sampled digest ({@link sampledFileDigest}) of an .onnx file given by local path and of its external data: the files listed in
 * `externalData`, else the files beside it that ONNX exports name after it ({@link dataFilesIn}:
 * `model.onnx_data`, `model.onnx_data_1`, `model.onnx.data`). For the model's fingerprint, computed when first needed.
 */
export async function hashLocalModelFile(file: ModelFile): Promise<string> {
  const graph = file.path!;
  let data = (file.externalData ?? []).map((d) => d.data).filter((d): d is string => typeof d === 'string');
  if (!file.externalData) {
    const siblings = await readdir(dirname(graph));
    data = dataFilesIn(siblings, basename(graph)).map((f) => join(dirname(graph), f));
  }
  const digests = await Promise.all([graph, ...data].map(digestOfFile));
  return digests.join('+');
}
