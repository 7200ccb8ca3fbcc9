/** What slmkit reads from a model's config.json and generation_config.json. */
export interface ModelConfig {
  /** `model_type` from config.json, e.g. 'llama', 'qwen2'. Informational: behaviour never switches on it. */
  readonly modelType: string;
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  /** Longest sequence (prompt + new tokens) the model supports. */
  readonly contextLength: number;
  readonly bosTokenId: number | undefined;
  /** Every id that ends a generation (config.json and generation_config.json may list several). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  /** Generation defaults from generation_config.json, already in slmkit's option names. */
  readonly generationDefaults: Readonly<GenerationDefaults>;
  /** config.json as parsed, for anything slmkit does not interpret. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The subset of generation_config.json slmkit honours as defaults. */
export interface GenerationDefaults {
  maxNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
}
