/**
 * An HTTP/3 client session and server session over an in-memory QUIC pair (quic-pair.ts). With
 * `reversed`, the QUIC client is the HTTP/3 server, as in h3-reverse (the agent dials out and
 * serves; requests arrive on QUIC server-initiated streams).
 */
import { concatBytes } from '../../src/bytes.js';
import { connectQuic, type Http3Session, type Http3SessionOptions } from '../../src/h3/index.js';
import { quicPair, type QuicPairOptions, type InMemoryQuic } from './quic-pair.js';

export interface H3PairOptions extends QuicPairOptions {
  reversed?: boolean;
  server?: Partial<Http3SessionOptions>;
  client?: Partial<Http3SessionOptions>;
}

export function h3Pair(options: H3PairOptions = {}): { client: Http3Session; server: Http3Session; clientQuic: InMemoryQuic; serverQuic: InMemoryQuic } {
  const quic = quicPair(options);
  const [clientQuic, serverQuic] = options.reversed ? [quic.server, quic.client] : [quic.client, quic.server];
  const server = connectQuic(serverQuic, { role: 'server', quicRole: options.reversed ? 'client' : 'server', ...options.server });
  const client = connectQuic(clientQuic, { role: 'client', quicRole: options.reversed ? 'server' : 'client', ...options.client });
  return { client, server, clientQuic, serverQuic };
}

/** The whole body of a BodyReader (null → empty). */
export async function readAll(body: { read(): Uint8Array | null | undefined; wait(): Promise<void> } | null): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  if (body) {
    for (;;) {
      const chunk = body.read();
      if (chunk === null) break;
      if (chunk === undefined) await body.wait();
      else chunks.push(chunk);
    }
  }
  return concatBytes(chunks);
}
