/**
 * The `--http` listener's h2c side as a conformance suite would see it (h2spec strict): a scripted
 * client built from @rhttp/core's frame and HPACK codecs over a raw socket, so it can send what
 * no well-behaved client library would. Each case is named by its RFC 9113 section, and checks
 * both the frame the listener answers with and that nothing malformed reached the agent.
 * node:http2, which served this listener before, got the malformed-field cases wrong.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_PREFACE, ErrorCode, FrameReader, HpackDecoder, HpackEncoder, encodeFrame, encodeHeaderBlock, type Frame, type HeaderField } from '@rhttp/core';
import { Intermediary, type IntermediaryAddresses } from '../src/intermediary.js';
import { connectAgent, intermediaryOptions, makePki, until, type TestAgent } from './harness.js';

let intermediary: Intermediary;
let addresses: IntermediaryAddresses;
let agent: TestAgent;
let authority: string;
/** What reached the agent: method, path and request body of each request. */
const seen: { method: string; path: string; body: string }[] = [];
/** Response bodies of `/hold` requests still open, and whether the agent saw each cancelled. */
const held: { release: () => void; cancelled: boolean }[] = [];

beforeAll(async () => {
  const pki = await makePki();
  intermediary = new Intermediary(intermediaryOptions(pki, { https: undefined }));
  addresses = await intermediary.start();
  authority = `app.example.com:${addresses.http!.port}`;
  agent = await connectAgent({
    port: addresses.agents.port,
    caPem: pki.ca.certPem,
    cert: pki.origin,
    origins: [`http://${authority}`],
    handler: async (request) => {
      const url = new URL(request.url);
      seen.push({ method: request.method, path: url.pathname + url.search, body: await request.text() });
      if (url.pathname === '/no-content') return new Response(null, { status: 204, headers: { 'x-kind': 'no-content' } });
      if (url.pathname === '/hold') {
        const entry = { release: () => {}, cancelled: false };
        held.push(entry);
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('first chunk'));
            entry.release = () => {
              if (!entry.cancelled) controller.close();
            };
          },
          cancel() {
            entry.cancelled = true;
          },
        });
        return new Response(body);
      }
      return new Response(`answered ${request.method} ${url.pathname}`);
    },
  });
  await until(() => intermediary.servedOrigins().includes(`http://${authority}`), 'the origin to be served');
});

afterAll(async () => {
  for (const h of held) h.release();
  agent?.socket.destroy();
  await intermediary?.stop();
});

interface StreamEvents {
  headers: HeaderField[][];
  data: number;
  endStream: boolean;
  reset?: number;
}

