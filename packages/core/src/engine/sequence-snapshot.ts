import type { DecoderSignature } from '../model/decoder-signature.js';
import type { TensorData } from '../spec/backend.js';
import { SlmkitError } from '../spec/errors.js';
import { KvCache } from './kv-cache.js';
import type { SequenceHost } from './sequence.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

/** The KV layout a snapshot records, checked field by field on restore. */
function kvLayout(signature: DecoderSignature) {
  return {
    kvType: signature.kvType,
    layers: signature.kvLayers.length,
    kvHeads: signature.numKeyValueHeads,
    headDim: signature.headDim,
  };
}

/** The bytes of a sequence snapshot: the model's fingerprint and KV layout, the token ids, the KV arrays. */
export async function encodeSequenceSnapshot(
  host: Pick<SequenceHost, 'signature' | 'fingerprint'>,
  cache: KvCache,
  tokenIds: readonly number[],
): Promise<Uint8Array> {
  const [model, kv] = await Promise.all([host.fingerprint(), cache.read()]);
  const tokens = Int32Array.from(tokenIds);
  const parts: Uint8Array[] = [new Uint8Array(tokens.buffer), new Uint8Array((tokens.length % 2) * 4)];
  for (const data of kv) parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return encodeSnapshot('sequence', { model, ...kvLayout(host.signature), tokens: tokens.length }, parts);
}

/**
 * A cache and its token ids from sequence snapshot bytes, after checking that they were saved by
 * this model: SlmkitError 'INVALID_SNAPSHOT' naming the mismatch otherwise.
 */
export async function decodeSequenceSnapshot(
  host: Pick<SequenceHost, 'signature' | 'fingerprint'>,
  snapshot: Uint8Array,
): Promise<{ cache: KvCache; tokens: number[] }> {
  const { header, payload } = decodeSnapshot(snapshot, 'sequence');
  const fingerprint = await host.fingerprint();
  if (header.model !== fingerprint) {
    throw new SlmkitError(
      'INVALID_SNAPSHOT',
      `The snapshot was saved by another model (graph ${String(header.model).slice(0, 16)}…; this model's graph is ${fingerprint.slice(0, 16)}…): restore it with the model that saved it.`,
    );
  }
  const expected = kvLayout(host.signature);
  for (const [field, value] of Object.entries(expected)) {
    if (header[field] !== value) {
      throw new SlmkitError(
        'INVALID_SNAPSHOT',
        `The snapshot's KV cache has ${field} ${String(header[field])}; this model's has ${value}.`,
      );
    }
  }
  const count = header.tokens as number;
  const perArray = count * expected.kvHeads * expected.headDim;
  const elementBytes = expected.kvType === 'float16' ? 2 : 4;
  const tokenBytes = Math.ceil(count / 2) * 8;
  if (payload.byteLength !== tokenBytes + 2 * expected.layers * perArray * elementBytes) {
    throw new SlmkitError('INVALID_SNAPSHOT', 'The snapshot is corrupt: its size does not match its header.');
  }
  const base = payload.byteOffset;
  const tokens = Array.from(new Int32Array(payload.buffer, base, count));
  const kv: TensorData[] = [];
  for (let i = 0; i < 2 * expected.layers; i++) {
    const offset = base + tokenBytes + i * perArray * elementBytes;
    // A copy: the caller's bytes stay theirs.
    kv.push(
      expected.kvType === 'float16'
        ? new Uint16Array(payload.buffer.slice(offset, offset + perArray * 2))
        : new Float32Array(payload.buffer.slice(offset, offset + perArray * 4)),
    );
  }
  return { cache: new KvCache(host.signature, 1, kv, count), tokens };
}
