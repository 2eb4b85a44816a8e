/**
 * SVCB/HTTPS presentation format (RFC 9460 §2.1, Appendix A): `1 proxy.example.net.
 * alpn=h2-reverse port=8443 ipv4hint=127.0.0.1`, both ways, and whole zone-file lines for
 * printing records. Values are RFC 1035 §5.1 character-strings (quoted or not, `\X` and `\DDD`
 * escapes); comma-separated values (`alpn`, `mandatory`, hints) follow the value-list rules of
 * Appendix A.1 (`\,` and `\\` inside an item).
 *
 * @example
 * ```ts
 * parseSvcbRdata('16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1');
 * formatSvcbRdata({ priority: 1, target: 'proxy.example.net.', params: { alpn: ['h2-reverse'], port: 8443 } });
 * // → '1 proxy.example.net. alpn=h2-reverse port=8443'
 * ```
 */
import { SvcbFormatError } from './errors.js';
import { className, type DnsRecord, rrTypeName } from './message.js';
import { fqdn, nameToLabels } from './name.js';
import { parseSvcParamKeyName, SvcParamKey, svcParamKeyName, type SvcbRecord, encodeSvcbRdata, type SvcParams, decodeSvcbRdata, svcParamKeys, encodeSvcParamValue } from './svcb.js';

// ---- character-strings (RFC 1035 §5.1) ----

/** Escapes octets as an unquoted character-string: plain printable ASCII stays, `\` and
 * specials get a backslash, everything else is `\DDD`. */
