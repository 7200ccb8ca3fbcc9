import type { DecoderSignature } from '../model/decoder-signature.js';
import type { HostTensor, SessionValue } from '../spec/backend.js';
import type { AttentionInputs } from './attention-inputs.js';
import type { KvCache } from './kv-cache.js';

/**
 * The feeds of one generation's runs, built from what the decoder declares (never from a model
 * type), kept in one object: each step replaces only what changed, and the tensors whose shape and
 * buffer stay the same from step to step (the new token ids, their positions, use_cache_branch,
 * logits_to_keep) are created once.
 */
export class StepFeeds {
  private readonly feeds: Record<string, SessionValue> = {};
  private readonly stepIds: HostTensor;
  private stepPositions: HostTensor | undefined;
  private readonly useCache: HostTensor[] = [];

  constructor(
    private readonly signature: DecoderSignature,
    private readonly batch: number,
    /** The buffer the loop writes each step's chosen token ids into. */
    stepIds: BigInt64Array,
  ) {
    this.stepIds = { type: 'int64', data: stepIds, dims: [batch, 1] };
    if (signature.logitsToKeepInput) {
      this.feeds[signature.logitsToKeepInput] = { type: 'int64', data: new BigInt64Array([1n]), dims: [] };
    }
  }

  /** The feeds of the next run: `promptIds` of `length` tokens, or else the step ids (length 1). */
  prepare(
    cache: KvCache,
    attention: AttentionInputs,
    promptIds: BigInt64Array | undefined,
    length: number,
  ): Record<string, SessionValue> {
    const { signature, batch, feeds } = this;
    const past = cache.length;
    const total = past + length;
    feeds.input_ids = promptIds ? { type: 'int64', data: promptIds, dims: [batch, length] } : this.stepIds;
    cache.addFeedsTo(feeds);
    if (signature.hasAttentionMask) {
      feeds.attention_mask = { type: 'int64', data: attention.maskFor(total), dims: [batch, total] };
    }
    if (signature.hasPositionIds) {
      if (promptIds) {
        const positions = attention.prefillPositions(length, past);
        feeds.position_ids = { type: 'int64', data: positions, dims: [batch, length] };
      } else {
        // stepPositions() fills the same buffer every step.
        const positions = attention.stepPositions(past);
        this.stepPositions ??= { type: 'int64', data: positions, dims: [batch, 1] };
        feeds.position_ids = this.stepPositions;
      }
    }
    if (signature.hasUseCacheBranch) {
      const flag = past > 0 ? 1 : 0;
      this.useCache[flag] ??= { type: 'bool', data: new Uint8Array([flag]), dims: [1] };
      feeds.use_cache_branch = this.useCache[flag];
    }
    return feeds;
  }
}
