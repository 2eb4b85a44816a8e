import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, ErrorCode } from '@rhttp/core';
import { issueCertificate, createDevCa } from '../../../packages/node/src/certs.js';
import { Intermediary, STATUS_PATH, type IntermediaryAddresses, type IntermediaryStatus } from '../src/intermediary.js';
import { connectAgent, http1, http2Connect, http2Get, makePki, until, type Pki, type TestAgent, intermediaryOptions } from './harness.js';

let pki: Pki;
let intermediary: Intermediary;
let addresses: IntermediaryAddresses;
const logLines: string[] = [];
const agents: TestAgent[] = [];

/** Origin the agent claims for requests on the cleartext listener: scheme and port must match the browser's. */
let httpOrigin: string;
let httpHost: string;

beforeAll(async () => {
  pki = await makePki();
  intermediary = new Intermediary(intermediaryOptions(pki, { log: (line) => logLines.push(line) }));
  addresses = await intermediary.start();
  httpHost = `app.example.com:${addresses.http!.port}`;
  httpOrigin = `http://${httpHost}`;
});

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.socket.destroy();
  // The next test must not be served by a session that is still dying.
  await until(() => intermediary.status().sessions.length === 0, 'every agent session to close');
});

afterAll(async () => {
  await intermediary.stop();
});

async function agent(opts: Partial<Parameters<typeof connectAgent>[0]> & Pick<Parameters<typeof connectAgent>[0], 'handler'>): Promise<TestAgent> {
  const a = await connectAgent({ port: addresses.agents.port, caPem: pki.ca.certPem, cert: pki.origin, origins: [httpOrigin], ...opts });
  agents.push(a);
  return a;
}

/** Waits until the intermediary serves `origin` (certificate and ORIGIN frame checked). */
async function served(origin: string): Promise<void> {
  await until(() => intermediary.servedOrigins().includes(origin), `${origin} to be served`);
}

async function unserved(origin: string): Promise<void> {
  await until(() => !intermediary.servedOrigins().includes(origin), `${origin} to be gone`);
}