function escapeCharString(bytes: Iterable<number>): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c || b === 0x22 || b === 0x3b || b === 0x28 || b === 0x29) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x21 || b > 0x7e) out += `\\${b.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/** Resolves a (possibly quoted) character-string to octets. */
function unescapeCharString(text: string): number[] {
  let s = text;
  if (s.startsWith('"')) {
    if (s.length < 2 || !s.endsWith('"')) throw new SvcbFormatError(`unterminated quoted value ${text}`);
    s = s.slice(1, -1);
  }
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      const digits = /^[0-9]{3}/.exec(s.slice(i + 1, i + 4));
      if (digits) {
        if (Number(digits[0]) > 255) throw new SvcbFormatError(`bad escape \\${digits[0]} in ${text}`);
        out.push(Number(digits[0]));
        i += 3;
      } else if (i + 1 < s.length) {
        out.push(s.charCodeAt(++i));
      } else {
        throw new SvcbFormatError(`trailing backslash in ${text}`);
      }
    } else if (c === 0x22) {
      throw new SvcbFormatError(`unescaped quote inside the value ${text}`);
    } else if (c > 0xff) {
      throw new SvcbFormatError(`character above U+00FF in ${text}; use \\DDD escapes`);
    } else {
      out.push(c);
    }
  }
  return out;
}

/** RFC 9460 Appendix A.1: splits a value-list on unescaped commas; `\,` and `\\` are literal. */
function splitValueList(octets: number[]): string[] {
  const items: string[] = [];
  let current = '';
  for (let i = 0; i < octets.length; i++) {
    const c = octets[i];
    if (c === 0x5c && i + 1 < octets.length) current += String.fromCharCode(octets[++i]);
    else if (c === 0x2c) {
      items.push(current);
      current = '';
    } else current += String.fromCharCode(c);
  }
  items.push(current);
  return items;
}

function joinValueList(items: readonly string[]): number[] {
  const out: number[] = [];
  items.forEach((item, n) => {
    if (n > 0) out.push(0x2c);
    for (let i = 0; i < item.length; i++) {
      const c = item.charCodeAt(i);
      if (c === 0x2c || c === 0x5c) out.push(0x5c);
      out.push(c);
    }
  });
  return out;
}

// ---- tokens ----

/** Splits zone-file text into tokens: whitespace and `( )` separate, `"…"` groups, `;` comments. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s|\(|\)/.test(c)) {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    let token = '';
    let quoted = false;
    while (i < text.length) {
      const d = text[i];
      if (!quoted && (/\s/.test(d) || d === '(' || d === ')' || d === ';')) break;
      if (d === '\\' && i + 1 < text.length) {
        token += d + text[i + 1];
        i += 2;
        continue;
      }
      if (d === '"') quoted = !quoted;
      token += d;
      i++;
    }
    if (quoted) throw new SvcbFormatError(`unterminated quote in ${JSON.stringify(text)}`);
    tokens.push(token);
  }
  return tokens;
}

// ---- SVCB RDATA ----

/** Keys whose presentation value may not be empty (RFC 9460 Appendix D.3, §7). */
const VALUE_REQUIRED = new Set<number>([SvcParamKey.MANDATORY, SvcParamKey.ALPN, SvcParamKey.PORT, SvcParamKey.IPV4HINT, SvcParamKey.ECH, SvcParamKey.IPV6HINT]);

/**
 * Parses SVCB/HTTPS RDATA in presentation format (`PRIORITY TARGET key=value …`). Parameters
 * may come in any order; the result is validated exactly like wire data (duplicates, missing
 * mandatory keys, bad lengths → `SvcbFormatError`).
 */
export function parseSvcbRdata(text: string): SvcbRecord {
  const tokens = tokenize(text);
  if (tokens.length < 2) throw new SvcbFormatError(`SVCB RDATA needs SvcPriority and TargetName, got ${JSON.stringify(text)}`);
  const [priorityText, targetText, ...paramTokens] = tokens;
  if (!/^[0-9]{1,5}$/.test(priorityText) || Number(priorityText) > 0xffff) throw new SvcbFormatError(`SvcPriority ${JSON.stringify(priorityText)} is not a number in 0..65535`);
  let target: string;
  try {
    target = fqdn(targetText);
    nameToLabels(target);
  } catch (e) {
    throw new SvcbFormatError(`bad TargetName ${JSON.stringify(targetText)}: ${(e as Error).message}`, { cause: e });
  }
  const params: SvcParams = {};
  const seen = new Set<number>();
  for (const token of paramTokens) {
    const eq = token.indexOf('=');
    const keyText = eq < 0 ? token : token.slice(0, eq);
    const key = parseSvcParamKeyName(keyText);
    // RFC 9460 §2.1: SvcParamKeys MUST NOT appear more than once.
    if (seen.has(key)) throw new SvcbFormatError(`SvcParamKey ${svcParamKeyName(key)} appears twice`);
    seen.add(key);
    const octets = eq < 0 ? [] : unescapeCharString(token.slice(eq + 1));
    if (octets.length === 0 && VALUE_REQUIRED.has(key)) throw new SvcbFormatError(`${svcParamKeyName(key)} needs a value`);
    parseParamValue(params, key, octets);
  }
  const record: SvcbRecord = { priority: Number(priorityText), target, params };
  // Same rules as the wire: encode and decode again (sorts mandatory, checks every key).
  return decodeSvcbRdata(encodeSvcbRdata(record));
}

function parseParamValue(params: SvcParams, key: number, octets: number[]): void {
  const text = String.fromCharCode(...octets);
  const list = () => splitValueList(octets);
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof SvcbFormatError) throw e;
      throw new SvcbFormatError(`${svcParamKeyName(key)}=${text}: ${(e as Error).message}`, { cause: e });
    }
  };
  switch (key) {
    case SvcParamKey.MANDATORY:
      params.mandatory = list().map(parseSvcParamKeyName);
      return;
    case SvcParamKey.ALPN:
      params.alpn = list();
      return;
    case SvcParamKey.NO_DEFAULT_ALPN:
      // RFC 9460 §7.1.1: for "no-default-alpn", the presentation value SHALL be empty.
      if (octets.length !== 0) throw new SvcbFormatError(`no-default-alpn takes no value, got ${JSON.stringify(text)}`);
      params.noDefaultAlpn = true;
      return;
    case SvcParamKey.PORT:
      if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 0xffff) throw new SvcbFormatError(`port=${text} is not a number in 0..65535`);
      params.port = Number(text);
      return;
    case SvcParamKey.IPV4HINT:
      params.ipv4hint = list();
      wrap(() => encodeSvcParamValue(params, key));
      return;
    case SvcParamKey.ECH:
      params.ech = wrap(() => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0)));
      return;
    case SvcParamKey.IPV6HINT:
      params.ipv6hint = list();
      wrap(() => encodeSvcParamValue(params, key));
      return;
    default:
      (params.unknown ??= new Map()).set(key, Uint8Array.from(octets));
  }
}

/** Presentation text of one SvcParam value (without `key=`), or `undefined` for no value. */
function formatParamValue(params: SvcParams, key: number): string | undefined {
  switch (key) {
    case SvcParamKey.MANDATORY:
      return (params.mandatory ?? []).slice().sort((a, b) => a - b).map(svcParamKeyName).join(',');
    case SvcParamKey.ALPN:
      return escapeCharString(joinValueList(params.alpn ?? []));
    case SvcParamKey.NO_DEFAULT_ALPN:
      return undefined;
    case SvcParamKey.PORT:
      return String(params.port);
    case SvcParamKey.IPV4HINT:
      return (params.ipv4hint ?? []).join(',');
    case SvcParamKey.ECH:
      return btoa(String.fromCharCode(...(params.ech ?? [])));
    case SvcParamKey.IPV6HINT:
      return (params.ipv6hint ?? []).join(',');
    default: {
      const value = params.unknown?.get(key) ?? new Uint8Array(0);
      return value.length === 0 ? undefined : escapeCharString(value);
    }
  }
}

/** `1 proxy.example.net. alpn=h2-reverse port=8443` (keys in increasing order). */
export function formatSvcbRdata(record: SvcbRecord): string {
  const parts = [String(record.priority), fqdn(record.target)];
  for (const key of svcParamKeys(record.params)) {
    const value = formatParamValue(record.params, key);
    parts.push(value === undefined ? svcParamKeyName(key) : `${svcParamKeyName(key)}=${value}`);
  }
  return parts.join(' ');
}

/** A zone-file line for a record: `owner TTL IN TYPE rdata` (RFC 3597 `\# n hex` for raw RDATA). */
export function formatRecord(rr: DnsRecord): string {
  const d = rr.data;
  let rdata: string;
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      rdata = d.address;
      break;
    case 'cname':
      rdata = d.target;
      break;
    case 'svcb':
      rdata = formatSvcbRdata(d.svcb);
      break;
    case 'raw':
      rdata = `\\# ${d.bytes.length}${d.bytes.length ? ' ' : ''}${Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  return `${fqdn(rr.name)} ${rr.ttl} ${className(rr.class)} ${rrTypeName(rr.type)} ${rdata}`;
}
