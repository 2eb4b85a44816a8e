import { Http2Session, type Handler, type Http2SessionOptions } from '../../src/index.js';

/**
 * Two sessions wired back to back through queued (asynchronous) delivery, as over a socket: a
 * client and a server whose `handler` answers its requests (or `serverOptions.onStream`).
 */
export function sessionPair(handler: Handler | undefined, serverOptions: Partial<Http2SessionOptions> = {}, clientOptions: Partial<Http2SessionOptions> = {}) {
  let client!: Http2Session;
  let server!: Http2Session;
  const deliver = (to: () => Http2Session) => (chunk: Uint8Array) => {
    const copy = chunk.slice();
    setImmediate(() => to().receive(copy));
    return true;
  };
  client = new Http2Session({ write: deliver(() => server), close: () => setImmediate(() => server.receiveEnd()) }, { role: 'client', ...clientOptions });
  server = new Http2Session({ write: deliver(() => client), close: () => setImmediate(() => client.receiveEnd()) }, { role: 'server', handler, ...serverOptions });
  return { client, server };
}
