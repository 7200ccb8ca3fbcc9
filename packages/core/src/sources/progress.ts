/**
 * Progress of loading a model, reported through `onProgress`.
 *
 * - `download`: bytes of one file arrived (or were found in the cache: `cached: true`, reported once
 *   with `fileLoaded === fileTotal`). `loaded` / `total` count all files of this load together;
 *   `total` is undefined while some file's size is unknown.
 * - `load`: an .onnx file is being turned into an inference session.
 * - `ready`: the model can be used.
 *
 * @example
 * ```ts
 * onProgress: (p) => {
 *   if (p.phase === 'download' && p.total) bar.update(p.loaded / p.total);
 * }
 * ```
 */
export type LoadProgress =
  | {
      phase: 'download';
      /** Path within the repository, e.g. `onnx/model_q4.onnx`. */
      file: string;
      fileLoaded: number;
      fileTotal: number | undefined;
      loaded: number;
      total: number | undefined;
      /** True when the file came from the cache and nothing was downloaded for it. */
      cached: boolean;
    }
  | { phase: 'load'; file: string }
  | { phase: 'ready' };

/** A progress callback, as taken by `onProgress` options. */
export type LoadProgressCallback = (progress: LoadProgress) => void;
