/**
 * RFC 6455 framing with Web APIs only: encode frames (masked when we are the client, §5.3) and
 * decode a byte stream back into messages, pings, pongs and the close frame. Used where an
 * endpoint terminates one WebSocket and must speak the framing on another byte stream (the edge's
 * Durable Object relays a browser's WebSocket onto an extended CONNECT stream, RFC 8441).
 * No extensions are negotiated, so the RSV bits are always 0.
 *
 * @example
 * const bytes = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: new TextEncoder().encode('hi') }, { mask: true });
 * const decoder = new WebSocketFrameDecoder({ role: 'client' });
 * for (const event of decoder.push(bytesFromServer)) if (event.type === 'message') console.log(event.data);
 */

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const WebSocketOpcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** Close status codes used here (RFC 6455 §7.4.1). */
export const WebSocketCloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** Reserved: "no status code was actually present"; never sent in a frame (§7.4.1). */
  NO_STATUS: 1005,
  /** Reserved: the connection closed without a close frame; never sent in a frame (§7.4.1). */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const;

/** Control frames carry at most 125 octets of payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/**
 * Largest message the decoder reassembles by default: browsers send tens of MiB at most in
 * practice; without a cap, a peer could make us buffer without bound before a message completes.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

/** A violation of RFC 6455 by the peer; `closeCode` is what to close the WebSocket with. */
export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly closeCode: number = WebSocketCloseCode.PROTOCOL_ERROR,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

/** One frame to encode. */
export interface WebSocketFrameInit {
  opcode: number;
  payload: Uint8Array;
  /** Final fragment of its message; default true. */
  fin?: boolean;
}

/** What the decoder yields: whole messages (fragments reassembled) and control frames. */
export type WebSocketEvent =
  | { type: 'message'; data: string | Uint8Array }
  | { type: 'ping'; payload: Uint8Array }
  | { type: 'pong'; payload: Uint8Array }
  /** `code` is undefined when the close frame had no payload (reported as 1005 by APIs). */
  | { type: 'close'; code: number | undefined; reason: string };

/**
 * Encodes one frame. `mask: true` is for the client side: RFC 6455 §5.3 "The masking key is a
 * 32-bit value chosen at random"; §5.1 a client MUST mask all frames it sends, a server MUST NOT.
 */
