import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * An HTTP/1.1 request that asks for an upgrade we do not perform — typically `Upgrade: h2c`, which
 * `curl --http2` sends on http:// URLs — is answered as the ordinary request it also is: a server
 * may ignore Upgrade (RFC 9110 §7.8), and RFC 9113 §3.1 deprecates the h2c upgrade anyway.
 *
 * node:http (Node 20) hands every request with an Upgrade header to the 'upgrade' listener and
 * detaches its parser, so the request is re-emitted as 'request' with a response bound to the
 * socket, and the connection closes after that one response.
 *
 * Returns false (and does nothing) for a request with a body: its bytes would no longer be parsed.
 */
export function serveIgnoringUpgrade(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
  const length = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] !== undefined || length > 0) return false;
  if (head.length > 0) socket.unshift(head);
  delete req.headers.upgrade;
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as unknown as import('node:net').Socket);
  res.on('finish', () => {
    res.detachSocket(socket as unknown as import('node:net').Socket);
    socket.end();
  });
  req.push(null); // no body: let readers of the request see its end
  server.emit('request', req, res);
  return true;
}
