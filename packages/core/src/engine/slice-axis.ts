import type { TensorData } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';

/**
 * The dims of the first `length` entries along `axis` of a tensor of `dims` (what
 * `InferenceSession.sliceResident` returns), for a backend that slices where its data lives.
 * Refuses an `axis` or `length` outside `dims` with SlmkitError 'INVALID_INPUT'.
 */
export function slicedDims(dims: readonly number[], axis: number, length: number): number[] {
  if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length) {
    throw new SlmkitError('INVALID_INPUT', `Cannot slice along axis ${axis} of a tensor of dims [${dims}].`);
  }
  if (!Number.isInteger(length) || length < 0 || length > dims[axis]) {
    throw new SlmkitError(
      'INVALID_INPUT',
      `Cannot keep ${length} entries along axis ${axis} of a tensor of dims [${dims}].`,
    );
  }
  return dims.map((size, i) => (i === axis ? length : size));
}

/**
 * The first `length` entries along `axis` of the row-major `data` of a tensor of `dims`, in a new
 * array of the same type (each run of whole dims after `axis` is one copy).
 */
export function sliceAlongAxis(
  data: TensorData,
  dims: readonly number[],
  axis: number,
  length: number,
): TensorData {
  slicedDims(dims, axis, length);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const rows = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const from = dims[axis] * inner;
  const keep = length * inner;
  const source = data as Float32Array;
  const target = new (source.constructor as Float32ArrayConstructor)(rows * keep);
  for (let row = 0; row < rows; row++) target.set(source.subarray(row * from, row * from + keep), row * keep);
  return target as TensorData;
}
