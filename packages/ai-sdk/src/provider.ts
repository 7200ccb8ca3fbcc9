import { NoSuchModelError, type ProviderV4 } from '@ai-sdk/provider';
import { type LanguageModel, SlmkitError } from '@slmkit/core';
import { checkCallOptions, type SlmkitCallOptions } from './call-options.js';
import { SlmkitLanguageModel, type SlmkitModelSettings } from './language-model.js';

/** Options of {@link createSlmkit}. */
export interface SlmkitProviderSettings {
  /**
   * Models the provider knows by name, for `provider('name')`, `provider.languageModel('name')` and
   * the AI SDK's provider registry (`createProviderRegistry({ slmkit })`, then `'slmkit:name'`).
   */
  models?: Readonly<Record<string, LanguageModel>>;
  /** slmkit options of every call through this provider, under a model's and a call's own. */
  defaults?: SlmkitCallOptions;
}

/**
 * The AI SDK provider of slmkit models (`ProviderV4`): call it with a slmkit `LanguageModel` (or the
 * name of one of its `models`) to get an AI SDK language model.
 *
 * @example
 * ```ts
 * const local = createSlmkit({ models: { smol: await createModel('onnx-community/SmolLM2-135M-Instruct') } });
 * await generateText({ model: local('smol'), prompt: 'Hi!' });
 * ```
 */
export interface SlmkitProvider extends ProviderV4 {
  /** The AI SDK language model of `model`, or of the provider's model called so. */
  (model: LanguageModel | string, settings?: SlmkitModelSettings): SlmkitLanguageModel;
  /**
   * The AI SDK language model of the provider's model called `modelId`; throws the AI SDK's
   * NoSuchModelError when there is none.
   */
  languageModel(modelId: string, settings?: SlmkitModelSettings): SlmkitLanguageModel;
  /** slmkit has no embedding models: always throws the AI SDK's NoSuchModelError. */
  embeddingModel(modelId: string): never;
  /** slmkit has no image models: always throws the AI SDK's NoSuchModelError. */
  imageModel(modelId: string): never;
}

/**
 * Creates a slmkit provider for the AI SDK, with named models and default slmkit options.
 *
 * @example
 * ```ts
 * import { generateText } from 'ai';
 * import { createSlmkit } from '@slmkit/ai-sdk';
 * import { createModel } from '@slmkit/node';
 *
 * const local = createSlmkit({
 *   models: { qwen: await createModel('onnx-community/Qwen3-0.6B-ONNX') },
 *   defaults: { templateVariables: { enable_thinking: false } },
 * });
 * const { text } = await generateText({ model: local('qwen'), prompt: 'Name a colour.' });
 * ```
 */
export function createSlmkit(settings: SlmkitProviderSettings = {}): SlmkitProvider {
  const models = settings.models ?? {};
  const defaults = checkCallOptions(settings.defaults, 'createSlmkit defaults');
  const names = () => Object.keys(models);

  const named = (modelId: string, modelSettings: SlmkitModelSettings = {}): SlmkitLanguageModel => {
    if (!Object.hasOwn(models, modelId)) {
      throw new NoSuchModelError({
        modelId,
        modelType: 'languageModel',
        message: `No slmkit model is called ${JSON.stringify(modelId)}: ${
          names().length > 0
            ? `the provider's models are ${names()
                .map((n) => JSON.stringify(n))
                .join(', ')}`
            : 'the provider has no named models'
        }. Give it in createSlmkit({ models }), or pass the model itself.`,
      });
    }
    return wrap(models[modelId], { modelId, ...modelSettings });
  };

  const wrap = (model: LanguageModel, modelSettings: SlmkitModelSettings): SlmkitLanguageModel => {
    const own = checkCallOptions(modelSettings.defaults, 'model settings defaults');
    return new SlmkitLanguageModel(model, { ...modelSettings, defaults: { ...defaults, ...own } });
  };

  const provider = (
    model: LanguageModel | string,
    modelSettings?: SlmkitModelSettings,
  ): SlmkitLanguageModel => {
    if (typeof model === 'string') return named(model, modelSettings);
    if (!isLanguageModel(model)) {
      throw new SlmkitError(
        'INVALID_INPUT',
        'The slmkit provider takes a slmkit LanguageModel (from createModel or createWorkerModel) or the name of one of its models.',
      );
    }
    return wrap(model, modelSettings ?? {});
  };
  const noSuch =
    (modelType: 'embeddingModel' | 'imageModel') =>
    (modelId: string): never => {
      throw new NoSuchModelError({
        modelId,
        modelType,
        message: `slmkit has language models only: there is no ${modelType} ${JSON.stringify(modelId)}.`,
      });
    };
  return Object.assign(provider, {
    specificationVersion: 'v4' as const,
    languageModel: named,
    embeddingModel: noSuch('embeddingModel'),
    imageModel: noSuch('imageModel'),
  }) as unknown as SlmkitProvider;
}

function isLanguageModel(value: unknown): value is LanguageModel {
  const model = value as Partial<LanguageModel> | null;
  return (
    typeof model === 'object' &&
    model !== null &&
    typeof model.generate === 'function' &&
    typeof model.stream === 'function'
  );
}

/**
 * The default slmkit provider (no named models, no defaults): `slmkit(model)` is the AI SDK
 * language model of a slmkit `LanguageModel`.
 *
 * @example
 * ```ts
 * import { generateText, streamText } from 'ai';
 * import { slmkit } from '@slmkit/ai-sdk';
 * import { createModel } from '@slmkit/node';
 *
 * const model = await createModel('onnx-community/SmolLM2-135M-Instruct');
 * const { text } = await generateText({ model: slmkit(model), prompt: 'Hi!' });
 * for await (const delta of streamText({ model: slmkit(model), prompt: 'Hi!' }).textStream) process.stdout.write(delta);
 * ```
 */
export const slmkit: SlmkitProvider = createSlmkit();
