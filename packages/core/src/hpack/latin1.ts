/**
 * Field names and values are octets (RFC 9113 §8.2); rhttp holds them as strings with one char per
 * octet (ISO-8859-1), so string length equals octet length.
 */

/** Octets handed to one String.fromCharCode call: well under engines' argument limits. */
const CHUNK = 0x2000;

/** Octets `bytes[start..end)` as a Latin-1 string. */
export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 16) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  if (n <= CHUNK) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(i + CHUNK, end)) as unknown as number[]);
  }
  return s;
}
