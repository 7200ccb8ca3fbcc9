import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_VERSION } from '../../packages/core/src/engine/snapshot.js';

const payload = [Uint8Array.from({ length: 37 }, (_, i) => i * 7), new Uint8Array([1, 2, 3])];
const snapshot = () => encodeSnapshot('sequence', { model: 'abc', tokens: 3 }, payload);
const refused = (bytes: Uint8Array, kind: 'sequence' | 'chat', message: RegExp) =>
  expect(() => decodeSnapshot(bytes, kind)).toThrow(
    expect.objectContaining({ code: 'INVALID_SNAPSHOT', message: expect.stringMatching(message) }),
  );

describe('snapshot container', () => {
  it('round-trips its header fields and payload, also from an unaligned view', () => {
    const bytes = snapshot();
    const { header, payload: read } = decodeSnapshot(bytes, 'sequence');
    expect(header).toMatchObject({ kind: 'sequence', model: 'abc', tokens: 3, payloadBytes: 40 });
    expect(Array.from(read)).toEqual([...payload[0], ...payload[1]]);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(Array.from(decodeSnapshot(shifted.subarray(3), 'sequence').payload)).toEqual(Array.from(read));
  });

  it('names what is wrong: not a snapshot, another version, another kind, truncated, corrupt', () => {
    refused(new TextEncoder().encode('{"hello": 1}'), 'sequence', /not an slmkit snapshot/);
    const future = snapshot();
    new DataView(future.buffer).setUint32(8, SNAPSHOT_VERSION + 1, true);
    refused(
      future,
      'sequence',
      new RegExp(`format version ${SNAPSHOT_VERSION + 1}; this slmkit reads version ${SNAPSHOT_VERSION}`),
    );
    refused(snapshot(), 'chat', /of a sequence, not of a chat/);
    refused(snapshot().subarray(0, 20), 'sequence', /truncated/);
    refused(snapshot().subarray(0, snapshot().length - 1), 'sequence', /truncated/);
    const longer = new Uint8Array(snapshot().length + 8);
    longer.set(snapshot());
    refused(longer, 'sequence', /too long/);
    const corrupt = snapshot();
    corrupt[corrupt.length - 2] ^= 1;
    refused(corrupt, 'sequence', /corrupt \(its checksum/);
    const header = snapshot();
    header[17] = 0x7b; // breaks the JSON
    refused(header, 'sequence', /header is corrupt/);
  });
});
