import type {
  LanguageModelV4Prompt,
  LanguageModelV4ToolResultOutput,
  LanguageModelV4ToolResultPart,
  SharedV4Warning,
} from '@ai-sdk/provider';
import { type ChatMessage, SlmkitError } from '@slmkit/core';

/** Text a tool's result gives the model when the AI SDK says the call was denied without a reason. */
export const EXECUTION_DENIED_TEXT = 'Tool call execution denied.';

/**
 * The AI SDK's prompt as slmkit chat messages, in the shapes Hugging Face chat templates read:
 * system, user and assistant messages with string content, an assistant's tool calls as
 * `tool_calls` (arguments as objects), each tool result as `{ role: 'tool', tool_call_id, name,
 * content }`. File parts throw SlmkitError 'INVALID_INPUT' (slmkit's models read text only);
 * reasoning and custom parts of earlier assistant turns are left out, with a warning.
 */
export function convertPrompt(prompt: LanguageModelV4Prompt, warnings: SharedV4Warning[]): ChatMessage[] {
  if (!Array.isArray(prompt)) {
    throw new SlmkitError(
      'INVALID_INPUT',
      'The prompt is not a list of messages: pass the AI SDK its `prompt` or `messages`.',
    );
  }
  const messages: ChatMessage[] = [];
  let skippedReasoning = false;
  let skippedCustom = false;
  prompt.forEach((message, index) => {
    const where = `prompt message ${index} (${message.role})`;
    switch (message.role) {
      case 'system':
        messages.push({ role: 'system', content: message.content });
        return;
      case 'user': {
        let text = '';
        for (const part of message.content) {
          if (part.type === 'text') text += part.text;
          else
            throw fileRefused(where, part.type === 'file' ? part.mediaType : (part as { type: string }).type);
        }
        messages.push({ role: 'user', content: text });
        return;
      }
      case 'assistant': {
        let text = '';
        const toolCalls: { id: string; type: 'function'; function: { name: string; arguments: unknown } }[] =
          [];
        const results: ChatMessage[] = [];
        for (const part of message.content) {
          switch (part.type) {
            case 'text':
              text += part.text;
              break;
            case 'tool-call':
              toolCalls.push({
                id: part.toolCallId,
                type: 'function',
                function: { name: part.toolName, arguments: toolInput(part.input, where) },
              });
              break;
            case 'tool-result':
              results.push(toolMessage(part, where));
              break;
            case 'reasoning':
            case 'reasoning-file':
              skippedReasoning = true;
              break;
            case 'custom':
              skippedCustom = true;
              break;
            case 'file':
              throw fileRefused(where, part.mediaType);
            default:
              throw new SlmkitError(
                'INVALID_INPUT',
                `${where} has a part of type ${JSON.stringify((part as { type: string }).type)}, which @slmkit/ai-sdk does not know: give assistant messages text and tool-call parts.`,
              );
          }
        }
        const reply: ChatMessage = { role: 'assistant', content: text };
        if (toolCalls.length > 0) reply.tool_calls = toolCalls;
        messages.push(reply, ...results);
        return;
      }
      case 'tool':
        for (const part of message.content) {
          // Approval responses concern tools a provider runs itself; slmkit runs none.
          if (part.type === 'tool-result') messages.push(toolMessage(part, where));
        }
        return;
      default:
        throw new SlmkitError(
          'INVALID_INPUT',
          `prompt message ${index} has role ${JSON.stringify((message as { role: unknown }).role)}: the AI SDK's roles are system, user, assistant and tool.`,
        );
    }
  });
  if (skippedReasoning) {
    warnings.push({
      type: 'unsupported',
      feature: 'reasoning parts in the prompt',
      details:
        "Earlier assistant turns' reasoning parts were left out; slmkit returns a model's reasoning as part of its text.",
    });
  }
  if (skippedCustom) {
    warnings.push({
      type: 'unsupported',
      feature: 'custom parts in the prompt',
      details: "Assistant messages' custom parts were left out: slmkit has no custom content.",
    });
  }
  return messages;
}

function fileRefused(where: string, mediaType: string): SlmkitError {
  return new SlmkitError(
    'INVALID_INPUT',
    `${where} has a file part (${mediaType}): slmkit's models read text only. Put the file's text in a text part instead.`,
  );
}

/** A tool call's input as the template gets it: the arguments object (a JSON string is parsed). */
function toolInput(input: unknown, where: string): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    throw new SlmkitError(
      'INVALID_INPUT',
      `${where} has a tool call whose input is a string that is not JSON: ${JSON.stringify(input.slice(0, 200))}.`,
    );
  }
}

function toolMessage(part: LanguageModelV4ToolResultPart, where: string): ChatMessage {
  return {
    role: 'tool',
    tool_call_id: part.toolCallId,
    name: part.toolName,
    content: toolOutputText(part.output, where),
  };
}

/**
 * A tool result's output as the text the model reads: text as it is, JSON (and error JSON) as
 * `JSON.stringify` writes it, a denial as its reason, and content parts' texts joined by newlines.
 */
export function toolOutputText(output: LanguageModelV4ToolResultOutput, where = 'a tool result'): string {
  switch (output.type) {
    case 'text':
    case 'error-text':
      return output.value;
    case 'json':
    case 'error-json':
      return JSON.stringify(output.value);
    case 'execution-denied':
      return output.reason ?? EXECUTION_DENIED_TEXT;
    case 'content':
      return output.value
        .map((item) => {
          if (item.type === 'text') return item.text;
          throw new SlmkitError(
            'INVALID_INPUT',
            `${where} has a tool result with a ${item.type} part${item.type === 'file' ? ` (${item.mediaType})` : ''}: slmkit's models read text only; return text or JSON from the tool.`,
          );
        })
        .join('\n');
    default:
      throw new SlmkitError(
        'INVALID_INPUT',
        `${where} has a tool result output of type ${JSON.stringify((output as { type: unknown }).type)}, which @slmkit/ai-sdk does not know.`,
      );
  }
}
