/** What slmkit reads from a model's config.json and generation_config.json. */
export interface ModelConfig {
  /** `model_type` from config.json, e.g. 'llama', 'qwen2'. Informational: behaviour never switches on it. */
  readonly modelType: string;
  /** Size of the vocabulary: the length of each position's logits (`vocab_size`). */
  readonly vocabSize: number;
  /** Decoder layers, each with its own KV cache (`num_hidden_layers`). */
  readonly numLayers: number;
  /** Key/value heads per layer (`num_key_value_heads`, else the attention heads). */
  readonly numKeyValueHeads: number;
  /** Size of one attention head (`head_dim`, else hidden size / attention heads). */
  readonly headDim: number;
  /** Longest sequence (prompt + new tokens) the model supports. */
  readonly contextLength: number;
  /** The beginning-of-sequence token id (`bos_token_id`), when the model has one. */
  readonly bosTokenId: number | undefined;
  /** Every id that ends a generation (config.json and generation_config.json may list several). */
  readonly eosTokenIds: readonly number[];
  /** The padding token id (`pad_token_id`), when the model has one; batches pad with it (else the first EOS id). */
  readonly padTokenId: number | undefined;
  /** Generation defaults from generation_config.json, already in slmkit's option names. */
  readonly generationDefaults: Readonly<GenerationDefaults>;
  /** config.json as parsed, for anything slmkit does not interpret. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The subset of generation_config.json slmkit honours as defaults. */
export interface GenerationDefaults {
  /** `max_new_tokens`: default of {@link GenerateOptions.maxNewTokens}. */
  maxNewTokens?: number;
  /** `do_sample`: default of {@link GenerateOptions.doSample}. */
  doSample?: boolean;
  /** `temperature`: default of {@link GenerateOptions.temperature}. */
  temperature?: number;
  /** `top_k`: default of {@link GenerateOptions.topK}. */
  topK?: number;
  /** `top_p`: default of {@link GenerateOptions.topP}. */
  topP?: number;
  /** `min_p`: default of {@link GenerateOptions.minP}. */
  minP?: number;
  /** `repetition_penalty`: default of {@link GenerateOptions.repetitionPenalty}. */
  repetitionPenalty?: number;
}
