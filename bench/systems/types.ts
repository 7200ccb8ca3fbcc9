/** What every benchmarked system implements: load a model folder, then run one generation. */

export interface Sampling {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
}

export interface RunSpec {
  readonly promptIds: readonly number[];
  readonly newTokens: number;
  /** Absent: greedy. */
  readonly sampling?: Sampling;
}

export interface RunTiming {
  readonly tokenIds: number[];
  /** From the call until the first new token was known. */
  readonly ttftMs: number;
  /** From the first new token to the last one (newTokens - 1 steps). */
  readonly decodeMs: number;
  readonly totalMs: number;
}

export interface LoadOptions {
  readonly folder: string;
  readonly threads: number;
  /** `session.intra_op.allow_spinning` (default true). */
  readonly spinning: boolean;
}

export interface BenchSystem {
  readonly name: SystemName;
  /** Loads the model; resolves when it is ready to generate. */
  load(options: LoadOptions): Promise<void>;
  run(spec: RunSpec): Promise<RunTiming>;
  dispose(): Promise<void>;
}

export type SystemName = 'floor' | 'slmkit' | 'transformers';

export const SYSTEM_LABELS: Record<SystemName, string> = {
  floor: 'floor (raw ORT loop)',
  slmkit: 'slmkit',
  transformers: 'transformers.js',
};

/** The ONNX Runtime session settings every system gets, so only the code around `run()` differs. */
export function ortSessionOptions(options: LoadOptions) {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all' as const,
    extra: options.spinning
      ? {}
      : { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
  };
}

export async function createSystem(name: SystemName): Promise<BenchSystem> {
  switch (name) {
    case 'floor':
      return new (await import('./floor.js')).FloorSystem();
    case 'slmkit':
      return new (await import('./slmkit.js')).SlmkitSystem();
    case 'transformers':
      return new (await import('./transformers.js')).TransformersSystem();
  }
}
