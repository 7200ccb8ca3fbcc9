/** Reads an ONNX ModelProto (from a path or bytes, with external data) into plain typed arrays. */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModelFile, TensorType, ValueInfo } from '@slmkit/core/backend';
import { DataType, onnx, type pb, toNumber } from '../fixtures/onnx-proto.js';

export interface LoadedTensor {
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface LoadedModel {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, LoadedTensor>;
}

const elemTypes: Partial<Record<number, TensorType>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.BOOL]: 'bool',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
};

function toValueInfo(v: pb.IValueInfoProto): ValueInfo {
  const t = v.type?.tensorType;
  const type = elemTypes[t?.elemType ?? -1];
  if (!type) throw new Error(`${v.name}: unsupported element type ${t?.elemType}`);
  const shape = t?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue)));
  return { name: v.name!, type, ...(shape ? { shape } : {}) };
}

/** Finds the bytes of one external-data file: from ModelFile.externalData, or beside ModelFile.path. */
async function externalFile(model: ModelFile, location: string): Promise<Uint8Array> {
  const given = model.externalData?.find((e) => e.path === location || e.path.endsWith(`/${location}`));
  if (given) return typeof given.data === 'string' ? readFile(given.data) : given.data;
  if (model.path) return readFile(join(dirname(model.path), location));
  throw new Error(`${model.name}: external data '${location}' was not provided`);
}

async function tensorBytes(
  t: pb.ITensorProto,
  model: ModelFile,
  files: Map<string, Promise<Uint8Array>>,
): Promise<Uint8Array | undefined> {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const kv = new Map((t.externalData ?? []).map((e) => [e.key, e.value ?? '']));
    const location = kv.get('location');
    if (!location) throw new Error(`${t.name}: external data without a location`);
    if (!files.has(location)) files.set(location, externalFile(model, location));
    const file = await files.get(location)!;
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : file.byteLength - offset;
    if (offset + length > file.byteLength)
      throw new Error(`${t.name}: external data beyond the end of ${location}`);
    return file.subarray(offset, offset + length);
  }
  return t.rawData && t.rawData.byteLength > 0 ? t.rawData : undefined;
}

async function loadTensor(
  t: pb.ITensorProto,
  model: ModelFile,
  files: Map<string, Promise<Uint8Array>>,
): Promise<LoadedTensor | undefined> {
  const dims = (t.dims ?? []).map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = await tensorBytes(t, model, files);
  // Copy raw bytes so the typed array is aligned whatever the offset inside the protobuf.
  const copy = (width: number) => {
    if (!bytes || bytes.byteLength !== count * width)
      throw new Error(`${t.name}: expected ${count * width} bytes`);
    return new Uint8Array(bytes).buffer; // a copy: protobufjs hands out Buffer views of a shared pool
  };
  if (t.dataType === DataType.FLOAT) {
    const data = bytes ? new Float32Array(copy(4)) : Float32Array.from(t.floatData ?? []);
    return { dims, data };
  }
  if (t.dataType === DataType.INT64) {
    const data = bytes
      ? new BigInt64Array(copy(8))
      : BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v))));
    return { dims, data };
  }
  return undefined; // other types are not used by the reference
}

export async function loadOnnxModel(model: ModelFile): Promise<LoadedModel> {
  const bytes = model.data ?? (model.path ? await readFile(model.path) : undefined);
  if (!bytes) throw new Error(`${model.name}: neither path nor data given`);
  const proto = onnx.ModelProto.decode(bytes);
  const graph = proto.graph;
  if (!graph) throw new Error(`${model.name}: no graph`);
  const files = new Map<string, Promise<Uint8Array>>();
  const initializers = new Map<string, LoadedTensor>();
  for (const t of graph.initializer ?? []) {
    const loaded = await loadTensor(t, model, files);
    if (loaded) initializers.set(t.name ?? '', loaded);
  }
  return {
    inputs: (graph.input ?? []).map(toValueInfo),
    outputs: (graph.output ?? []).map(toValueInfo),
    initializers,
  };
}
