import { Template } from '@huggingface/jinja';
import { SlmkitError } from '../spec/errors.js';
import type { ChatMessage } from '../spec/messages.js';

/** A compiled chat template (the model's own Jinja template). */
export interface ChatTemplate {
  /** Renders messages to the prompt text the model was trained on, ending with the assistant turn's opening. */
  render(messages: readonly ChatMessage[], variables?: Record<string, unknown>): string;
}

/**
 * Picks the template from tokenizer_config.json's `chat_template` (a string, or a list of named
 * templates of which 'default' is used) or a separate chat_template.jinja file, which wins.
 */
export function selectChatTemplateSource(
  tokenizerConfig: Record<string, unknown>,
  jinjaFile: string | undefined,
): string | undefined {
  if (jinjaFile !== undefined) return jinjaFile;
  const value = tokenizerConfig.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: string; template?: string }[];
    return (named.find((t) => t.name === 'default') ?? named[0])?.template;
  }
  return undefined;
}

/** Compiles a chat template; `specialTokens` (bos_token, eos_token, ...) are visible to it as variables. */
export function compileChatTemplate(
  source: string,
  specialTokens: Readonly<Record<string, string>>,
): ChatTemplate {
  let template: Template;
  try {
    template = new Template(source);
  } catch (cause) {
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `The model's chat template does not parse: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return {
    render(messages, variables) {
      try {
        return template.render({
          ...specialTokens,
          ...variables,
          messages,
          add_generation_prompt: true,
        });
      } catch (cause) {
        throw new SlmkitError(
          'INVALID_INPUT',
          `The model's chat template rejected the messages: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    },
  };
}