/** A scripted h2c client: sends raw frames, records what comes back per stream. */
class ScriptedClient {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader({ maxFrameSize: (1 << 24) - 1 });
  private readonly encoder = new HpackEncoder({ huffman: 'never' });
  private readonly decoder = new HpackDecoder();
  readonly streams = new Map<number, StreamEvents>();
  goaway: { errorCode: number } | undefined;
  settings = 0;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setNoDelay(true);
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.onFrame(frame);
    });
    this.socket.write(CONNECTION_PREFACE);
    this.socket.write(encodeFrame({ kind: 'settings', ack: false, settings: [] }));
  }

  private stream(id: number): StreamEvents {
    let s = this.streams.get(id);
    if (!s) this.streams.set(id, (s = { headers: [], data: 0, endStream: false }));
    return s;
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === 'settings' && !frame.ack) {
      this.settings++;
      this.socket.write(encodeFrame({ kind: 'settings', ack: true, settings: [] }));
    } else if (frame.kind === 'headers') {
      const s = this.stream(frame.streamId);
      s.headers.push(this.decoder.decode(frame.fragment));
      s.endStream ||= frame.endStream;
    } else if (frame.kind === 'data') {
      const s = this.stream(frame.streamId);
      s.data++;
      s.endStream ||= frame.endStream;
    } else if (frame.kind === 'rst-stream') {
      this.stream(frame.streamId).reset = frame.errorCode;
    } else if (frame.kind === 'goaway') {
      this.goaway = { errorCode: frame.errorCode };
    }
  }

  /** A HEADERS frame's bytes for a request with these fields after the pseudo-header fields. */
  headers(id: number, method: string, path: string, fields: HeaderField[] = [], endStream = true): Uint8Array {
    const block = this.encoder.encode([[':method', method], [':scheme', 'http'], [':authority', authority], [':path', path], ...fields]);
    return encodeHeaderBlock(id, block, { endStream, maxFrameSize: 16_384 });
  }

  data(id: number, text: string, endStream: boolean): Uint8Array {
    return encodeFrame({ kind: 'data', streamId: id, endStream, data: new TextEncoder().encode(text) });
  }

  /** Writes frames in one socket write (one read on the listener's side, on loopback). */
  send(...frames: Uint8Array[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  async response(id: number): Promise<StreamEvents> {
    await until(() => this.streams.get(id)?.endStream === true || this.streams.get(id)?.reset !== undefined || this.goaway !== undefined, `stream ${id} to end`);
    return this.stream(id);
  }

  close(): void {
    this.socket.destroy();
  }
}

const status = (events: StreamEvents) => events.headers[0]?.find(([name]) => name === ':status')?.[1];
const reached = (path: string) => seen.some((r) => r.path === path);

describe('the h2c browser listener (RFC 9113, as h2spec strict checks it)', () => {
  it('§8.2: a field name with upper-case characters is a stream error PROTOCOL_ERROR; the request never reaches the agent, the connection goes on', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      client.send(client.headers(1, 'GET', '/upper-case', [['X-Upper', 'yes']]));
      expect((await client.response(1)).reset).toBe(ErrorCode.PROTOCOL_ERROR);
      client.send(client.headers(3, 'GET', '/after-upper-case'));
      expect(status(await client.response(3))).toBe('200');
      expect(client.goaway).toBeUndefined();
      expect(reached('/upper-case')).toBe(false);
      expect(reached('/after-upper-case')).toBe(true);
    } finally {
      client.close();
    }
  });

  it('§8.2.2: a connection-specific field (connection: keep-alive) is a stream error PROTOCOL_ERROR; the request never reaches the agent', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      client.send(client.headers(1, 'GET', '/connection-specific', [['connection', 'keep-alive']]));
      expect((await client.response(1)).reset).toBe(ErrorCode.PROTOCOL_ERROR);
      client.send(client.headers(3, 'GET', '/te-gzip', [['te', 'gzip']]));
      expect((await client.response(3)).reset).toBe(ErrorCode.PROTOCOL_ERROR);
      expect(reached('/connection-specific')).toBe(false);
      expect(reached('/te-gzip')).toBe(false);
    } finally {
      client.close();
    }
  });

  it('§5.1: DATA on a stream in half-closed (remote) is STREAM_CLOSED; the exchange toward the agent is cancelled', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      const before = held.length;
      // The GET ends the request with its HEADERS; the response stays open (/hold), so the stream is half-closed (remote).
      client.send(client.headers(1, 'GET', '/hold'));
      await until(() => held.length === before + 1 && client.streams.get(1)?.data === 1, 'the held response to start');
      client.send(client.data(1, 'not allowed', false));
      const events = await client.response(1);
      // A stream error (RST_STREAM) or a connection error (GOAWAY), both of type STREAM_CLOSED.
      expect(events.reset ?? client.goaway?.errorCode).toBe(ErrorCode.STREAM_CLOSED);
      await until(() => held[before].cancelled, 'the agent to see its response cancelled');
    } finally {
      client.close();
    }
  });

  it('§8.1: a request body that arrives in the same read as its HEADERS reaches the agent whole', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      client.send(client.headers(1, 'POST', '/same-read', [['content-type', 'text/plain']], false), client.data(1, 'part one, ', false), client.data(1, 'part two', true));
      expect(status(await client.response(1))).toBe('200');
      expect(seen.find((r) => r.path === '/same-read')).toEqual({ method: 'POST', path: '/same-read', body: 'part one, part two' });
    } finally {
      client.close();
    }
  });

  it('§5.4.2 Rapid Reset: a stream reset in the same read as its HEADERS never reaches the agent', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      const frames: Uint8Array[] = [];
      for (let id = 1; id <= 19; id += 2) frames.push(client.headers(id, 'GET', `/reset-${id}`), encodeFrame({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL }));
      client.send(...frames);
      // A later request on the same connection is answered, so the reset ones had their turn.
      client.send(client.headers(21, 'GET', '/after-resets'));
      expect(status(await client.response(21))).toBe('200');
      expect(seen.filter((r) => r.path.startsWith('/reset-'))).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('§8.1: a 204 and a HEAD answer are one HEADERS frame with END_STREAM, no DATA frame', async () => {
    const client = new ScriptedClient(addresses.http!.port);
    try {
      client.send(client.headers(1, 'GET', '/no-content'), client.headers(3, 'HEAD', '/head'));
      const noContent = await client.response(1);
      const head = await client.response(3);
      expect([status(noContent), noContent.headers.length, noContent.data, noContent.endStream]).toEqual(['204', 1, 0, true]);
      expect(noContent.headers[0]).toContainEqual(['x-kind', 'no-content']);
      expect([status(head), head.headers.length, head.data, head.endStream]).toEqual(['200', 1, 0, true]);
    } finally {
      client.close();
    }
  });
});
