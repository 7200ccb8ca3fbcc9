import { SlmkitError } from '../spec/errors.js';

/**
 * The binary container of saved sequences and chats:
 *
 * ```
 * "SLMKSNAP"             8 bytes, magic
 * version                u32 little-endian (SNAPSHOT_VERSION)
 * header length          u32
 * header                 UTF-8 JSON: { kind, payloadBytes, checksum, ...fields of the kind }
 * padding                zero bytes up to a multiple of 8
 * payload                payloadBytes bytes (a sequence: token ids as int32, then the KV arrays)
 * ```
 *
 * The checksum (FNV-1a over the payload's 32-bit words) catches truncated and corrupted files
 * without the cost of a cryptographic hash over hundreds of megabytes.
 */
export const SNAPSHOT_VERSION = 1;
const MAGIC = 'SLMKSNAP';
const PREFIX_BYTES = 16;

/** The header fields every snapshot has. */
export interface SnapshotHeader {
  readonly kind: 'sequence' | 'chat';
  readonly payloadBytes: number;
  readonly checksum: number;
  readonly [field: string]: unknown;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** The checksum a snapshot's header holds of its payload: FNV-1a over whole 32-bit words, then the trailing bytes. */
export function snapshotChecksum(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  const words = Math.floor(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words; i++) hash = Math.imul(hash ^ view.getUint32(i * 4, true), 0x01000193);
  for (let i = words * 4; i < bytes.byteLength; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash >>> 0;
}

/** Writes a snapshot of `kind` with extra header `fields` and the payload parts, concatenated. */
export function encodeSnapshot(
  kind: SnapshotHeader['kind'],
  fields: Record<string, unknown>,
  parts: readonly Uint8Array[],
): Uint8Array {
  const payloadBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const payload = new Uint8Array(payloadBytes);
  let at = 0;
  for (const part of parts) {
    payload.set(part, at);
    at += part.byteLength;
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ ...fields, kind, payloadBytes, checksum: snapshotChecksum(payload) }),
  );
  const start = align8(PREFIX_BYTES + header.byteLength);
  const out = new Uint8Array(start + payloadBytes);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, header.byteLength, true);
  out.set(header, PREFIX_BYTES);
  out.set(payload, start);
  return out;
}

function invalid(message: string): never {
  throw new SlmkitError('INVALID_SNAPSHOT', message);
}

/**
 * Reads a snapshot written by {@link encodeSnapshot}, checking magic, version, kind, length and
 * checksum. The payload is a view into `bytes`, aligned to 8 bytes within it.
 */
export function decodeSnapshot(
  bytes: Uint8Array,
  kind: SnapshotHeader['kind'],
): { header: SnapshotHeader; payload: Uint8Array } {
  if (!(bytes instanceof Uint8Array))
    invalid(`A snapshot is a Uint8Array (from save()); got ${typeof bytes}.`);
  if (bytes.byteLength < PREFIX_BYTES || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    invalid('These bytes are not an slmkit snapshot (no SLMKSNAP header): pass what save() returned.');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) {
    invalid(
      `The snapshot has format version ${version}; this slmkit reads version ${SNAPSHOT_VERSION}. Save it again with this version.`,
    );
  }
  const headerBytes = view.getUint32(12, true);
  if (PREFIX_BYTES + headerBytes > bytes.byteLength)
    invalid('The snapshot is truncated (its header is cut off).');
  let header: SnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes)));
  } catch {
    invalid('The snapshot header is corrupt (not valid JSON).');
  }
  if (header.kind !== kind) invalid(`The snapshot is of a ${String(header.kind)}, not of a ${kind}.`);
  const start = align8(PREFIX_BYTES + headerBytes);
  if (bytes.byteLength !== start + header.payloadBytes) {
    invalid(
      `The snapshot is ${bytes.byteLength < start + header.payloadBytes ? 'truncated' : 'too long'}: ${bytes.byteLength} bytes where its header says ${start + header.payloadBytes}.`,
    );
  }
  // The KV arrays are read as typed arrays, which need aligned offsets: copy when the caller's view is not.
  const payload = bytes.byteOffset % 8 === 0 ? bytes.subarray(start) : bytes.slice(start);
  if (snapshotChecksum(payload) !== header.checksum)
    invalid('The snapshot is corrupt (its checksum does not match).');
  return { header, payload };
}
