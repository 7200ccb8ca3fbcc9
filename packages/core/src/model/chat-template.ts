import { Template } from '@huggingface/jinja';
import { SlmkitError, showValue } from '../spec/errors.js';
import type { ChatMessage } from '../spec/messages.js';
import type { ToolDefinition } from '../spec/tools.js';
import { renderPythonJinja } from './python-jinja.js';

/** A compiled chat template (the model's own Jinja template). */
export interface ChatTemplate {
  /** The template's Jinja source (read to tell which tool-call format it uses). */
  readonly source: string;
  /**
   * Renders messages to the prompt text the model was trained on, ending with the assistant turn's
   * opening; `tools` are the template's `tools` variable, as Hugging Face's apply_chat_template
   * passes them. Messages are checked first ({@link checkMessages}); INVALID_INPUT names what is
   * wrong.
   */
  render(
    messages: readonly ChatMessage[],
    variables?: Record<string, unknown>,
    tools?: readonly ToolDefinition[],
  ): string;
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

/** Roles templates commonly know; a message with any other role is checked to reach the prompt. */
const COMMON_ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer', 'ipython', 'function']);

function invalidMessage(message: string): never {
  throw new SlmkitError('INVALID_INPUT', message);
}

/**
 * The text of OpenAI-style content parts, joined with '' (as templates that iterate parts print
 * them: one after another). Every part must be `{ type: 'text', text: string }`; any other part
 * (`image_url`, `input_audio`, ...) throws INVALID_INPUT naming `where`, the part's index and its
 * type, since slmkit's models take text only.
 */
function joinTextParts(parts: readonly unknown[], where: string): string {
  let text = '';
  // An index loop, so the holes of a sparse array are seen (as undefined).
  for (let k = 0; k < parts.length; k++) {
    const part: unknown = parts[k];
    const at = `${where}.content[${k}]`;
    if (typeof part !== 'object' || part === null || Array.isArray(part)) {
      invalidMessage(
        `${at} must be a { type: 'text', text: string } part; got ${showValue(part)}. slmkit's models take text only.`,
      );
    }
    const { type, text: partText } = part as { type?: unknown; text?: unknown };
    if (type !== 'text') {
      invalidMessage(
        `${at} is a part of type ${showValue(type)}: slmkit's models take text only, so content parts must be { type: 'text', text: string }.`,
      );
    }
    if (typeof partText !== 'string') {
      invalidMessage(`${at} is a part of type "text" whose text is ${showValue(partText)}, not a string.`);
    }
    // Separate parts on separate lines, as vLLM's OpenAI server does for text-only models.
    text += k === 0 ? partText : `\n${partText}`;
  }
  return text;
}

/**
 * Checks one message (`where` names it in errors, e.g. 'messages[2]') and returns it as templates
 * get it: `role` a non-empty string; `content` a string, or an array of OpenAI-style
 * `{ type: 'text', text }` parts, which becomes their texts joined with '\n' (always a string, since
 * every template renders string content while many text-only ones drop or break on a list);
 * `content` may be absent or null only beside `tool_calls`. Anything else throws INVALID_INPUT
 * naming the message and the field.
 */
export function checkMessage(message: unknown, where: string): ChatMessage {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    invalidMessage(`${where} must be a { role, content } object; got ${showValue(message)}.`);
  }
  const m = message as Record<string, unknown>;
  if (typeof m.role !== 'string' || m.role.length === 0) {
    invalidMessage(
      `${where}.role must be a non-empty string (usually 'system', 'user' or 'assistant'); got ${showValue(m.role)}.`,
    );
  }
  const content = m.content;
  if (typeof content === 'string') return m as ChatMessage;
  if ((content === undefined || content === null) && Array.isArray(m.tool_calls)) return m as ChatMessage;
  if (!Array.isArray(content)) {
    invalidMessage(
      `${where}.content must be a string or an array of { type: 'text', text } parts; got ${showValue(content)}.`,
    );
  }
  return { ...m, content: joinTextParts(content, where) } as ChatMessage;
}

/**
 * Checks messages before a template sees them, and returns them as templates expect them (see
 * {@link checkMessage}: text parts become one string). Anything else throws INVALID_INPUT naming
 * the message and the field.
 */
export function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) {
    invalidMessage(`messages must be an array of { role, content } messages; got ${showValue(messages)}.`);
  }
  return messages.map((message: unknown, i) => checkMessage(message, `messages[${i}]`));
}

/**
 * Throws INVALID_INPUT when a message of an uncommon role has text that the rendered prompt does
 * not hold: templates leave out roles they do not know without a word, and the model would never
 * see that message.
 */
function checkRolesRendered(messages: readonly ChatMessage[], rendered: string): void {
  messages.forEach((m, i) => {
    if (COMMON_ROLES.has(m.role) || typeof m.content !== 'string') return;
    const text = m.content.trim();
    if (text.length > 0 && !rendered.includes(text)) {
      invalidMessage(
        `messages[${i}] has role ${showValue(m.role)}, which the model's chat template leaves out of the prompt (the message's text does not appear in it): use a role the template knows, usually 'system', 'user' or 'assistant'.`,
      );
    }
  });
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
    source,
    render(messages, variables, tools) {
      const checked = checkMessages(messages);
      let rendered: string;
      try {
        rendered = renderPythonJinja(template, {
          ...specialTokens,
          // apply_chat_template passes tools and documents as None when there are none, so that
          // `tools is defined` holds and `tools is none` tells (e.g. Llama 3.2, Mistral).
          tools: null,
          documents: null,
          ...variables,
          ...(tools === undefined ? {} : { tools }),
          messages: checked,
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
      checkRolesRendered(checked, rendered);
      return rendered;
    },
  };
}
