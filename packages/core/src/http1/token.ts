/**
 * The HTTP/1.1 token grammar (RFC 9110 §5.6.2), shared by the head writers and the parsers: a
 * method and a field name are tokens.
 *
 *   token = 1*tchar
 *   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */

/** `TCHAR[c]` is 1 when the octet (or char code) `c` is a tchar. */
export const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (const c of "!#$%&'*+-.^_`|~") table[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  return table;
})();

/** Whether `s` is a token (RFC 9110 §5.6.2). */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Whether the octet (or char code) `c` may appear inside a field value: field-vchar, SP and HTAB
 * (RFC 9110 §5.5: `field-value = *field-content`, `field-vchar = VCHAR / obs-text`). CR, LF and
 * NUL "are invalid and dangerous" (§5.5) and the other controls are not in the grammar either.
 */
export function isFieldValueOctet(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}
