/**
 * A string's UTF-8 bytes, for bodies made from strings (a Response's `'ok'`, a FastResponse's
 * text). Node 20's TextEncoder costs about a microsecond a call in C++ whatever the length; a
 * short ASCII string is copied here in a few nanoseconds, and anything else goes to it.
 */
const encoder = new TextEncoder();

/** Strings up to this many UTF-16 units are tried as ASCII first. */
const SHORT = 64;

export function encodeUtf8(text: string): Uint8Array {
  const length = text.length;
  if (length > SHORT) return encoder.encode(text);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0x7f) return encoder.encode(text);
    bytes[i] = unit;
  }
  return bytes;
}
