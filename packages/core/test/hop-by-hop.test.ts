/** RFC 9110 §7.6.1 / RFC 9113 §8.2.2: the one hop-by-hop rule, for Headers and field lists, per next hop. */
import { describe, expect, it } from 'vitest';
import { connectionOptions, isHopByHop, listsToken, stripHopByHop, stripHopByHopFields, type HeaderField } from '../src/index.js';

describe('hop-by-hop fields (RFC 9110 §7.6.1)', () => {
  it('drops the always-hop-by-hop fields and those Connection lists, in both shapes alike', () => {
    const fields: HeaderField[] = [
      ['connection', 'x-trace, Keep-Alive'], ['x-trace', '1'], ['keep-alive', '5'], ['transfer-encoding', 'chunked'],
      ['upgrade', 'h2c'], ['proxy-connection', 'keep-alive'], ['proxy-authorization', 'Basic x'], ['proxy-authenticate', 'Basic'],
      ['x-kept', 'yes'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'],
    ];
    const headers = new Headers();
    for (const [name, value] of fields) headers.append(name, value);
    stripHopByHopFields(fields);
    stripHopByHop(headers);
    expect(fields).toEqual([['x-kept', 'yes'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    expect([...headers]).toEqual([['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-kept', 'yes']]);
  });

  it('RFC 9113 §8.2.2: TE goes on to HTTP/2 only as "trailers"; to HTTP/1.1 never (a connection capability)', () => {
    const none = connectionOptions([]);
    expect(isHopByHop('te', 'trailers', none, 'h2')).toBe(false);
    expect(isHopByHop('te', 'gzip', none, 'h2')).toBe(true);
    expect(isHopByHop('te', 'trailers', none, 'http/1.1')).toBe(true);
    expect(isHopByHop('x-any', 'v', connectionOptions([['Connection', 'X-Any']]))).toBe(true);
    expect(isHopByHop('x-any', 'v', connectionOptions([['connection', 'bad token!']]))).toBe(false);
  });

  it('listsToken finds a #token list member (Connection, Upgrade, TE) by name, whatever its case, spaces or parameters', () => {
    expect(listsToken('keep-alive, Upgrade', 'upgrade')).toBe(true);
    expect(listsToken('  WebSocket ,h2c', 'websocket')).toBe(true);
    expect(listsToken('trailers;q=0.5', 'trailers')).toBe(true);
    expect(listsToken(',,close,', 'close')).toBe(true);
    // Only whole members count.
    expect(listsToken('keep-alive-ish, upgraded', 'upgrade')).toBe(false);
    expect(listsToken('x;upgrade', 'upgrade')).toBe(false);
    expect(listsToken('', 'close')).toBe(false);
    expect(listsToken(null, 'close')).toBe(false);
    expect(listsToken(undefined, 'close')).toBe(false);
  });
});
