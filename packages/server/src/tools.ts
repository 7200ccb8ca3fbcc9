// OpenAI's tool calling fields. slmkit's core does not take tools yet, so a request that uses them is
// refused naming the field; parallel_tool_calls alone changes nothing and is accepted.
import { type JsonObject, unsupported } from './params.js';

/** The tool fields of a chat request. */
export const TOOL_FIELDS = ['tools', 'tool_choice', 'parallel_tool_calls'];

/** Why a request that uses tools is refused. */
export const TOOLS_UNAVAILABLE = 'tool calling is not available on this server yet.';

/** Refuses `tools` (unless empty) and a `tool_choice` other than 'none'. */
export function checkToolFields(body: JsonObject): void {
  const tools = body.tools;
  if (tools !== undefined && tools !== null && !(Array.isArray(tools) && tools.length === 0)) {
    throw unsupported('tools', TOOLS_UNAVAILABLE);
  }
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== 'none') {
    throw unsupported('tool_choice', TOOLS_UNAVAILABLE);
  }
}
