/**
 * transformers.js (@huggingface/transformers) on the same folder, from local files only. Timing
 * comes from a streamer, which generate() calls once with the prompt and then once per new token.
 */
import { basename, dirname } from 'node:path';
import {
  AutoModelForCausalLM,
  BaseStreamer,
  env,
  type PreTrainedModel,
  Tensor,
} from '@huggingface/transformers';
import {
  type BenchSystem,
  type LoadOptions,
  ortSessionOptions,
  type RunSpec,
  type RunTiming,
} from './types.js';

/** `from_pretrained` on the folder, from local files only, with the bench's session settings. */
export async function loadTransformersModel(options: LoadOptions): Promise<PreTrainedModel> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(options.folder);
  env.useFSCache = false;
  return AutoModelForCausalLM.from_pretrained(basename(options.folder), {
    dtype: 'fp32',
    device: 'cpu',
    local_files_only: true,
    session_options: ortSessionOptions(options),
  });
}

export class TimingStreamer extends BaseStreamer {
  calls = 0;
  firstTokenTime = 0;
  lastTokenTime = 0;
  override put(_value: bigint[][]): void {
    this.calls += 1;
    if (this.calls === 1) return; // the prompt
    this.lastTokenTime = performance.now();
    if (this.calls === 2) this.firstTokenTime = this.lastTokenTime;
  }
  override end(): void {}
}

export class TransformersSystem implements BenchSystem {
  readonly name = 'transformers' as const;
  private model!: PreTrainedModel;

  async load(options: LoadOptions): Promise<void> {
    this.model = await loadTransformersModel(options);
  }

  async run(spec: RunSpec): Promise<RunTiming> {
    const length = spec.promptIds.length;
    const streamer = new TimingStreamer();
    const start = performance.now();
    const inputIds = new Tensor('int64', BigInt64Array.from(spec.promptIds, BigInt), [1, length]);
    const attentionMask = new Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]);
    const sampling = spec.sampling
      ? {
          do_sample: true,
          temperature: spec.sampling.temperature,
          top_k: spec.sampling.topK,
          top_p: spec.sampling.topP,
        }
      : { do_sample: false };
    const output = (await this.model.generate({
      inputs: inputIds,
      attention_mask: attentionMask,
      max_new_tokens: spec.newTokens,
      min_new_tokens: null,
      eos_token_id: [], // the floor has no end-of-sequence rule either
      streamer,
      ...sampling,
    } as never)) as Tensor;
    const end = performance.now();
    const all = output.tolist() as bigint[][];
    const tokenIds = all[0].slice(length).map(Number);
    output.dispose?.();
    return {
      tokenIds,
      ttftMs: streamer.firstTokenTime - start,
      decodeMs: streamer.lastTokenTime - streamer.firstTokenTime,
      totalMs: end - start,
    };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
