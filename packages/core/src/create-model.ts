import type { Backend, SessionOptions } from './backend.js';
import { type ChatTemplate, compileChatTemplate, selectChatTemplateSource } from './chat-template.js';
import { parseModelConfig, readJsonFile } from './config.js';
import { inspectDecoder } from './decoder-io.js';
import { SlmkitError } from './errors.js';
import { LanguageModel } from './model.js';
import type { ModelSourceReader } from './model-source.js';
import { createTokenizer } from './tokenizer.js';

/** Options of {@link createModel} that every backend understands. */
export interface CreateModelOptions {
  /** The runtime to use; @slmkit/node and @slmkit/web fill this in. */
  backend: Backend;
  /** The .onnx file to load, relative to the model folder (default `onnx/model.onnx`). */
  modelFile?: string;
  /** Runtime session settings (threads, execution providers, ...). */
  sessionOptions?: SessionOptions;
}

/**
 * Loads a model from a {@link ModelSourceReader}: config, tokenizer, chat template and the ONNX
 * session, and checks that the graph is a causal LM. Most apps call the `createModel` of
 * @slmkit/node or @slmkit/web instead, which take a folder, hub id or URL.
 */
export async function loadModel(
  reader: ModelSourceReader,
  options: CreateModelOptions,
): Promise<LanguageModel> {
  const modelPath = options.modelFile ?? 'onnx/model.onnx';
  const [configJson, generationJson, tokenizerJson, tokenizerConfig, jinjaTemplate] = await Promise.all([
    readJsonFile(reader, 'config.json', true),
    readJsonFile(reader, 'generation_config.json', false),
    readJsonFile(reader, 'tokenizer.json', true),
    readJsonFile(reader, 'tokenizer_config.json', false),
    reader.readText('chat_template.jinja'),
  ]);
  const config = parseModelConfig(configJson!, generationJson, reader.location);
  let tokenizer: ReturnType<typeof createTokenizer>;
  try {
    tokenizer = createTokenizer(tokenizerJson!, tokenizerConfig ?? {});
  } catch (cause) {
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `tokenizer.json in ${reader.location} could not be loaded: ${(cause as Error).message}`,
      { cause },
    );
  }
  const templateSource = selectChatTemplateSource(tokenizerConfig ?? {}, jinjaTemplate);
  const chatTemplate: ChatTemplate | undefined =
    templateSource === undefined ? undefined : compileChatTemplate(templateSource, tokenizer.specialTokens);

  const file = await reader.modelFile(modelPath);
  if (!file) {
    const available = await reader.listModelFiles();
    throw new SlmkitError(
      'MODEL_FILE_MISSING',
      `${modelPath} not found in ${reader.location}. ONNX files there: ${available.length ? available.join(', ') : 'none'}.`,
    );
  }
  let session: Awaited<ReturnType<Backend['createSession']>>;
  try {
    session = await options.backend.createSession(file, options.sessionOptions ?? {});
  } catch (cause) {
    if (cause instanceof SlmkitError) throw cause;
    throw new SlmkitError(
      'MODEL_FILE_INVALID',
      `${modelPath} in ${reader.location} could not be loaded by ${options.backend.name}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    const signature = inspectDecoder(session, config, modelPath);
    return new LanguageModel({
      backend: options.backend,
      session,
      signature,
      config,
      tokenizer,
      chatTemplate,
      location: reader.location,
    });
  } catch (error) {
    await session.release();
    throw error;
  }
}