describe('Carrier 1 (draft-bt-httpbis-reverse-http-01): requests reach the agent through --http', () => {
  it('forwards an HTTP/1.1 request with Via and X-Forwarded-* added, and streams a POST body through', async () => {
    const seen: { method: string; url: string; headers: Headers; body: string }[] = [];
    await agent({
      handler: async (request) => {
        seen.push({ method: request.method, url: request.url, headers: request.headers, body: await request.text() });
        return new Response('hello from the origin', { headers: { 'x-origin': 'yes', 'set-cookie': 'a=1' } });
      },
    });
    await served(httpOrigin);
    const get = await http1(addresses.http!.port, httpHost, '/path?q=1', { headers: { 'x-custom': 'kept' } });
    expect(get.status).toBe(200);
    expect(get.body).toBe('hello from the origin');
    expect(get.headers['x-origin']).toBe('yes');
    expect(get.headers['set-cookie']).toEqual(['a=1']);
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toBe(`${httpOrigin}/path?q=1`);
    expect(seen[0].headers.get('x-custom')).toBe('kept');
    expect(seen[0].headers.get('via')).toMatch(/^1\.1 rhttp/);
    expect(seen[0].headers.get('x-forwarded-for')).toBe('127.0.0.1');
    expect(seen[0].headers.get('x-forwarded-proto')).toBe('http');
    expect(seen[0].headers.get('x-forwarded-host')).toBe(httpHost);

    const post = await http1(addresses.http!.port, httpHost, '/upload', { method: 'POST', body: 'x'.repeat(200_000), headers: { 'content-type': 'text/plain' } });
    expect(post.status).toBe(200);
    expect(seen[1].method).toBe('POST');
    expect(seen[1].body.length).toBe(200_000);
  });

  it('stands in for an https origin on the cleartext listener when no agent serves the http origin, and keeps http when one does', async () => {
    const seen: string[] = [];
    await agent({ origins: ['https://app.example.com'], handler: (request) => (seen.push(request.url), new Response('secure')) });
    await served('https://app.example.com');
    const secure = await http1(addresses.http!.port, httpHost, '/a?b=1');
    expect(secure.status).toBe(200);
    expect(secure.body).toBe('secure');
    expect(seen).toEqual(['https://app.example.com/a?b=1']); // the https origin's URL: its default port, not the listener's
    // Another host of the same domain is not served under either scheme: 503, not rerouted.
    expect((await http1(addresses.http!.port, `other.example.com:${addresses.http!.port}`, '/')).status).toBe(503);
    await agent({ origins: [httpOrigin], handler: () => new Response('plain') });
    await served(httpOrigin);
    const plain = await http1(addresses.http!.port, httpHost, '/a');
    expect(plain.body).toBe('plain'); // the http origin is served as it is once an agent serves it
    expect(seen).toHaveLength(1);
  });

  it('forwards h2c (prior knowledge) requests on the same port', async () => {
    const seen: Headers[] = [];
    await agent({
      handler: (request) => {
        seen.push(request.headers);
        return new Response('over h2c');
      },
    });
    await served(httpOrigin);
    const client = http2Connect(`http://127.0.0.1:${addresses.http!.port}`);
    try {
      const [a, b] = await Promise.all([http2Get(client, httpHost, '/one'), http2Get(client, httpHost, '/two')]);
      expect(a.status).toBe(200);
      expect(a.body).toBe('over h2c');
      expect(b.body).toBe('over h2c');
      expect(seen[0].get('via')).toMatch(/^2 rhttp/);
      // Each finished exchange gives its client-budget slot back (a leak refuses the address for good once it reaches the cap).
      await until(() => intermediary.status().browserExchanges.active === 0, 'the finished h2c exchanges to leave the client budget');
    } finally {
      client.close();
    }
  });

  it('streams the response chunk by chunk (the first chunk arrives before the origin writes the second)', async () => {
    let releaseSecond!: () => void;
    const second = new Promise<void>((r) => (releaseSecond = r));
    await agent({
      handler: () => {
        const encoder = new TextEncoder();
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encoder.encode('data: one\n\n'));
            await second;
            controller.enqueue(encoder.encode('data: two\n\n'));
            controller.close();
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      },
    });
    await served(httpOrigin);
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const req = httpRequest({ host: '127.0.0.1', port: addresses.http!.port, path: '/events', headers: { host: httpHost }, agent: false }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          got.push(c);
          // Only now may the origin produce the second event: a buffering proxy would deadlock here.
          if (got.join('') === 'data: one\n\n') releaseSecond();
        });
        res.on('end', () => resolve(got));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(chunks.join('')).toBe('data: one\n\ndata: two\n\n');
  });

  it('answers 503 with Proxy-Status for a host no agent serves', async () => {
    const res = await http1(addresses.http!.port, `nobody.example.net:${addresses.http!.port}`, '/');
    expect(res.status).toBe(503);
    expect(res.headers['proxy-status']).toMatch(/destination_unavailable/);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('answers 400 when there is no usable Host', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: addresses.http!.port, path: '/', headers: { host: 'bad/host' }, agent: false }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(res).toBe(400);
  });

  it('respects HEAD and 204 (no body written)', async () => {
    await agent({ handler: (request) => (request.url.endsWith('/empty') ? new Response(null, { status: 204 }) : new Response('body', { headers: { 'content-length': '4' } })) });
    await served(httpOrigin);
    const head = await http1(addresses.http!.port, httpHost, '/x', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const empty = await http1(addresses.http!.port, httpHost, '/empty');
    expect(empty.status).toBe(204);
    expect(empty.body).toBe('');
  });
});

