/** The workloads every system runs, and the deterministic prompts they use. */
import type { Sampling, SystemName } from '../systems/types.js';

export type ModelVariant = 'default' | 'logits-to-keep';

export interface Workload {
  readonly id: WorkloadId;
  readonly title: string;
  readonly promptTokens: number;
  readonly newTokens: number;
  readonly sampling?: Sampling;
  readonly systems: readonly SystemName[];
  readonly model: ModelVariant;
  /**
   * Megabytes of live JavaScript objects the measuring process holds before loading, as an
   * application would (a server's caches, an Electron app's state).
   */
  readonly appHeapMb?: number;
}

export type WorkloadId = 'greedy-128' | 'greedy-1024' | 'sample-128' | 'keep-1024' | 'app-heap-1024';

/** Sampling settings of the sampling workload (Hugging Face's usual chat defaults). */
export const SAMPLING: Sampling = { temperature: 0.8, topK: 50, topP: 0.9, seed: 42 };

export const WORKLOADS: Record<WorkloadId, Workload> = {
  'greedy-128': {
    id: 'greedy-128',
    title: '128 prompt + 128 new, greedy',
    promptTokens: 128,
    newTokens: 128,
    systems: ['floor', 'slmkit', 'transformers'],
    model: 'default',
  },
  'greedy-1024': {
    id: 'greedy-1024',
    title: '1,024 prompt + 256 new, greedy',
    promptTokens: 1024,
    newTokens: 256,
    systems: ['floor', 'slmkit', 'transformers'],
    model: 'default',
  },
  'sample-128': {
    id: 'sample-128',
    title: '128 + 128, sampling (T 0.8, top-k 50, top-p 0.9)',
    promptTokens: 128,
    newTokens: 128,
    sampling: SAMPLING,
    systems: ['slmkit', 'transformers'],
    model: 'default',
  },
  'keep-1024': {
    id: 'keep-1024',
    title: '1,024 prompt + 16 new, greedy, export with num_logits_to_keep',
    promptTokens: 1024,
    newTokens: 16,
    systems: ['floor', 'slmkit', 'transformers'],
    model: 'logits-to-keep',
  },
  'app-heap-1024': {
    id: 'app-heap-1024',
    title: '1,024 prompt + 64 new, greedy, in a process holding 200 MB of live objects',
    promptTokens: 1024,
    newTokens: 64,
    systems: ['floor', 'slmkit', 'transformers'],
    model: 'default',
    appHeapMb: 200,
  },
};

/**
 * About `megabytes` of live, reachable JavaScript objects (small records in a Map, the shape of an
 * application's caches). Keep the result referenced for as long as it should count.
 */
export function allocateAppHeap(megabytes: number): Map<string, { id: number; label: string }> {
  const heap = new Map<string, { id: number; label: string }>();
  // ≈ 153 bytes per entry (key string, record, label string, map slot): heapUsed after a full GC.
  const entries = Math.round((megabytes * 1e6) / 153);
  for (let i = 0; i < entries; i++) heap.set(`key-${i}`, { id: i, label: `value-${i}` });
  return heap;
}

/**
 * A deterministic prompt of `length` token ids: BOS, then ids spread over the llama2 vocabulary
 * (3..31999, skipping the special ids 0-2).
 */
export function promptIds(length: number): number[] {
  const ids = [1];
  let state = 12345;
  while (ids.length < length) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids.push(3 + (state % 31997));
  }
  return ids;
}

/** The model folders (built once into .cache/models by the test fixtures' model builder). */
export async function modelFolder(variant: ModelVariant): Promise<string> {
  const { ensureModel } = await import('../../test/fixtures/models.js');
  return ensureModel('smollm2-135m', variant === 'logits-to-keep' ? { logitsToKeep: true } : {});
}
