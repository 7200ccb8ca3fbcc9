import type { LocalLanguageModel, LogitsProcessor } from '@slmkit/core';
import { type Backend, type InferenceSession, isResident, loadModel } from '@slmkit/core/backend';
import { createModel, createNodeBackend, openLocalFolder } from '@slmkit/node';
import * as ort from 'onnxruntime-node';
import { ensureModel } from '../fixtures/models.js';
import type { ModelSpecInput } from '../fixtures/spec.js';
import { createReferenceBackend } from '../reference/index.js';

/** The tiny generated model on onnxruntime-node. */
export async function loadTiny(spec: ModelSpecInput = 'tiny'): Promise<LocalLanguageModel> {
  return createModel(await ensureModel(spec));
}

/** The tiny generated model on the pure-TypeScript reference backend. */
export async function loadTinyReference(spec: ModelSpecInput = 'tiny'): Promise<LocalLanguageModel> {
  return loadModel(openLocalFolder(await ensureModel(spec)), { backend: createReferenceBackend() });
}

/** A logits processor that makes the model emit exactly `ids`, then keeps repeating the last one. */
export function forceTokens(ids: readonly number[]): LogitsProcessor {
  return (logits, { generatedTokenIds }) => {
    const target = ids[Math.min(generatedTokenIds.length, ids.length - 1)];
    logits.fill(Number.NEGATIVE_INFINITY);
    logits[target] = 0;
  };
}

/**
 * Greedy decoding with no KV cache at all: every step runs the whole sequence through a fresh
 * onnxruntime-node session with empty past tensors, and takes the argmax of the last position.
 */
export async function greedyWithoutCache(
  folder: string,
  prompt: readonly number[],
  newTokens: number,
): Promise<number[]> {
  const session = await ort.InferenceSession.create(`${folder}/onnx/model.onnx`);
  const config = JSON.parse(
    await import('node:fs').then((fs) => fs.readFileSync(`${folder}/config.json`, 'utf8')),
  );
  const kvHeads = config.num_key_value_heads;
  const headDim = config.head_dim;
  const ids = [...prompt];
  const out: number[] = [];
  try {
    for (let step = 0; step < newTokens; step++) {
      const n = ids.length;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(ids, (_, i) => BigInt(i)),
          [1, n],
        ),
      };
      for (let l = 0; l < config.num_hidden_layers; l++) {
        for (const kind of ['key', 'value']) {
          feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
            1,
            kvHeads,
            0,
            headDim,
          ]);
        }
      }
      const { logits } = await session.run(feeds);
      const vocab = logits.dims[2];
      const last = (logits.data as Float32Array).subarray((n - 1) * vocab, n * vocab);
      let best = 0;
      for (let i = 1; i < vocab; i++) if (last[i] > last[best]) best = i;
      out.push(best);
      ids.push(best);
    }
  } finally {
    await session.release();
  }
  return out;
}

export const PROMPTS = [
  'Once upon a time',
  'The capital of France is',
  'def fibonacci(n):',
  'In 1492, Columbus sailed',
  'Hello',
];

/** One resident output a recorded run returned (see {@link RunLog}). */
export interface RecordedResident {
  /** The output's name, e.g. `present.0.key`. */
  readonly name: string;
  /** True once core called its `dispose()`. */
  disposed: boolean;
}

/**
 * What {@link recordingBackend} saw: the input_ids dims of each run, every resident output returned
 * (the KV cache, which core must free) with whether it was disposed, and how many host outputs
 * (the logits) were returned: plain arrays with nothing to free, so they are only counted. Start
 * from `{ inputIds: [], resident: [], hostOutputs: 0 }`; clear it with `resident.length = 0` and
 * `hostOutputs = 0`.
 */
export interface RunLog {
  inputIds: number[][];
  resident: RecordedResident[];
  hostOutputs: number;
}

/**
 * The real onnxruntime-node backend (session thread), with every run of its sessions recorded in
 * `log`, not replaced: each resident output's `dispose` is wrapped to set its record's `disposed`.
 */
export function recordingBackend(log: RunLog): Backend {
  const backend = createNodeBackend();
  return {
    ...backend,
    async createSession(file, options) {
      const session = await backend.createSession(file, options);
      const recorded: InferenceSession = {
        ...session,
        async run(feeds, runOptions) {
          log.inputIds.push([...feeds.input_ids.dims]);
          const result = await session.run(feeds, runOptions);
          for (const [name, value] of Object.entries(result)) {
            if (!isResident(value)) {
              log.hostOutputs++;
              continue;
            }
            const record: RecordedResident = { name, disposed: false };
            log.resident.push(record);
            // On the object itself: the session recognises its own tensors when they are fed back.
            const dispose = value.dispose.bind(value);
            value.dispose = () => {
              record.disposed = true;
              dispose();
            };
          }
          return result;
        },
      };
      return recorded;
    },
  };
}
