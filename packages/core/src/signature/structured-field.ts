/**
 * The slice of RFC 8941 Structured Field Values that HTTP Message Signatures (RFC 9421) and
 * Client-Cert (RFC 9440) need: Dictionaries whose members are Items or Inner Lists, Lists, and
 * the bare-item types integer, decimal, string, token, byte sequence and boolean. Parsing follows
 * RFC 8941 §4.2 (strict: any deviation throws `SyntaxError`); serializing follows §4.1.
 */
import { base64Decode, base64Encode } from '../bytes.js';

export { base64Decode, base64Encode };

/** A bare item (RFC 8941 §3.3). Byte sequences are `Uint8Array`; tokens are {@link Token}. */
export type BareItem = number | string | boolean | Uint8Array | Token;
/** Parameters (RFC 8941 §3.1.2), in order. */
export type Parameters = Map<string, BareItem>;
/** An item with its parameters. */
export interface Item {
  value: BareItem;
  params: Parameters;
}
/** An inner list with its parameters (RFC 8941 §3.1.1). */
export interface InnerList {
  items: Item[];
  params: Parameters;
}
/** A token (RFC 8941 §3.3.4), kept apart from strings. */
export class Token {
  constructor(readonly name: string) {}
}

/** Longest field value we parse: HTTP fields are bounded by the header limits anyway; bounds work on hostile input. */
const MAX_FIELD_LENGTH = 64 * 1024;

class Parser {
  pos = 0;
  constructor(readonly text: string) {
    if (text.length > MAX_FIELD_LENGTH) throw new SyntaxError(`field value longer than ${MAX_FIELD_LENGTH} characters`);
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.pos}`);
  }
  skipSP(): void {
    while (this.peek() === ' ') this.pos++;
  }
  skipOWS(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  done(): boolean {
    return this.pos >= this.text.length;
  }

  // RFC 8941 §4.2.2
  dictionary(): Map<string, Item | InnerList> {
    const out = new Map<string, Item | InnerList>();
    while (!this.done()) {
      const key = this.key();
      let member: Item | InnerList;
      if (this.peek() === '=') {
        this.pos++;
        member = this.itemOrInnerList();
      } else {
        member = { value: true, params: this.parameters() };
      }
      out.set(key, member);
      this.skipOWS();
      if (this.done()) return out;
      if (this.peek() !== ',') this.fail('expected "," between dictionary members');
      this.pos++;
      this.skipOWS();
      if (this.done()) this.fail('trailing "," in dictionary');
    }
    return out;
  }

  // RFC 8941 §4.2.1
  list(): (Item | InnerList)[] {
    const out: (Item | InnerList)[] = [];
    while (!this.done()) {
      out.push(this.itemOrInnerList());
      this.skipOWS();
      if (this.done()) return out;
      if (this.peek() !== ',') this.fail('expected "," between list members');
      this.pos++;
      this.skipOWS();
      if (this.done()) this.fail('trailing "," in list');
    }
    return out;
  }

  itemOrInnerList(): Item | InnerList {
    if (this.peek() === '(') return this.innerList();
    return { value: this.bareItem(), params: this.parameters() };
  }

  innerList(): InnerList {
    this.pos++; // "("
    const items: Item[] = [];
    for (;;) {
      this.skipSP();
      if (this.peek() === ')') {
        this.pos++;
        return { items, params: this.parameters() };
      }
      items.push({ value: this.bareItem(), params: this.parameters() });
      const c = this.peek();
      if (c !== ' ' && c !== ')') this.fail('expected " " or ")" in inner list');
    }
  }

  parameters(): Parameters {
    const params: Parameters = new Map();
    while (this.peek() === ';') {
      this.pos++;
      this.skipSP();
      const key = this.key();
      let value: BareItem = true;
      if (this.peek() === '=') {
        this.pos++;
        value = this.bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  key(): string {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected a key');
    this.pos += m[0].length;
    return m[0];
  }

  bareItem(): BareItem {
    const c = this.peek();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (c === ':') return this.byteSequence();
    if (c === '?') return this.boolean();
    if (/[A-Za-z*]/.test(c)) {
      const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(this.text.slice(this.pos))!;
      this.pos += m[0].length;
      return new Token(m[0]);
    }
    return this.fail('expected an item');
  }

  number(): number {
    const m = /^-?\d{1,15}(\.\d{1,3})?/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected a number');
    if (!m[1] && m[0].replace('-', '').length > 15) this.fail('integer too long');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') return out;
      if (c === '\\') {
        const next = this.text[this.pos++];
        if (next !== '"' && next !== '\\') this.fail('bad escape in string');
        out += next;
        continue;
      }
      const code = c.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) this.fail('non-printable character in string');
      out += c;
    }
  }

  byteSequence(): Uint8Array {
    const end = this.text.indexOf(':', this.pos + 1);
    if (end < 0) this.fail('unterminated byte sequence');
    const b64 = this.text.slice(this.pos + 1, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) this.fail('byte sequence is not base64');
    this.pos = end + 1;
    return base64Decode(b64);
  }

  boolean(): boolean {
    const m = /^\?[01]/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected ?0 or ?1');
    this.pos += 2;
    return m[0] === '?1';
  }
}

/** Parses a Dictionary field value (RFC 8941 §4.2, with leading/trailing spaces discarded). */
export function parseDictionary(value: string): Map<string, Item | InnerList> {
  const p = new Parser(value.trim());
  return p.dictionary();
}

/** Parses a List field value (RFC 8941 §4.2). */
export function parseList(value: string): (Item | InnerList)[] {
  const p = new Parser(value.trim());
  return p.list();
}

/** Parses a single Item field value (RFC 8941 §4.2). */
export function parseItem(value: string): Item {
  const p = new Parser(value.trim());
  const item = { value: p.bareItem(), params: p.parameters() };
  if (!p.done()) p.fail('unexpected text after the item');
  return item;
}

/** Serializes a bare item (RFC 8941 §4.1.3). */
export function serializeBareItem(value: BareItem): string {
  if (value instanceof Token) return value.name;
  if (value instanceof Uint8Array) return `:${base64Encode(value)}:`;
  if (typeof value === 'boolean') return value ? '?1' : '?0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('cannot serialize a non-finite number');
    return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  }
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError('a structured-field string holds printable ASCII only');
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Serializes parameters (RFC 8941 §4.1.1.2). */
export function serializeParameters(params: Parameters): string {
  let out = '';
  for (const [key, value] of params) out += value === true ? `;${key}` : `;${key}=${serializeBareItem(value)}`;
  return out;
}

/** Serializes an inner list (RFC 8941 §4.1.1.1). */
export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map((i) => serializeBareItem(i.value) + serializeParameters(i.params)).join(' ')})${serializeParameters(list.params)}`;
}