export function encodeWebSocketFrame(frame: WebSocketFrameInit, options: { mask: boolean }): Uint8Array {
  const { opcode, payload } = frame;
  const fin = frame.fin ?? true;
  const control = opcode >= 0x8;
  // §5.5: control frames MUST have a payload of 125 octets or less and MUST NOT be fragmented.
  if (control && (payload.length > MAX_CONTROL_PAYLOAD || !fin)) throw new RangeError('a WebSocket control frame carries at most 125 octets and cannot be fragmented (RFC 6455 §5.5)');
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const maskBytes = options.mask ? 4 : 0;
  const out = new Uint8Array(2 + lengthBytes + maskBytes + n);
  out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  out[1] = (options.mask ? 0x80 : 0) | (lengthBytes === 0 ? n : lengthBytes === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(2, n);
  else if (lengthBytes === 8) view.setBigUint64(2, BigInt(n));
  const at = 2 + lengthBytes;
  if (!options.mask) {
    out.set(payload, at);
    return out;
  }
  const key = out.subarray(at, at + 4);
  crypto.getRandomValues(key);
  const body = out.subarray(at + 4);
  body.set(payload);
  applyMask(body, key);
  return out;
}

/** Payload of a close frame: 2-octet code then UTF-8 reason (§5.5.1); empty when `code` is undefined. */
export function closeFramePayload(code?: number, reason = ''): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  // §7.4.1: 1005, 1006 and 1015 MUST NOT be set as a status code in a close frame.
  if (!sendableCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent in a close frame (RFC 6455 §7.4)`);
  const text = new TextEncoder().encode(reason);
  // §5.5: the whole payload fits a control frame; cut the reason (at a byte boundary, decoded leniently by peers that check).
  const cut = truncateUtf8(text, MAX_CONTROL_PAYLOAD - 2);
  const out = new Uint8Array(2 + cut.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(cut, 2);
  return out;
}

/** True for codes an endpoint may put in a close frame (RFC 6455 §7.4.1–§7.4.2, IANA registry). */
export function sendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** XOR `data` with the 4-octet masking key in place (§5.3); the same call unmasks. */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const n = data.length;
  let i = 0;
  // Word at a time when aligned (large messages), then the rest byte by byte.
  if (n >= 64 && data.byteOffset % 4 === 0 && offset % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, n >> 2);
    const k = new Uint32Array(Uint8Array.from(key).buffer)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= k;
    i = words.length << 2;
  }
  for (; i < n; i++) data[i] ^= key[(i + offset) & 3];
}

function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not split a code point
  return bytes.subarray(0, end);
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes the peer's byte stream into events. `role` is OUR role: a client expects unmasked
 * frames from the server, a server expects masked frames from the client (§5.1). Feed chunks as
 * they arrive; a partial frame waits for the next chunk. Throws `WebSocketProtocolError` (with the
 * close code to use) on anything RFC 6455 forbids; after a close frame, further bytes are ignored.
 */
export class WebSocketFrameDecoder {
  readonly role: 'client' | 'server';
  readonly maxMessageBytes: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The frame being read once its header is parsed. */
  private frame: { fin: boolean; opcode: number; key: Uint8Array | undefined; payload: Uint8Array; filled: number } | undefined;
  /** Fragments of a data message in progress (§5.4). */
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private messageOpcode = 0;
  private closed = false;

  constructor(options: { role: 'client' | 'server'; maxMessageBytes?: number }) {
    this.role = options.role;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  push(chunk: Uint8Array): WebSocketEvent[] {
    const events: WebSocketEvent[] = [];
    if (this.closed || chunk.length === 0) return events;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (!this.frame && !this.readHeader()) break;
      const f = this.frame!;
      // Copy payload straight into its own buffer: a 4 MiB message arriving in 16 KiB chunks costs one copy, not n².
      while (f.filled < f.payload.length && this.pendingBytes > 0) {
        const head = this.pending[0];
        const take = Math.min(head.length, f.payload.length - f.filled);
        f.payload.set(head.subarray(0, take), f.filled);
        f.filled += take;
        this.consume(take);
      }
      if (f.filled < f.payload.length) break;
      this.frame = undefined;
      if (f.key) applyMask(f.payload, f.key);
      const event = this.onFrame(f.fin, f.opcode, f.payload);
      if (event) events.push(event);
      if (this.closed) break;
    }
    return events;
  }

  private readHeader(): boolean {
    if (this.pendingBytes < 2) return false;
    const b = this.peek(2);
    let need = 2;
    const len7 = b[1] & 0x7f;
    if (len7 === 126) need += 2;
    else if (len7 === 127) need += 8;
    const masked = (b[1] & 0x80) !== 0;
    if (masked) need += 4;
    if (this.pendingBytes < need) return false;
    const h = this.peek(need);
    this.consume(need);
    const fin = (h[0] & 0x80) !== 0;
    const opcode = h[0] & 0x0f;
    // §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated (we negotiate none).
    if ((h[0] & 0x70) !== 0) throw new WebSocketProtocolError('reserved bits set in a WebSocket frame without a negotiated extension (RFC 6455 §5.2)');
    // §5.1: a server MUST NOT mask frames to the client (the client closes if it sees one); a client MUST mask.
    if (this.role === 'client' && masked) throw new WebSocketProtocolError('the server sent a masked frame (RFC 6455 §5.1)');
    if (this.role === 'server' && !masked) throw new WebSocketProtocolError('the client sent an unmasked frame (RFC 6455 §5.1)');
    const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
    let length: number;
    if (len7 === 126) length = view.getUint16(2);
    else if (len7 === 127) {
      const big = view.getBigUint64(2);
      // §5.2: the most significant bit of the 64-bit length MUST be 0.
      if (big >> 63n) throw new WebSocketProtocolError('64-bit frame length with its most significant bit set (RFC 6455 §5.2)');
      if (big > BigInt(this.maxMessageBytes)) throw new WebSocketProtocolError(`frame of ${big} octets exceeds the ${this.maxMessageBytes}-octet limit`, WebSocketCloseCode.MESSAGE_TOO_BIG);
      length = Number(big);
    } else length = len7;
    if (opcode >= 0x8) {
      if (opcode > 0xa) throw new WebSocketProtocolError(`unknown control opcode 0x${opcode.toString(16)} (RFC 6455 §5.2)`);
      // §5.5: control frames MUST have a payload length of 125 octets or less and MUST NOT be fragmented.
      if (length > MAX_CONTROL_PAYLOAD || !fin) throw new WebSocketProtocolError('control frame longer than 125 octets or fragmented (RFC 6455 §5.5)');
    } else if (opcode > 0x2) {
      throw new WebSocketProtocolError(`unknown data opcode 0x${opcode.toString(16)} (RFC 6455 §5.2)`);
    } else if (this.fragmentBytes + length > this.maxMessageBytes) {
      throw new WebSocketProtocolError(`message exceeds the ${this.maxMessageBytes}-octet limit`, WebSocketCloseCode.MESSAGE_TOO_BIG);
    }
    const key = masked ? h.slice(need - 4, need) : undefined;
    this.frame = { fin, opcode, key, payload: new Uint8Array(length), filled: 0 };
    return true;
  }

  private onFrame(fin: boolean, opcode: number, payload: Uint8Array): WebSocketEvent | undefined {
    switch (opcode) {
      case WebSocketOpcode.PING:
        return { type: 'ping', payload };
      case WebSocketOpcode.PONG:
        return { type: 'pong', payload };
      case WebSocketOpcode.CLOSE:
        this.closed = true;
        return parseClose(payload);
      case WebSocketOpcode.CONTINUATION:
        // §5.4: a continuation frame only continues a fragmented message already started.
        if (this.messageOpcode === 0) throw new WebSocketProtocolError('continuation frame without a message in progress (RFC 6455 §5.4)');
        break;
      default:
        // §5.4: fragments of one message MUST NOT be interleaved with another data message.
        if (this.messageOpcode !== 0) throw new WebSocketProtocolError('new data frame while a fragmented message is in progress (RFC 6455 §5.4)');
        this.messageOpcode = opcode;
    }
    if (!fin) {
      this.fragments.push(payload);
      this.fragmentBytes += payload.length;
      return undefined;
    }
    let data = payload;
    if (this.fragments.length > 0) {
      this.fragments.push(payload);
      data = new Uint8Array(this.fragmentBytes + payload.length);
      let at = 0;
      for (const part of this.fragments) {
        data.set(part, at);
        at += part.length;
      }
      this.fragments = [];
      this.fragmentBytes = 0;
    }
    const text = this.messageOpcode === WebSocketOpcode.TEXT;
    this.messageOpcode = 0;
    if (!text) return { type: 'message', data };
    try {
      return { type: 'message', data: fatalUtf8.decode(data) };
    } catch {
      // §8.1: a text message that is not valid UTF-8 MUST fail the connection (1007, §7.4.1).
      throw new WebSocketProtocolError('text message is not valid UTF-8 (RFC 6455 §8.1)', WebSocketCloseCode.INVALID_PAYLOAD);
    }
  }

  /** The first `n` pending bytes as one array (copied only when they span chunks). */
  private peek(n: number): Uint8Array {
    const head = this.pending[0];
    if (head.length >= n) return head.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.pending) {
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (at === n) break;
    }
    return out;
  }

  private consume(n: number): void {
    this.pendingBytes -= n;
    while (n > 0) {
      const head = this.pending[0];
      if (head.length <= n) {
        this.pending.shift();
        n -= head.length;
      } else {
        this.pending[0] = head.subarray(n);
        n = 0;
      }
    }
  }
}

function parseClose(payload: Uint8Array): WebSocketEvent {
  if (payload.length === 0) return { type: 'close', code: undefined, reason: '' };
  // §5.5.1: if there is a body, its first two octets MUST be the status code.
  if (payload.length === 1) throw new WebSocketProtocolError('close frame with a 1-octet payload (RFC 6455 §5.5.1)');
  const code = (payload[0] << 8) | payload[1];
  if (!sendableCloseCode(code)) throw new WebSocketProtocolError(`close frame with invalid status code ${code} (RFC 6455 §7.4)`);
  let reason: string;
  try {
    reason = fatalUtf8.decode(payload.subarray(2));
  } catch {
    throw new WebSocketProtocolError('close reason is not valid UTF-8 (RFC 6455 §5.5.1)', WebSocketCloseCode.INVALID_PAYLOAD);
  }
  return { type: 'close', code, reason };
}
