/**
 * IPv4 and IPv6 addresses between text and network bytes, for A/AAAA RDATA and the SVCB
 * `ipv4hint`/`ipv6hint` SvcParams: the throwing form of the one parser and formatter in
 * origin/ip-address.ts (strict dotted quad; IPv6 with the embedded-IPv4 form; RFC 5952 text).
 */
import { formatIPv6, parseIPv4, parseIPv6 } from '../origin/ip-address.js';

/** `"192.0.2.1"` → 4 octets; throws `TypeError` for anything that is not dotted-quad decimal. */
export function ipv4ToBytes(text: string): Uint8Array {
  const bytes = parseIPv4(text);
  if (bytes === null) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  return bytes;
}

/** 4 octets → `"192.0.2.1"`. */
export function ipv4FromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new TypeError(`an IPv4 address is 4 octets, got ${bytes.length}`);
  return Array.from(bytes).join('.');
}

/** `"2001:db8::1"` → 16 octets; throws `TypeError` otherwise. */
export function ipv6ToBytes(text: string): Uint8Array {
  const bytes = parseIPv6(text);
  if (bytes === null) throw new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return bytes;
}

/** 16 octets → RFC 5952 text (`"2001:db8::1"`). */
export function ipv6FromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new TypeError(`an IPv6 address is 16 octets, got ${bytes.length}`);
  return formatIPv6(bytes);
}
