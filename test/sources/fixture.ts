// A synthetic model repository in the onnx-community layout: real JSON files, random bytes for the
// .onnx files and their external data (these tests move files; they never run them).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SlmkitError } from '@slmkit/core';

/** Deterministic pseudo-random bytes. */
export function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The files of the synthetic repository, by path. */
export const REPO_FILES: Record<string, Uint8Array> = {
  'config.json': json({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, vocab_size: 256 }),
  'generation_config.json': json({ bos_token_id: 1, eos_token_id: 2 }),
  'tokenizer.json': json({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] } }),
  'tokenizer_config.json': json({ bos_token: '<s>', eos_token: '</s>', model_max_length: 2048 }),
  'onnx/model.onnx': bytes(3_000, 1),
  'onnx/model.onnx_data': bytes(300_000, 2),
  'onnx/model_q4.onnx': bytes(2_000, 3),
  'onnx/model_q4.onnx_data': bytes(100_000, 4),
  'onnx/model_q4.onnx_data_1': bytes(50_000, 5),
  'onnx/model_fp16.onnx': bytes(20_000, 6),
};

/** The files a createModel-style load asks for, with `onnx` as the model file. */
export function loadList(onnx: string): { path: string; optional?: boolean }[] {
  return [
    { path: 'config.json' },
    { path: 'generation_config.json', optional: true },
    { path: 'tokenizer.json' },
    { path: 'tokenizer_config.json' },
    { path: 'chat_template.jinja', optional: true },
    { path: onnx },
  ];
}

/** Writes the repository into a new temporary folder and returns it. */
export function writeRepo(files: Record<string, Uint8Array> = REPO_FILES): string {
  const dir = tempDir('slmkit-repo-');
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
  return dir;
}

// No afterAll here: download-worker.ts imports this module outside vitest, where hooks throw.
const tempDirs: string[] = [];

/** A new empty temporary folder, deleted by {@link removeTempDirs}. */
export function tempDir(prefix = 'slmkit-cache-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Deletes the folders {@link tempDir} and {@link writeRepo} made: `afterAll(removeTempDirs)`. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The error `promise` rejects with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<SlmkitError> {
  try {
    await promise;
  } catch (error) {
    return error as SlmkitError;
  }
  throw new Error('expected a rejection');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2));
}
