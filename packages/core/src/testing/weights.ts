/**
 * Deterministic weights: every tensor gets its own PRNG stream (seeded from the model seed and
 * the tensor's name, so adding a tensor never changes the others), and all tensors live in one
 * float32 buffer laid out exactly like the external-data file. Shared by the test model of
 * `@slmkit/core/testing` and the ONNX model builder of the repository's tests (test/fixtures), so
 * both hold the same numbers for the same seed.
 */

import { createRng } from '../logits/rng.js';

/** FNV-1a over the name, mixed with the seed: one independent stream per tensor. */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Fills `out` with mean + std * N(0, 1) (Box–Muller, both values of each pair used). */
export function fillNormal(out: Float32Array, rng: () => number, mean: number, std: number): void {
  const n = out.length;
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log never sees 0
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
}

export interface WeightDef {
  name: string;
  dims: number[];
  mean: number;
  std: number;
}

export interface WeightEntry {
  name: string;
  dims: number[];
  /** Byte offset in the arena (and in model.onnx_data). */
  offset: number;
  byteLength: number;
  values: Float32Array;
}

export interface WeightArena {
  /** All weights back to back (64-byte aligned), little-endian float32. */
  bytes: Uint8Array;
  entries: Map<string, WeightEntry>;
}

const ALIGN = 64;

/** Allocates one buffer for all `defs` and fills each tensor from its own stream. */
export function buildWeights(defs: WeightDef[], seed: number): WeightArena {
  let size = 0;
  const offsets: number[] = [];
  for (const d of defs) {
    size = Math.ceil(size / ALIGN) * ALIGN;
    offsets.push(size);
    size += 4 * d.dims.reduce((a, b) => a * b, 1);
  }
  const buffer = new ArrayBuffer(size);
  const entries = new Map<string, WeightEntry>();
  defs.forEach((d, i) => {
    const count = d.dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(buffer, offsets[i], count);
    fillNormal(values, createRng(streamSeed(seed, d.name)), d.mean, d.std);
    entries.set(d.name, { name: d.name, dims: d.dims, offset: offsets[i], byteLength: 4 * count, values });
  });
  return { bytes: new Uint8Array(buffer), entries };
}
