import { SlmkitError } from '../spec/errors.js';

/**
 * Weight formats of a model, named the way onnx-community / transformers.js repositories name
 * their ONNX variants (see `onnxFileForDtype`).
 */
export type ModelDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

/** File-name suffix of each {@link ModelDtype}: `onnx/model${suffix}.onnx`. */
export const DTYPE_SUFFIXES: Readonly<Record<ModelDtype, string>> = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
});

/** Every {@link ModelDtype}, in the order of the table in docs/model-sources.md. */
export const MODEL_DTYPES: readonly ModelDtype[] = Object.freeze(Object.keys(DTYPE_SUFFIXES) as ModelDtype[]);

/** True when `value` is a {@link ModelDtype}. */
export function isModelDtype(value: unknown): value is ModelDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_SUFFIXES, value);
}

/**
 * The repository path of the ONNX file for a dtype.
 *
 * @example
 * ```ts
 * onnxFileForDtype('q4');                    // 'onnx/model_q4.onnx'
 * onnxFileForDtype('q8', 'decoder_model_merged'); // 'onnx/decoder_model_merged_quantized.onnx'
 * ```
 */
export function onnxFileForDtype(dtype: ModelDtype, baseName = 'model'): string {
  if (!isModelDtype(dtype)) {
    throw new SlmkitError(
      'INVALID_OPTION',
      `Unknown dtype ${JSON.stringify(dtype)}. Use one of: ${MODEL_DTYPES.join(', ')}.`,
    );
  }
  return `onnx/${baseName}${DTYPE_SUFFIXES[dtype]}.onnx`;
}

/**
 * The dtype an ONNX file name stands for (`onnx/model_q4f16.onnx` → `'q4f16'`), or undefined when
 * the name follows no dtype convention for `baseName`.
 */
export function dtypeOfOnnxFile(path: string, baseName = 'model'): ModelDtype | undefined {
  const file = path.slice(path.lastIndexOf('/') + 1);
  for (const dtype of MODEL_DTYPES) {
    if (file === `${baseName}${DTYPE_SUFFIXES[dtype]}.onnx`) return dtype;
  }
  return undefined;
}

/**
 * The error for a requested ONNX file that the repository does not have, listing the variants it
 * does have (`available`: its .onnx paths, as from `listModelFiles()`).
 *
 * @param requested The path that was looked for, e.g. `onnx/model_q4.onnx`.
 * @param available The .onnx files the repository has.
 * @param location Where the repository is, for the message (a folder, `hub:org/name@main`, a URL).
 */
export function missingVariantError(
  requested: string,
  available: readonly string[],
  location: string,
): SlmkitError {
  const wanted = dtypeOfOnnxFile(requested);
  const what = wanted ? `${wanted} variant (${requested})` : requested;
  const variants = [...available].sort().map((path) => {
    const dtype = dtypeOfOnnxFile(path);
    return dtype ? `${dtype} (${path})` : path;
  });
  const has =
    variants.length > 0
      ? `It has: ${variants.join(', ')}. Pass one of these dtypes as \`dtype\`, or a path as \`modelFile\`.`
      : 'It has no .onnx files under onnx/; check that this is an ONNX export (e.g. an onnx-community repository).';
  return new SlmkitError('MODEL_FILE_MISSING', `${location} has no ${what}. ${has}`);
}
