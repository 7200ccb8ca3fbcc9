let table: Float32Array | undefined;

/** Converts IEEE half-precision bits to float32 values (through a 64K-entry table built on first use). */
export function float16ToFloat32(source: Uint16Array, target: Float32Array): void {
  if (!table) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = decodeHalf(bits);
  }
  for (let i = 0; i < source.length; i++) target[i] = table[source[i]];
}

function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
