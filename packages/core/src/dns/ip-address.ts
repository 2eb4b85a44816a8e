/**
 * IPv4 and IPv6 addresses between text and network bytes, for A/AAAA RDATA and the SVCB
 * `ipv4hint`/`ipv6hint` SvcParams. Text output follows RFC 5952 (lower case, longest zero run
 * compressed); input also accepts the embedded-IPv4 form (`::ffff:192.0.2.1`).
 */

/** `"192.0.2.1"` → 4 octets; throws `TypeError` for anything that is not dotted-quad decimal. */
export function ipv4ToBytes(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    out[i] = Number(p);
  });
  return out;
}

/** 4 octets → `"192.0.2.1"`. */
export function ipv4FromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new TypeError(`an IPv4 address is 4 octets, got ${bytes.length}`);
  return Array.from(bytes).join('.');
}

/** `"2001:db8::1"` → 16 octets; throws `TypeError` otherwise. */
export function ipv6ToBytes(text: string): Uint8Array {
  const bad = () => new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  let s = text;
  const out = new Uint8Array(16);
  // Embedded IPv4 in the last 32 bits.
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    try {
      tail = ipv4ToBytes(s.slice(lastColon + 1));
    } catch {
      throw bad();
    }
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = head.length + rest.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) throw bad();
  const words = [...head, ...new Array<string>(8 - groups).fill('0'), ...rest];
  words.forEach((w, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw bad();
    const v = parseInt(w, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** 16 octets → RFC 5952 text (`"2001:db8::1"`). */
export function ipv6FromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new TypeError(`an IPv6 address is 16 octets, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952 §4.2: compress the longest run of two or more zero words, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
