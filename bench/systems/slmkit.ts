/** slmkit as a user runs it: createModel() on the folder, then model.stream() over token ids. */
import type { GenerateOptions, LocalLanguageModel, NodeCreateModelOptions } from '@slmkit/node';
import {
  type BenchSystem,
  type LoadOptions,
  ortSessionOptions,
  type RunSpec,
  type RunTiming,
} from './types.js';

export class SlmkitSystem implements BenchSystem {
  readonly name = 'slmkit' as const;
  private model!: LocalLanguageModel;

  async load(options: LoadOptions): Promise<void> {
    const { createModel } = await builtPackage();
    this.model = await createModel(options.folder, {
      // The warm-up uses the same prompt: with the prefix cache on, the measured run would reuse its
      // KV cache and skip the prefill, which no other system does.
      prefixCache: false,
      sessionOptions: slmkitSessionOptions(options),
    });
  }

  async run(spec: RunSpec): Promise<RunTiming> {
    const options: GenerateOptions = {
      maxNewTokens: spec.newTokens,
      eosTokenIds: [], // the floor has no end-of-sequence rule either
      ...(spec.sampling
        ? {
            doSample: true,
            temperature: spec.sampling.temperature,
            topK: spec.sampling.topK,
            topP: spec.sampling.topP,
            seed: spec.sampling.seed,
          }
        : { doSample: false }),
    };
    const start = performance.now();
    const tokenIds: number[] = [];
    let firstTokenTime = 0;
    let lastTokenTime = 0;
    for await (const chunk of this.model.stream({ inputIds: spec.promptIds }, options)) {
      lastTokenTime = performance.now();
      if (tokenIds.length === 0) firstTokenTime = lastTokenTime;
      tokenIds.push(chunk.tokenId);
    }
    const end = performance.now();
    return {
      tokenIds,
      ttftMs: firstTokenTime - start,
      decodeMs: lastTokenTime - firstTokenTime,
      totalMs: end - start,
    };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/** The ONNX Runtime settings of {@link ortSessionOptions}, as slmkit's `sessionOptions`. */
export function slmkitSessionOptions(options: LoadOptions): NodeCreateModelOptions['sessionOptions'] {
  const ort = ortSessionOptions(options);
  return {
    intraOpNumThreads: ort.intraOpNumThreads,
    interOpNumThreads: ort.interOpNumThreads,
    graphOptimizationLevel: ort.graphOptimizationLevel,
    allowSpinning: options.spinning,
  };
}

/**
 * The built @slmkit/node (`npm run bench` builds first), as applications load it. Through the
 * tsconfig paths, tsx would load the TypeScript sources instead, and then also start the session
 * worker through tsx, whose loader weighs on that thread's heap and time.
 */
export async function builtPackage(): Promise<typeof import('@slmkit/node')> {
  const dist = new URL('../../packages/node/dist/index.js', import.meta.url);
  return import(dist.href);
}
