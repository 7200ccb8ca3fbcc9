/**
 * The floor: the tightest loop we can write on raw onnxruntime-node, with no tokenizer and no
 * abstraction. Prefill, then feed present.* back as past_key_values.*, argmax over the last row.
 * Everything that can be allocated once is; per step it creates only the tensor objects ORT needs.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  type BenchSystem,
  type LoadOptions,
  ortSessionOptions,
  type RunSpec,
  type RunTiming,
} from './types.js';

export class FloorSystem implements BenchSystem {
  readonly name = 'floor' as const;
  private session!: ort.InferenceSession;
  private pastNames: string[] = [];
  private presentNames: string[] = [];
  private kvHeads = 0;
  private headDim = 0;
  private hasPositionIds = false;
  private logitsToKeep: string | undefined;

  async load(options: LoadOptions): Promise<void> {
    this.session = await ort.InferenceSession.create(
      join(options.folder, 'onnx', 'model.onnx'),
      ortSessionOptions(options),
    );
    const inputs = this.session.inputNames;
    this.pastNames = inputs.filter((n) => n.startsWith('past_key_values.'));
    this.presentNames = this.pastNames.map((n) => n.replace('past_key_values.', 'present.'));
    const meta = this.session.inputMetadata.find((m) => m.name === this.pastNames[0]);
    const shape = meta?.isTensor ? meta.shape : [];
    this.kvHeads = shape[1] as number;
    this.headDim = shape[3] as number;
    this.hasPositionIds = inputs.includes('position_ids');
    this.logitsToKeep = inputs.find((n) => n === 'num_logits_to_keep' || n === 'logits_to_keep');
  }

  async run(spec: RunSpec): Promise<RunTiming> {
    if (spec.sampling) throw new Error('the floor only runs greedy workloads');
    const start = performance.now();
    const promptLength = spec.promptIds.length;
    const n = this.pastNames.length;
    const mask = new BigInt64Array(promptLength + spec.newTokens).fill(1n);
    const positions = new BigInt64Array(promptLength);
    const ids = new BigInt64Array(promptLength);
    for (let i = 0; i < promptLength; i++) {
      ids[i] = BigInt(spec.promptIds[i]);
      positions[i] = BigInt(i);
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [1, promptLength]),
      attention_mask: new ort.Tensor('int64', mask.subarray(0, promptLength), [1, promptLength]),
    };
    if (this.hasPositionIds) feeds.position_ids = new ort.Tensor('int64', positions, [1, promptLength]);
    if (this.logitsToKeep) feeds[this.logitsToKeep] = new ort.Tensor('int64', new BigInt64Array([1n]), []);
    const empty = new Float32Array(0);
    for (let i = 0; i < n; i++) {
      feeds[this.pastNames[i]] = new ort.Tensor('float32', empty, [1, this.kvHeads, 0, this.headDim]);
    }
    const stepId = new BigInt64Array(1);
    const stepPosition = new BigInt64Array(1);
    const tokenIds: number[] = [];
    let firstTokenTime = 0;
    let total = promptLength;
    let outputs = await this.session.run(feeds);
    for (;;) {
      const logits = outputs.logits;
      const vocab = logits.dims[2];
      const data = logits.data as Float32Array;
      const offset = (logits.dims[1] - 1) * vocab;
      let best = 0;
      let bestValue = data[offset];
      for (let i = 1; i < vocab; i++) {
        const v = data[offset + i];
        if (v > bestValue) {
          bestValue = v;
          best = i;
        }
      }
      tokenIds.push(best);
      if (tokenIds.length === 1) firstTokenTime = performance.now();
      if (tokenIds.length === spec.newTokens) break;
      stepId[0] = BigInt(best);
      stepPosition[0] = BigInt(total);
      total += 1;
      feeds.input_ids = new ort.Tensor('int64', stepId, [1, 1]);
      feeds.attention_mask = new ort.Tensor('int64', mask.subarray(0, total), [1, total]);
      if (this.hasPositionIds) feeds.position_ids = new ort.Tensor('int64', stepPosition, [1, 1]);
      for (let i = 0; i < n; i++) feeds[this.pastNames[i]] = outputs[this.presentNames[i]];
      outputs = await this.session.run(feeds);
    }
    const end = performance.now();
    return { tokenIds, ttftMs: firstTokenTime - start, decodeMs: end - firstTokenTime, totalMs: end - start };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