describe('Carrier 1 step 4: certificate and ORIGIN checks', () => {
  it('refuses an ORIGIN entry the certificate does not cover: GOAWAY names it, no traffic reaches the agent', async () => {
    let requests = 0;
    const evil = `http://evil.example:${addresses.http!.port}`;
    const a = await agent({
      origins: [httpOrigin, evil],
      handler: () => {
        requests++;
        return new Response('should not happen');
      },
    });
    const goaway = await a.goaway;
    expect(goaway.errorCode).toBe(ErrorCode.INADEQUATE_SECURITY);
    expect(goaway.debug).toContain(`origin ${evil} is not covered by the certificate`);
    expect(goaway.debug).toContain('app.example.com');
    await a.closed;
    const res = await http1(addresses.http!.port, `evil.example:${addresses.http!.port}`, '/');
    expect(res.status).toBe(503);
    expect(requests).toBe(0);
    expect(intermediary.status().recentRefusals.at(-1)?.reason).toContain('evil.example');
  });

  it('checks ORIGIN frames sent later the same way and closes the session on a forged one', async () => {
    let requests = 0;
    const a = await agent({
      handler: () => {
        requests++;
        return new Response('ok');
      },
    });
    await served(httpOrigin);
    a.socket.write(encodeFrame({ kind: 'origin', streamId: 0, origins: ['https://bank.example'] }));
    const goaway = await a.goaway;
    expect(goaway.debug).toContain('origin https://bank.example is not covered');
    await a.closed;
    await unserved(httpOrigin);
    expect(requests).toBe(0);
  });

  it('accepts a covered ORIGIN frame sent later and routes to the new origin', async () => {
    const a = await agent({ handler: (request) => new Response(`got ${new URL(request.url).host}`) });
    await served(httpOrigin);
    const more = `http://api.app.example.com:${addresses.http!.port}`;
    a.socket.write(encodeFrame({ kind: 'origin', streamId: 0, origins: [more] }));
    await served(more);
    const res = await http1(addresses.http!.port, `api.app.example.com:${addresses.http!.port}`, '/');
    expect(res.body).toBe(`got api.app.example.com:${addresses.http!.port}`);
  });

  it('refuses a certificate from an untrusted CA', async () => {
    const otherCa = await createDevCa({ commonName: 'Somebody Else CA', days: 30 });
    const cert = await issueCertificate(otherCa, { dnsNames: ['app.example.com'] });
    const a = await agent({ cert, handler: () => new Response('no') });
    const goaway = await a.goaway;
    expect(goaway.errorCode).toBe(ErrorCode.INADEQUATE_SECURITY);
    expect(goaway.debug).toMatch(/certificate not trusted: /);
    await a.closed;
    expect(intermediary.servedOrigins()).not.toContain(httpOrigin);
  });

  it('refuses an expired certificate', async () => {
    const cert = await issueCertificate(pki.ca, { dnsNames: ['app.example.com'], notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const a = await agent({ cert, handler: () => new Response('no') });
    const goaway = await a.goaway;
    expect(goaway.debug).toMatch(/certificate expired: /);
    await a.closed;
  });

  it('refuses an agent without a client certificate', async () => {
    const a = await agent({ cert: undefined, handler: () => new Response('no') });
    const goaway = await a.goaway;
    expect(goaway.debug).toMatch(/no client certificate/);
    await a.closed;
  });

  it('refuses origins that span several registrable domains', async () => {
    const cert = await issueCertificate(pki.ca, { dnsNames: ['app.example.com', 'app.example.org'] });
    const a = await agent({ cert, origins: [httpOrigin, `http://app.example.org:${addresses.http!.port}`], handler: () => new Response('no') });
    const goaway = await a.goaway;
    expect(goaway.errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(goaway.debug).toMatch(/registrable domains/);
    await a.closed;
  });

  it('takes reversed HTTP/2 under draft-thomson-ptth-potato\'s ALPN "rh2" too, with the same admission', async () => {
    const a = await agent({ alpn: ['rh2'], handler: () => new Response('served over rh2') });
    expect(a.socket.alpnProtocol).toBe('rh2');
    await served(httpOrigin);
    const res = await http1(addresses.http!.port, httpHost, '/');
    expect([res.status, res.body]).toEqual([200, 'served over rh2']);
  });

  it.each([
    ['no ALPN at all', []],
    ['ALPN h2', ['h2']],
  ])('closes a connection that did not negotiate ALPN h2-reverse or rh2 (%s)', async (_what, alpn) => {
    const closed = await new Promise<boolean>((resolve) => {
      connectAgent({ port: addresses.agents.port, caPem: pki.ca.certPem, cert: pki.origin, origins: [httpOrigin], handler: () => new Response(''), alpn }).then(
        (a) => {
          agents.push(a);
          expect(a.socket.alpnProtocol).toBeFalsy();
          a.socket.once('close', () => resolve(true));
        },
        () => resolve(true), // or the TLS handshake itself fails (no_application_protocol alert)
      );
    });
    expect(closed).toBe(true);
    expect(intermediary.servedOrigins()).not.toContain(httpOrigin);
  });
});

describe('failures reach the browser as failures', () => {
  it('answers 502 when the agent dies before responding', async () => {
    let kill!: () => void;
    const a = await agent({
      handler: () => {
        kill();
        return new Promise<Response>(() => {});
      },
    });
    kill = () => a.socket.destroy();
    await served(httpOrigin);
    const res = await http1(addresses.http!.port, httpHost, '/');
    expect(res.status).toBe(502);
    expect(res.headers['proxy-status']).toBeDefined();
  });

  it('breaks the browser connection when the agent dies mid-response (no truncated success)', async () => {
    let a!: TestAgent;
    a = await agent({
      handler: () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('partial'));
          },
          pull() {
            // The first chunk is out; the agent now dies without finishing the body.
            setTimeout(() => a.socket.destroy(), 0);
          },
        });
        return new Response(body);
      },
    });
    await served(httpOrigin);
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: addresses.http!.port, path: '/', headers: { host: httpHost }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve('complete'));
        res.on('error', (e) => resolve(`error: ${e.message}`));
        res.on('aborted', () => resolve('aborted'));
      });
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.end();
    });
    expect(outcome).not.toBe('complete');
  });
});

