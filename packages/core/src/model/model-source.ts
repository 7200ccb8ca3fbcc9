import type { ModelFile } from '../spec/backend.js';

/**
 * Read access to one model repository laid out like a Hugging Face / Optimum ONNX export
 * (config.json, tokenizer.json, onnx/model.onnx, ...), wherever it lives: a local folder, a hub
 * repo mirrored into a {@link ModelStorage}, a browser cache.
 */
export interface ModelSourceReader {
  /** Where the files come from, for messages (a folder path, `hub:org/name@main`, a URL). */
  readonly location: string;
  /** The text of a file, or undefined when the repository has no such file. */
  readText(path: string): Promise<string | undefined>;
  /**
   * An .onnx file ready for a backend, with its external data files (`model.onnx_data`,
   * `model.onnx_data_1`, ...), or undefined when the repository has no such file.
   */
  modelFile(path: string): Promise<ModelFile | undefined>;
  /** The .onnx files the repository has under `onnx/` (used to list variants in errors). */
  listModelFiles(): Promise<string[]>;
  /**
   * A digest of an .onnx file and its external data (e.g. their sha256), when the reader knows it
   * or can compute it more cheaply than core could from the bytes. It goes into the model's
   * fingerprint, which saved sequences are checked against; without it core takes a sampled digest
   * of the bytes the backend is given (`model/fingerprint.ts`), or the adapter's digest of the local file.
   */
  contentDigest?(path: string): Promise<string | undefined>;
}
