/**
 * RFC 9114 §9: extension frames on the control stream. The engine ignores types it does not know,
 * and hands them to `onExtensionFrame` (rhttp's in-band authentication rides on them); it sends
 * ours after its SETTINGS, and refuses to send one of HTTP/3's own types as an "extension".
 */
import { describe, expect, it } from 'vitest';
import { H3FrameType } from '../src/h3/index.js';
import { h3Pair } from './support/h3-pair.js';

const EXTENSION = 0x7268747499;

describe('RFC 9114 §9 extension frames', () => {
  for (const reversed of [false, true]) {
    it(`reach the peer's onExtensionFrame in order, both ways (${reversed ? 'reversed' : 'usual'} arrangement), and requests still work`, async () => {
      const atServer: Array<[number, string]> = [];
      const atClient: Array<[number, string]> = [];
      let serverSaw!: () => void;
      const serverDone = new Promise<void>((resolve) => (serverSaw = resolve));
      const { client, server } = h3Pair({
        reversed,
        server: {
          onExtensionFrame: (type, payload) => {
            atServer.push([type, new TextDecoder().decode(payload)]);
            if (atServer.length === 2) serverSaw();
          },
          onStream: (stream) => {
            stream.respond(204, {});
            void stream.end();
          },
        },
        client: { onExtensionFrame: (type, payload) => atClient.push([type, new TextDecoder().decode(payload)]) },
      });
      client.sendExtensionFrame(EXTENSION, new TextEncoder().encode('one'));
      client.sendExtensionFrame(EXTENSION + 1, new TextEncoder().encode('two'));
      server.sendExtensionFrame(EXTENSION, new Uint8Array(0));
      await serverDone;
      expect(atServer).toEqual([
        [EXTENSION, 'one'],
        [EXTENSION + 1, 'two'],
      ]);
      const response = await client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response;
      expect(response.status).toBe(204);
      expect(atClient).toEqual([[EXTENSION, '']]);
      client.close();
    });
  }

  it('a frame type HTTP/3 defines (or HTTP/2-only) is not an extension: sending one is a usage error', () => {
    const { client } = h3Pair();
    expect(() => client.sendExtensionFrame(H3FrameType.GOAWAY, new Uint8Array(1))).toThrow(/not an extension/);
    expect(() => client.sendExtensionFrame(0x6, new Uint8Array(8))).toThrow(/not an extension/);
    client.close();
  });

  it('without onExtensionFrame, unknown control frames are ignored (§9) and the connection stays up', async () => {
    const { client, server } = h3Pair({ server: { onStream: (s) => (s.respond(200, {}), void s.end()) } });
    client.sendExtensionFrame(EXTENSION, new Uint8Array(100));
    const response = await client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response;
    expect(response.status).toBe(200);
    expect(server.isClosed).toBe(false);
    client.close();
  });
});
