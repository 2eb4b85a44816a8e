import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../../packages/node/src/certs.js';
import { WebSocketRefusedError, openWebSocketCarrier, ptthUpgradeHeaders, ptthUrl } from '../../../packages/agent/src/carriers/websocket.js';
import { browser, connectAgent, startLocalEdge, waitForSessions, type InProcessAgent, type LocalEdge } from './harness.js';

const ORIGIN = 'https://app.example.com';
const HOST = 'app.example.com';
const MiB = 1024 * 1024;

function pattern(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

let edge: LocalEdge;
let ca: IssuedCertificate;
let origin: IssuedCertificate;
let agent: InProcessAgent;
/** SSE: the test releases the second event only after it saw the first. */
let releaseSecondEvent: () => void = () => {};
let hangingRequestArrived: () => void = () => {};

beforeAll(async () => {
  ca = await createDevCa();
  origin = await issueCertificate(ca, { dnsNames: [HOST, 'other.example.com'] });
  edge = await startLocalEdge(ca.certPem);
  agent = await connectAgent(edge, { origins: [ORIGIN], certChainPem: origin.chainPem, keyPem: origin.keyPem }, async (request) => {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/hello':
        return new Response(`hello from ${url.host} via ${request.headers.get('via')}`, { headers: { 'x-origin': 'yes' } });
      case '/bytes':
        return new Response(pattern(Number(url.searchParams.get('size'))));
      case '/stream': {
        const total = Number(url.searchParams.get('size'));
        const chunk = pattern(256 * 1024);
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(controller) {
              if (sent >= total) return controller.close();
              const n = Math.min(chunk.length, total - sent);
              controller.enqueue(chunk.subarray(0, n));
              sent += n;
            },
          }),
        );
      }
      case '/upload': {
        const body = new Uint8Array(await request.arrayBuffer());
        return Response.json({ size: body.length, sha256: sha256(body) });
      }
      case '/events': {
        const encoder = new TextEncoder();
        const second = new Promise<void>((r) => (releaseSecondEvent = r));
        return new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(encoder.encode('data: one\n\n'));
              await second;
              controller.enqueue(encoder.encode('data: two\n\n'));
              controller.close();
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        );
      }
      default:
        return new Response('not found', { status: 404 });
    }
  });
  await waitForSessions(edge, HOST);
});

afterAll(async () => {
  agent?.carrier.close();
  await edge?.close();
});

describe('edge: browser requests over the WebSocket carrier (DESIGN.md Carrier 2, Broker semantics)', () => {
  it('routes by hostname to the agent and adds Via (RFC 9110 §7.6.3)', async () => {
    const response = await browser(edge, HOST, '/hello');
    expect(response.status).toBe(200);
    expect(response.headers['x-origin']).toBe('yes');
    expect(await response.text()).toMatch(/^hello from app\.example\.com via .*rhttp-edge/);
  });

  it('GET 5 MiB', async () => {
    const response = await browser(edge, HOST, `/bytes?size=${5 * MiB}`);
    expect(response.status).toBe(200);
    const body = await response.bytes();
    expect(body.length).toBe(5 * MiB);
    expect(sha256(body)).toBe(sha256(pattern(5 * MiB)));
  });

  it('POST 5 MiB (streamed in 64 KiB pieces)', async () => {
    const data = pattern(5 * MiB, 7);
    async function* pieces() {
      for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
    }
    const response = await browser(edge, HOST, '/upload', { method: 'POST', body: pieces(), headers: { 'content-type': 'application/octet-stream' } });
    expect(response.status).toBe(200);
    expect(JSON.parse(await response.text())).toEqual({ size: data.length, sha256: sha256(data) });
  });

  it('a 50 MiB download arrives complete (flow control is the backpressure)', async () => {
    const response = await browser(edge, HOST, `/stream?size=${50 * MiB}`);
    expect(response.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    expect(size).toBe(50 * MiB);
    const expected = createHash('sha256');
    const chunk = pattern(256 * 1024);
    for (let i = 0; i < 200; i++) expected.update(chunk);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
  });

  it('Server-Sent Events arrive one event at a time', async () => {
    const response = await browser(edge, HOST, '/events');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream');
    const iterator = response.body[Symbol.asyncIterator]();
    let received = '';
    while (!received.includes('\n\n')) received += ((await iterator.next()).value as Buffer).toString();
    // The origin has not sent event two yet: it waits for us to have seen event one.
    expect(received).toBe('data: one\n\n');
    releaseSecondEvent();
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) received += (r.value as Buffer).toString();
    expect(received).toBe('data: one\n\ndata: two\n\n');
  });

  it('unknown host → 503 with Proxy-Status (RFC 9209) and Retry-After', async () => {
    const response = await browser(edge, 'nobody.example.org', '/');
    expect(response.status).toBe(503);
    expect(response.headers['proxy-status']).toMatch(/error=destination_unavailable/);
    expect(response.headers['proxy-status']).not.toMatch(/next-hop/);
    expect(response.headers['retry-after']).toBeDefined();
  });

  it('status JSON lists the session and its origins', async () => {
    const status = JSON.parse(await (await browser(edge, HOST, '/.rhttp/status')).text());
    expect(status.key).toBe('example.com');
    expect(status.origins).toEqual([ORIGIN]);
    expect(status.sessions).toHaveLength(1);
  });
});

