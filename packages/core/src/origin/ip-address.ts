/**
 * IP literals as they appear in origins, authorities and certificate iPAddress SANs: strict
 * parsing to bytes and one canonical text form, so that `[::1]`, `[0:0::1]` and a SAN holding
 * the 16 bytes of ::1 all compare equal.
 */

/**
 * Strict dotted-quad IPv4 (`127.0.0.1`): four decimal parts 0–255 without leading zeros.
 * Returns null for anything else (the WHATWG URL shorthands `127.1` and `0x7f.1` are refused:
 * they are not what a certificate or a Host header should carry).
 */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

/**
 * IPv6 text (RFC 4291 §2.2, without brackets and without a zone id) to 16 bytes; an embedded
 * dotted-quad tail (`::ffff:192.0.2.1`) is accepted. Returns null for anything else.
 */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null; // 45 = longest valid form
  let head = text;
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = parseIPv4(text.slice(lastColon + 1));
    if (tail === null) return null;
    head = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::" and "1::1.2.3.4" leaves "1::"; a single trailing ":" is padding.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsNeeded = tail === null ? 8 : 6;
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const groups: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      groups.push(parseInt(g, 16));
    }
    return groups;
  };
  const left = parseGroups(halves[0]);
  const right = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (left === null || right === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = groupsNeeded - left.length - right.length;
    if (missing < 1) return null; // "::" stands for at least one zero group
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    if (left.length !== groupsNeeded) return null;
    groups = left;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail !== null) bytes.set(tail, 12);
  return bytes;
}

/** 16 bytes to the canonical text of RFC 5952 §4 (lower-case, longest zero run as "::"). */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 §4.2.3: compress the longest run of two or more zero groups, the first if tied.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** 4 or 16 bytes (an iPAddress SAN) to canonical text; null for any other length. */
export function formatIPAddress(bytes: Uint8Array): string | null {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length === 16) return formatIPv6(bytes);
  return null;
}

/**
 * A host as URLs and origins write it, without an IPv6 literal's brackets: the form that socket
 * connects, DNS lookups and certificate name checks take (`[::1]` → `::1`; names and IPv4 as they are).
 */
export function unbracketHost(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 0x5b && host.charCodeAt(host.length - 1) === 0x5d ? host.slice(1, -1) : host;
}

/**
 * Canonical text of an IP literal given as IPv4, bare IPv6 or bracketed IPv6; null if `text` is
 * not an IP literal. IPv6 comes back without brackets.
 */
export function canonicalIPAddress(text: string): string | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) return v4.join('.');
  const v6 = parseIPv6(unbracketHost(text));
  return v6 === null ? null : formatIPv6(v6);
}
