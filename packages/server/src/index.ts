/**
 * `@slmkit/server`: an OpenAI-compatible HTTP API over slmkit models, as a web-standard
 * `(request: Request) => Promise<Response>` handler that runs wherever Request and Response do.
 * `@slmkit/server/node` serves it with node:http.
 */
export { createOpenAIHandler, type OpenAIHandler, type OpenAIHandlerOptions } from './handler.js';
