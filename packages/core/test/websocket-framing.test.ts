import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import {
  WebSocketFrameDecoder,
  WebSocketOpcode,
  WebSocketProtocolError,
  closeFramePayload,
  encodeWebSocketFrame,
  type WebSocketEvent,
} from '../src/index.js';
import { concatBytes } from '../src/bytes.js';

const text = (s: string) => new TextEncoder().encode(s);

/** Feeds `bytes` to a decoder in chunks of `step` octets and collects every event. */
function decodeAll(decoder: WebSocketFrameDecoder, bytes: Uint8Array, step = bytes.length || 1): WebSocketEvent[] {
  const events: WebSocketEvent[] = [];
  for (let i = 0; i < bytes.length; i += step) events.push(...decoder.push(bytes.subarray(i, i + step)));
  return events;
}

describe('RFC 6455 §5.2 base framing', () => {
  it('length encodings: 7-bit, 16-bit (126) and 64-bit (127)', () => {
    expect(encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: new Uint8Array(125) }, { mask: false }).subarray(0, 2)).toEqual(Uint8Array.of(0x82, 125));
    expect(encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: new Uint8Array(126) }, { mask: false }).subarray(0, 4)).toEqual(Uint8Array.of(0x82, 126, 0, 126));
    expect(encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: new Uint8Array(0x10000) }, { mask: false }).subarray(0, 10)).toEqual(Uint8Array.of(0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0));
  });

  it('round trip (property): any payload, any opcode, masked, split at any chunk size', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.boolean(), fc.integer({ min: 1, max: 5_000 }), (payload, binary, step) => {
        const data = binary ? payload : text(Buffer.from(payload).toString('base64'));
        const frame = encodeWebSocketFrame({ opcode: binary ? WebSocketOpcode.BINARY : WebSocketOpcode.TEXT, payload: data }, { mask: true });
        const events = decodeAll(new WebSocketFrameDecoder({ role: 'server' }), frame, step);
        expect(events).toHaveLength(1);
        const got = events[0];
        if (got.type !== 'message') throw new Error('expected a message');
        if (binary) expect(got.data).toEqual(payload);
        else expect(got.data).toBe(Buffer.from(payload).toString('base64'));
      }),
      { numRuns: 60 },
    );
  });

  it('§5.3: masked frames differ from the payload on the wire and unmask to it', () => {
    const payload = text('a'.repeat(200));
    const frame = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload }, { mask: true });
    expect(frame[1] & 0x80).toBe(0x80);
    expect(Buffer.from(frame.subarray(8)).equals(Buffer.from(payload))).toBe(false);
  });

  it('RSV bits without an extension fail with 1002', () => {
    const frame = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('x') }, { mask: false });
    frame[0] |= 0x40;
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(frame)).toThrow(WebSocketProtocolError);
  });

  it('§5.1: a client rejects masked frames from the server, a server rejects unmasked frames', () => {
    const masked = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('x') }, { mask: true });
    const plain = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('x') }, { mask: false });
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(masked)).toThrow(/masked/);
    expect(() => new WebSocketFrameDecoder({ role: 'server' }).push(plain)).toThrow(/unmasked/);
  });

  it('a frame larger than the message limit fails with 1009 before its payload is buffered', () => {
    const decoder = new WebSocketFrameDecoder({ role: 'client', maxMessageBytes: 1000 });
    const header = encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: new Uint8Array(2000) }, { mask: false }).subarray(0, 4);
    try {
      decoder.push(header);
      expect.unreachable();
    } catch (error) {
      expect((error as WebSocketProtocolError).closeCode).toBe(1009);
    }
  });
});

describe('RFC 6455 §5.4 fragmentation', () => {
  it('reassembles a fragmented message with control frames in between', () => {
    const parts = [text('hel'), text('lo '), text('world')];
    const bytes = concatBytes([
      encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: parts[0], fin: false }, { mask: false }),
      encodeWebSocketFrame({ opcode: WebSocketOpcode.PING, payload: text('p') }, { mask: false }),
      encodeWebSocketFrame({ opcode: WebSocketOpcode.CONTINUATION, payload: parts[1], fin: false }, { mask: false }),
      encodeWebSocketFrame({ opcode: WebSocketOpcode.CONTINUATION, payload: parts[2] }, { mask: false }),
    ]);
    const events = decodeAll(new WebSocketFrameDecoder({ role: 'client' }), bytes, 3);
    expect(events).toEqual([{ type: 'ping', payload: text('p') }, { type: 'message', data: 'hello world' }]);
  });

  it('a continuation without a message, or a new message inside one, fails', () => {
    const cont = encodeWebSocketFrame({ opcode: WebSocketOpcode.CONTINUATION, payload: text('x') }, { mask: false });
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(cont)).toThrow(/continuation/);
    const start = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('x'), fin: false }, { mask: false });
    const other = encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: text('y') }, { mask: false });
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(concatBytes([start, other]))).toThrow(/in progress/);
  });
});

