/** One part of a message's content in the OpenAI shape; slmkit's models take text parts only. */
export interface TextContentPart {
  /** Always 'text': any other part type (`image_url`, `input_audio`, ...) is refused with INVALID_INPUT. */
  readonly type: 'text';
  /** The part's text. */
  readonly text: string;
}

/**
 * One chat message, as Hugging Face chat templates take it. `role` is usually 'system', 'user' or
 * 'assistant'; templates decide what they accept. Extra fields are passed to the template as they are.
 */
export interface ChatMessage {
  /** Who speaks: usually 'system', 'user' or 'assistant'. */
  role: string;
  /**
   * The message's text: a string, or OpenAI-style text parts (`[{ type: 'text', text }]`), which
   * the template gets as one string, their texts joined with '' (so both forms render the same
   * prompt). A part of any other type is INVALID_INPUT naming the message, the part and its type.
   */
  content: string | readonly TextContentPart[];
  /** Any other field (e.g. `tool_calls`), given to the chat template unchanged. */
  [key: string]: unknown;
}
