/**
 * One chat message, as Hugging Face chat templates take it. `role` is usually 'system', 'user' or
 * 'assistant'; templates decide what they accept. Extra fields are passed to the template as they are.
 */
export interface ChatMessage {
  /** Who speaks: usually 'system', 'user' or 'assistant'. */
  role: string;
  /** The message's text. */
  content: string;
  /** Any other field (e.g. `tool_calls`), given to the chat template unchanged. */
  [key: string]: unknown;
}