describe('edge: agent upgrade refusals (RFC 9421, RFC 9440; each reason reaches the agent)', () => {
  async function refusal(promise: Promise<unknown>): Promise<WebSocketRefusedError> {
    try {
      await promise;
    } catch (error) {
      expect(error).toBeInstanceOf(WebSocketRefusedError);
      return error as WebSocketRefusedError;
    }
    throw new Error('the upgrade was accepted');
  }
  const base = () => ({ origins: [ORIGIN], certChainPem: origin.chainPem, keyPem: origin.keyPem });

  it('a forged origin (not in the certificate) → 403', async () => {
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), origins: ['https://evil.example.com'] }));
    expect(e.status).toBe(403);
    expect(e.body).toMatch(/origin https:\/\/evil\.example\.com is not covered by the certificate/);
  });

  it('an untrusted chain → 401', async () => {
    const otherCa = await createDevCa();
    const stranger = await issueCertificate(otherCa, { dnsNames: [HOST] });
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), certChainPem: stranger.chainPem, keyPem: stranger.keyPem }));
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/certificate refused \(untrusted\)/);
  });

  it('an expired certificate → 401', async () => {
    const expired = await issueCertificate(ca, { dnsNames: [HOST], notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), certChainPem: expired.chainPem, keyPem: expired.keyPem }));
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/certificate refused \(expired\)/);
  });

  it("a bad signature (another key's) → 401", async () => {
    const impostor = await issueCertificate(ca, { dnsNames: [HOST] });
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), keyPem: impostor.keyPem }));
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/signature refused \(bad-signature\)/);
  });

  it('a stale `created` → 401', async () => {
    const url = ptthUrl(edge.wsUrl, [ORIGIN]);
    const stale = await ptthUpgradeHeaders(url, { certChainPem: origin.chainPem, keyPem: origin.keyPem, created: Math.floor(Date.now() / 1000) - 600 });
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), mutateHeaders: (h) => Object.assign(h, stale) }));
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/signature refused \(stale\): the signature was created 6\d\d s ago/);
  });

  it('a replayed nonce → 401 (the first use is accepted)', async () => {
    const url = ptthUrl(edge.wsUrl, [ORIGIN]);
    const captured = await ptthUpgradeHeaders(url, { certChainPem: origin.chainPem, keyPem: origin.keyPem });
    const first = await openWebSocketCarrier({ url: edge.wsUrl, ...base(), mutateHeaders: (h) => Object.assign(h, captured) });
    first.close();
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), mutateHeaders: (h) => Object.assign(h, captured) }));
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/signature refused \(replay\)/);
  });

  it('no credentials at all → 401 naming Client-Cert', async () => {
    const e = await refusal(
      openWebSocketCarrier({
        url: edge.wsUrl,
        ...base(),
        mutateHeaders: (h) => {
          for (const k of Object.keys(h)) if (k.toLowerCase() !== 'alpn') delete h[k];
        },
      }),
    );
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/no Client-Cert field/);
  });

  it('an ALPN field (RFC 7639) without h2 → 400, as on the Node intermediary (draft-kazuho-ptth-ptth-01)', async () => {
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), mutateHeaders: (h) => Object.assign(h, { alpn: 'http%2F1.1' }) }));
    expect(e.status).toBe(400);
    expect(e.body).toMatch(/ALPN "http%2F1\.1": this intermediary runs reversed HTTP\/2, so the request must offer "h2"/);
  });

  it('origins of several registrable domains → 400', async () => {
    const e = await refusal(openWebSocketCarrier({ url: edge.wsUrl, ...base(), origins: [ORIGIN, 'https://app.example.net'] }));
    expect(e.status).toBe(400);
    expect(e.body).toMatch(/several registrable domains \(example\.com, example\.net\)/);
  });
});

describe('edge: a dying agent', () => {
  it('an ORIGIN frame beyond the URL origins ends the session with GOAWAY naming the entry', async () => {
    const rogue = await connectAgent(edge, base(), () => new Response('never'), [ORIGIN, 'https://other.example.com']);
    const error = await rogue.session.closed;
    const debug = new TextDecoder().decode(rogue.session.connection.goawayReceived?.debugData ?? new Uint8Array());
    expect(debug || error?.message).toMatch(/https:\/\/other\.example\.com is not among the origins in the upgrade URL/);
  });

  it('an agent that disconnects mid-response → 502', async () => {
    const host = 'other.example.com';
    const arrived = new Promise<void>((r) => (hangingRequestArrived = r));
    const dying = await connectAgent(edge, { ...base(), origins: [`https://${host}`] }, () => {
      hangingRequestArrived();
      return new Promise<Response>(() => {}); // never answers
    });
    await waitForSessions(edge, host, 2);
    const pending = browser(edge, host, '/slow');
    await arrived;
    dying.carrier.close();
    const response = await pending;
    expect(response.status).toBe(502);
    expect(response.headers['proxy-status']).toMatch(/rhttp-edge; error=/);
  });
});

function base() {
  return { origins: [ORIGIN], certChainPem: origin.chainPem, keyPem: origin.keyPem };
}
