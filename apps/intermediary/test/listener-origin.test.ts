/**
 * The listener parses a request's origin once and carries it with the request (ListenerRequest.origin),
 * so the registry and the broker route by it instead of deriving it from the URL again.
 */
import { describe, expect, it } from 'vitest';
import type { ResponseMessage } from '@rhttp/core';
import { Abort, requestOrigin, secureOrigin } from '@rhttp/broker';
import { answerExchange, type Answer, type ExchangeInfo, type ExchangeSource, type ListenerRequest } from '../src/browser-exchange.js';

const OK: ResponseMessage = { status: 200, fields: [], body: null, trailers: undefined };

function source(target: string, authority: string): ExchangeSource {
  return {
    method: 'GET',
    target,
    authority,
    request: (url, origin) => ({ method: 'GET', url, origin, headers: [], body: null }),
    discard() {},
  };
}

function info(scheme: 'http' | 'https'): ExchangeInfo {
  return { clientAddress: '127.0.0.1', scheme, httpVersion: '2', signal: new Abort() };
}

describe('the listener carries the origin it parsed', () => {
  it('without a route hook, the origin is the URL\'s, parsed at the listener', async () => {
    const seen: ListenerRequest[] = [];
    const answer: Answer = async (request) => (seen.push(request), OK);
    await answerExchange(answer, source('/x?y=1', 'App.Example.com:8443'), undefined, info('https'));
    expect(seen).toHaveLength(1);
    expect(seen[0].url.href).toBe('https://app.example.com:8443/x?y=1');
    expect(seen[0].origin).toEqual({ scheme: 'https', host: 'app.example.com', port: 8443, wildcard: false });
    expect(seen[0].origin).toEqual(requestOrigin(seen[0].url));
  });

  it('with a route hook, the request carries the URL and the origin the hook returned, the hook called once', async () => {
    const seen: ListenerRequest[] = [];
    let routed = 0;
    const answer: Answer = Object.assign(async (request: ListenerRequest) => (seen.push(request), OK), {
      route: (url: URL) => {
        routed++;
        const origin = secureOrigin(requestOrigin(url)!);
        return { url: new URL(`https://${url.hostname}${url.pathname}`), origin };
      },
    });
    await answerExchange(answer, source('/a', 'app.example.com:8080'), undefined, info('http'));
    expect(routed).toBe(1);
    expect(seen[0].url.href).toBe('https://app.example.com/a');
    expect(seen[0].origin).toEqual({ scheme: 'https', host: 'app.example.com', port: 443, wildcard: false });
  });
});