describe('failures reach HTTP/2 browsers as failures', () => {
  it('resets the browser stream (RST_STREAM) when the agent dies mid-response on h2c', async () => {
    let a!: TestAgent;
    a = await agent({
      handler: () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('partial'));
            },
            pull() {
              setTimeout(() => a.socket.destroy(), 0);
            },
          }),
        ),
    });
    await served(httpOrigin);
    const client = http2Connect(`http://127.0.0.1:${addresses.http!.port}`);
    client.on('error', () => {});
    try {
      const outcome = await http2Get(client, httpHost, '/').then(
        () => 'complete',
        (e: Error & { code?: string }) => e.code ?? e.message,
      );
      expect(outcome).toBe('ERR_HTTP2_STREAM_ERROR');
    } finally {
      client.close();
    }
  });

  const upgradeAttempt = (upgrade: string, body?: string) =>
    new Promise<string>((resolve, reject) => {
      const headers: Record<string, string> = { host: httpHost, connection: 'upgrade', upgrade };
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = httpRequest({ host: '127.0.0.1', port: addresses.http!.port, path: '/ws', method: body === undefined ? 'GET' : 'POST', headers, agent: false });
      req.on('response', (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('upgrade', () => resolve('upgraded'));
      req.on('error', reject);
      req.end(body);
    });

  it('RFC 9110 §7.8 serves a bodiless request whose upgrade it does not do (curl --http2: Upgrade: h2c) as plain HTTP/1.1', async () => {
    // No agent serves the host at this point of the file: the broker's 503 shows the request went
    // through as plain HTTP/1.1 (test/e2e/tunnel-clients.test.ts gets a 200 from a live agent).
    expect(await upgradeAttempt('h2c')).toBe('503');
    expect(await upgradeAttempt('example-protocol/1')).toBe('503');
  });

  it('serves an upgrade it does not do as plain HTTP/1.1 also when the request carries a body (WebSockets: websocket.test.ts)', async () => {
    expect(await upgradeAttempt('example-protocol/1', 'payload')).toBe('503');
  });
});

describe('the browser going away', () => {
  it('cancels the stream toward the origin when the browser disconnects mid-response', async () => {
    let cancelled!: (reason: unknown) => void;
    const originSawCancel = new Promise<unknown>((r) => (cancelled = r));
    await agent({
      handler: () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('data: first\n\n'));
            },
            cancel(reason) {
              cancelled(reason);
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    });
    await served(httpOrigin);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: addresses.http!.port, path: '/events', headers: { host: httpHost }, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.once('error', reject);
      req.end();
    });
    await until(() => intermediary.status().sessions.every((s) => s.openStreams === 0), 'the stream to close');
    await originSawCancel;
  });
});

describe('browser-facing HTTPS (RFC 8336 ORIGIN frame) and the status page', () => {
  it('serves HTTP/2 over TLS and announces served origins with an ORIGIN frame', async () => {
    const httpsHost = `app.example.com:${addresses.https!.port}`;
    const httpsOrigin = `https://${httpsHost}`;
    await agent({ origins: [httpsOrigin], handler: (request) => new Response(`secure ${request.headers.get('x-forwarded-proto')}`) });
    await served(httpsOrigin);
    const client = http2Connect(`https://127.0.0.1:${addresses.https!.port}`, { ca: pki.ca.certPem, servername: 'localhost' });
    const origins = new Promise<string[]>((resolve) => client.once('origin', (o: string[]) => resolve(o)));
    try {
      const res = await http2Get(client, httpsHost, '/');
      expect(res.status).toBe(200);
      expect(res.body).toBe('secure https');
      expect(await origins).toContain(httpsOrigin);
    } finally {
      client.close();
    }
  });

  it(`answers ${STATUS_PATH} itself with origins, sessions and counters`, async () => {
    await agent({ handler: () => new Response('') });
    await served(httpOrigin);
    // The first PING goes out when the session is authorized; its answer gives the RTT.
    await until(() => intermediary.status().sessions.some((s) => s.rttMs !== null), 'a PING round trip');
    const res = await http1(addresses.http!.port, 'anything.example', STATUS_PATH, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const status = JSON.parse(res.body) as IntermediaryStatus;
    expect(status.origins).toContain(httpOrigin);
    const session = status.sessions.find((s) => s.origins.includes(httpOrigin));
    expect(session?.state).toBe('authorized');
    expect(session?.subject).toBe('CN=app.example.com');
    expect(typeof session?.ageMs).toBe('number');
    expect(typeof session?.rttMs).toBe('number');
    expect(status.brokers[0].sessions[0].id).toBe(session?.id);
    expect(status.counters.agentsAuthorized).toBeGreaterThan(0);
    expect(logLines.some((l) => /authorized for/.test(l))).toBe(true);
  });
});
