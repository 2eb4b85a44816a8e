/**
 * Domain names (RFC 1035 §3.1, §4.1.4, §5.1). rhttp represents a name as its presentation text,
 * fully qualified with a trailing dot (`proxy.example.net.`; the root is `.`), with `\.`, `\\`
 * and `\DDD` escapes for octets that are not plain in a label. Comparison is ASCII
 * case-insensitive (RFC 4343).
 */
import { DnsFormatError } from './errors.js';

/** RFC 1035 §2.3.4: labels are 63 octets or less. */
export const MAX_LABEL_LENGTH = 63;
/** RFC 1035 §2.3.4: names are 255 octets or less on the wire (length octets included). */
export const MAX_NAME_LENGTH = 255;

/** `"proxy.example.net"` → `"proxy.example.net."`; `""` → `"."`. */
export function fqdn(name: string): string {
  if (name === '' || name === '.') return '.';
  if (!name.endsWith('.')) return `${name}.`;
  // The final dot ends the name unless it is escaped: an odd run of backslashes before it.
  let backslashes = 0;
  for (let i = name.length - 2; i >= 0 && name.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 0 ? name : `${name}.`;
}

/** The labels of a presentation-format name, as octets (escapes resolved). Throws `TypeError`. */
export function nameToLabels(name: string): Uint8Array[] {
  const text = fqdn(name);
  if (text === '.') return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (current.length === 0) throw new TypeError(`empty label in domain name ${JSON.stringify(name)}`);
      labels.push(Uint8Array.from(current));
      current = [];
    } else if (c === 0x5c /* \ */) {
      const digits = /^[0-9]{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255) throw new TypeError(`bad escape \\${digits[0]} in domain name ${JSON.stringify(name)}`);
        current.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(text.charCodeAt(++i));
      } else {
        throw new TypeError(`trailing backslash in domain name ${JSON.stringify(name)}`);
      }
    } else {
      if (c > 0x7e || c < 0x20) throw new TypeError(`domain name ${JSON.stringify(name)} has a character that needs a \\DDD escape`);
      current.push(c);
    }
    if (current.length > MAX_LABEL_LENGTH) throw new TypeError(`label longer than ${MAX_LABEL_LENGTH} octets in domain name ${JSON.stringify(name)}`);
  }
  return labels;
}

/** Presentation text of a list of labels: `["proxy","example","net"]` → `"proxy.example.net."`. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  if (labels.length === 0) return '.';
  let out = '';
  for (const label of labels) {
    for (const b of label) {
      if (b === 0x2e || b === 0x5c || b === 0x22 || b === 0x28 || b === 0x29 || b === 0x3b || b === 0x40 || b === 0x24) out += `\\${String.fromCharCode(b)}`;
      else if (b < 0x21 || b > 0x7e) out += `\\${b.toString().padStart(3, '0')}`;
      else out += String.fromCharCode(b);
    }
    out += '.';
  }
  return out;
}

/** Uncompressed wire form of a name (RFC 1035 §3.1). Throws `TypeError` for invalid names. */
export function encodeName(name: string): Uint8Array {
  const labels = nameToLabels(name);
  const length = labels.reduce((n, l) => n + 1 + l.length, 1);
  if (length > MAX_NAME_LENGTH) throw new TypeError(`domain name ${JSON.stringify(name)} is ${length} octets on the wire, more than ${MAX_NAME_LENGTH}`);
  const out = new Uint8Array(length);
  let at = 0;
  for (const l of labels) {
    out[at++] = l.length;
    out.set(l, at);
    at += l.length;
  }
  return out; // the final octet is already 0 (root label)
}

/** A name read from the wire and the offset just after it (after the first pointer, if any). */
export interface DecodedName {
  name: string;
  end: number;
}

/**
 * Reads a name at `offset` in `message`. With `compression` (the default; RFC 1035 §4.1.4),
 * pointers are followed; each must point strictly before every octet this name has used so
 * far, which rejects loops and forward references, and inside the message. Without it (SVCB
 * TargetName, RFC 9460 §2.2), a pointer is an error.
 */
export function decodeName(message: Uint8Array, offset: number, compression = true): DecodedName {
  const labels: Uint8Array[] = [];
  let at = offset;
  let end = -1;
  let lowest = offset; // lowest offset of this name read so far
  let wireLength = 1;
  for (;;) {
    if (at >= message.length) throw new DnsFormatError(`domain name at offset ${offset} runs past the end of the data`);
    const len = message[at];
    if ((len & 0xc0) === 0xc0) {
      if (!compression) throw new DnsFormatError(`compressed domain name at offset ${offset} where compression is not allowed`);
      if (at + 1 >= message.length) throw new DnsFormatError(`compression pointer at offset ${at} is truncated`);
      const target = ((len & 0x3f) << 8) | message[at + 1];
      if (end < 0) end = at + 2;
      if (target >= message.length) throw new DnsFormatError(`compression pointer at offset ${at} points outside the message (to ${target})`);
      if (target >= lowest) throw new DnsFormatError(`compression pointer at offset ${at} points forward or loops (to ${target})`);
      lowest = target;
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type 0x${(len & 0xc0).toString(16)} at offset ${at}`);
    if (len === 0) {
      if (end < 0) end = at + 1;
      return { name: labelsToName(labels), end };
    }
    wireLength += 1 + len;
    if (wireLength > MAX_NAME_LENGTH) throw new DnsFormatError(`domain name at offset ${offset} is longer than ${MAX_NAME_LENGTH} octets`);
    if (at + 1 + len > message.length) throw new DnsFormatError(`label at offset ${at} runs past the end of the data`);
    labels.push(message.subarray(at + 1, at + 1 + len));
    at += 1 + len;
  }
}

/** Canonical text for comparisons: fully qualified, ASCII lower case, escapes normalised. */
export function canonicalName(name: string): string {
  const labels = nameToLabels(name).map((l) => l.map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b)));
  return labelsToName(labels);
}

/** True when two names are the same (RFC 4343: ASCII case-insensitive). */
export function namesEqual(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}