describe('RFC 6455 §5.5 control frames and §7.4 close codes', () => {
  it('control frames longer than 125 octets or fragmented are refused on both sides', () => {
    expect(() => encodeWebSocketFrame({ opcode: WebSocketOpcode.PING, payload: new Uint8Array(126) }, { mask: true })).toThrow(RangeError);
    const frame = encodeWebSocketFrame({ opcode: WebSocketOpcode.PING, payload: new Uint8Array(1) }, { mask: false });
    frame[0] &= 0x7f; // clear FIN
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(frame)).toThrow(/control frame/);
  });

  it('close frames carry the code and reason; an empty one means "no status" (1005)', () => {
    const decoder = new WebSocketFrameDecoder({ role: 'server' });
    const events = decoder.push(encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: closeFramePayload(4001, 'bye') }, { mask: true }));
    expect(events).toEqual([{ type: 'close', code: 4001, reason: 'bye' }]);
    // After the close frame nothing more is read.
    expect(decoder.push(encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('late') }, { mask: true }))).toEqual([]);
    const empty = new WebSocketFrameDecoder({ role: 'client' }).push(encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: closeFramePayload() }, { mask: false }));
    expect(empty).toEqual([{ type: 'close', code: undefined, reason: '' }]);
  });

  it('§7.4.1: 1005, 1006 and 1015 are never sent; a received 1006 or a 1-octet close fails', () => {
    for (const code of [1005, 1006, 1015, 999, 5000]) expect(() => closeFramePayload(code)).toThrow(RangeError);
    const bad = encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: Uint8Array.of(0x03, 0xee) }, { mask: false });
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(bad)).toThrow(/status code 1006/);
    const short = encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: Uint8Array.of(3) }, { mask: false });
    expect(() => new WebSocketFrameDecoder({ role: 'client' }).push(short)).toThrow(/1-octet/);
  });

  it('a long close reason is cut to fit 125 octets without splitting a character', () => {
    const payload = closeFramePayload(1000, 'é'.repeat(100));
    expect(payload.length).toBeLessThanOrEqual(125);
    expect(new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2))).toBe('é'.repeat(61));
  });

  it('§8.1: invalid UTF-8 in a text message fails with 1007', () => {
    const frame = encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: Uint8Array.of(0xc3, 0x28) }, { mask: false });
    try {
      new WebSocketFrameDecoder({ role: 'client' }).push(frame);
      expect.unreachable();
    } catch (error) {
      expect((error as WebSocketProtocolError).closeCode).toBe(1007);
    }
  });
});

describe('RFC 6455 interop with the ws package', () => {
  it('our masked client frames reach a ws server; its frames (fragmented, large, ping, close) decode', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const seen: Array<string | Buffer> = [];
    let closeSeen!: (v: [number, string]) => void;
    const serverClosed = new Promise<[number, string]>((r) => (closeSeen = r));
    const big = Buffer.alloc(3 << 20, 7);
    server.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        seen.push(isBinary ? (data as Buffer) : data.toString());
        if (seen.length === 2) {
          ws.send('from server');
          ws.send(big, { binary: true });
          ws.send('frag-', { fin: false });
          ws.send('mented', { fin: true });
          ws.ping('pp');
          ws.close(4002, 'server done');
        }
      });
      ws.on('close', (code, reason) => closeSeen([code, reason.toString()]));
    });
    const port = (server.address() as AddressInfo).port;
    const socket = connect(port, '127.0.0.1');
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const decoder = new WebSocketFrameDecoder({ role: 'client' });
    const events: WebSocketEvent[] = [];
    let head = '';
    let accept = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        let data = chunk;
        if (!head.includes('\r\n\r\n')) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          accept = /sec-websocket-accept: (\S+)/i.exec(head)?.[1] ?? '';
          data = Buffer.from(head.slice(end + 4), 'latin1');
          socket.write(encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: text('hello') }, { mask: true }));
          socket.write(encodeWebSocketFrame({ opcode: WebSocketOpcode.BINARY, payload: Uint8Array.of(1, 2, 3) }, { mask: true }));
        }
        for (const event of decoder.push(data)) {
          events.push(event);
          if (event.type === 'close') {
            socket.end(encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: closeFramePayload(event.code, event.reason) }, { mask: true }));
            resolve();
          }
        }
      });
    });
    const closed = await serverClosed;
    await new Promise((r) => server.close(r));
    expect(accept).toBe(createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64'));
    expect(seen).toEqual(['hello', Buffer.from([1, 2, 3])]);
    expect(events.map((e) => e.type)).toEqual(['message', 'message', 'message', 'ping', 'close']);
    expect(events[0]).toEqual({ type: 'message', data: 'from server' });
    expect(Buffer.from(events[1].type === 'message' ? (events[1].data as Uint8Array) : []).equals(big)).toBe(true);
    expect(events[2]).toEqual({ type: 'message', data: 'frag-mented' });
    expect(events[4]).toEqual({ type: 'close', code: 4002, reason: 'server done' });
    expect(closed).toEqual([4002, 'server done']);
  });
});
