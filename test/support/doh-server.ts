/**
 * A DNS-over-HTTPS server (RFC 8484, GET `?dns=` and POST) on 127.0.0.1 for discovery tests: it
 * answers from `zone` (canonical owner name → records) as the test has it at the moment of each
 * query, NXDOMAIN for a name it does not hold.
 *
 * @example
 * const zone = new Map<string, DnsRecord[]>();
 * const doh = await startDohServer(zone);   // doh.url → http://127.0.0.1:PORT/dns-query
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64UrlDecode, canonicalName, decodeMessage, encodeMessage, Rcode, type DnsRecord } from '@rhttp/core';

export interface DohServer {
  /** The DoH URL to give an agent (`--doh`). */
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

export async function startDohServer(zone: Map<string, DnsRecord[]>): Promise<DohServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const wire = req.method === 'POST' ? new Uint8Array(Buffer.concat(chunks)) : base64UrlDecode(url.searchParams.get('dns') ?? '');
      const query = decodeMessage(wire);
      const q = query.questions[0];
      const records = zone.get(canonicalName(q.name));
      const answers = (records ?? []).filter((rr) => rr.type === q.type);
      const reply = encodeMessage({ id: query.id, qr: true, rd: true, ra: true, rcode: records ? Rcode.NOERROR : Rcode.NXDOMAIN, questions: query.questions, answers });
      res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': reply.length }).end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
