/**
 * One chat message, as Hugging Face chat templates take it. `role` is usually 'system', 'user' or
 * 'assistant'; templates decide what they accept. Extra fields are passed to the template as they are.
 */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}
