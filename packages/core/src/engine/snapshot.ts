import { SlmkitError } from '../spec/errors.js';

/**
 * The binary container of saved sequences and chats:
 *
 * ```
 * "SLMKSNAP"             8 bytes, magic
 * version                u32 little-endian (SNAPSHOT_VERSION)
 * header length          u32
 * header                 UTF-8 JSON: { kind, payloadBytes, ...fields of the kind }
 * padding                zero bytes up to a multiple of 8
 * payload                payloadBytes bytes (a sequence: token ids as int32, then the KV arrays)
 * checksum               u32: snapshotChecksum of every byte before it
 * ```
 *
 * The checksum (FNV-1a over 32-bit words) catches truncated and corrupted files without the cost
 * of a cryptographic hash over hundreds of megabytes. It covers the whole container, header
 * included, so damage to what a header holds (a chat's messages) is caught like damage to the
 * payload. Version 1 had the checksum in the header, over the payload only; it is not read.
 */
export const SNAPSHOT_VERSION = 2;
const MAGIC = 'SLMKSNAP';
const PREFIX_BYTES = 16;
const CHECKSUM_BYTES = 4;

/** The header fields every snapshot has. */
export interface SnapshotHeader {
  readonly kind: 'sequence' | 'chat';
  readonly payloadBytes: number;
  readonly [field: string]: unknown;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * The checksum a snapshot ends with, of all its bytes before it (`bytes` without the last four):
 * FNV-1a over whole 32-bit little-endian words, then the trailing bytes.
 */
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
  const header = new TextEncoder().encode(JSON.stringify({ ...fields, kind, payloadBytes }));
  const start = align8(PREFIX_BYTES + header.byteLength);
  const end = start + payloadBytes;
  const out = new Uint8Array(end + CHECKSUM_BYTES);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, header.byteLength, true);
  out.set(header, PREFIX_BYTES);
  let at = start;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  view.setUint32(end, snapshotChecksum(out.subarray(0, end)), true);
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
      version >= 1 && version < SNAPSHOT_VERSION
        ? `The snapshot has format version ${version}, from an older slmkit; this slmkit reads version ${SNAPSHOT_VERSION} only. Save the sequence or chat again with this version.`
        : `The snapshot has format version ${version}; this slmkit reads version ${SNAPSHOT_VERSION}. Save it again with this version, or restore it with the slmkit that saved it.`,
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
  if (typeof header !== 'object' || header === null)
    invalid('The snapshot header is corrupt (not an object).');
  if (header.kind !== kind) invalid(`The snapshot is of a ${String(header.kind)}, not of a ${kind}.`);
  if (!Number.isSafeInteger(header.payloadBytes) || header.payloadBytes < 0)
    invalid('The snapshot header is corrupt (its payload size is not a byte count).');
  const start = align8(PREFIX_BYTES + headerBytes);
  const end = start + header.payloadBytes;
  if (bytes.byteLength !== end + CHECKSUM_BYTES) {
    invalid(
      `The snapshot is ${bytes.byteLength < end + CHECKSUM_BYTES ? 'truncated' : 'too long'}: ${bytes.byteLength} bytes where its header says ${end + CHECKSUM_BYTES}.`,
    );
  }
  if (snapshotChecksum(bytes.subarray(0, end)) !== view.getUint32(end, true))
    invalid('The snapshot is corrupt (its checksum does not match).');
  // The KV arrays are read as typed arrays, which need aligned offsets: copy when the caller's view is not.
  const payload = bytes.byteOffset % 8 === 0 ? bytes.subarray(start, end) : bytes.slice(start, end);
  return { header, payload };
}
