/**
 * Browser WebSockets at the intermediary (DESIGN.md, Broker semantics: "Browser WebSockets reach
 * the origin through extended CONNECT (RFC 8441) on the reversed session"). Two ways in:
 *
 * - HTTP/1.1 `Upgrade: websocket` (RFC 6455 §4) on `--http`/`--https` (node:http's `'upgrade'`);
 * - RFC 8441 extended CONNECT from HTTP/2 browsers (a `:protocol` CONNECT stream on the
 *   listener's @rhttp/core session, with SETTINGS_ENABLE_CONNECT_PROTOCOL).
 *
 * Both become an extended CONNECT (`:protocol websocket`) through the broker. When the origin
 * answers 2xx, the browser gets 101 (HTTP/1.1, with Sec-WebSocket-Accept computed from its key)
 * or 200 (HTTP/2), then bytes are relayed both ways untouched (the frames are end to end between
 * the browser and the upstream). Backpressure: the browser's socket is paused (HTTP/1.1) or its
 * stream's credit held (HTTP/2) while the reversed stream has no window, and the reversed
 * stream's credit is returned only as bytes are written to the browser. A clean end on either side (FIN / END_STREAM) half-closes the other; an abrupt
 * one (reset, destroyed socket) resets or destroys the other.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { bodyReaderOf, connectionOptions, ErrorCode, isHopByHop, listsToken, type ServerStream } from '@rhttp/core';
import { WEBSOCKET_PROTOCOL, tunnelRequest } from '@rhttp/broker';
import { clientAddressOf, requestUrl, streamAuthority, type ExchangeInfo } from './browser-exchange.js';
import { streamBody, writeBody } from './browser-stream.js';
import { closingRefusal, closingResponse } from './closing-response.js';
import { copyToWritable, readableFromSocket } from '@rhttp/node/socket-streams';

/** Sends one tunnel through the broker (the intermediary binds this to `registry.tunnel`). */
export type TunnelAnswer = (request: Request, protocol: string, info: ExchangeInfo) => Promise<Response>;

/** RFC 6455 §1.3: the GUID appended to the key for Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Chunks read from the browser ahead of the reversed stream before its socket is paused. */
const BROWSER_BUFFERED_CHUNKS = 16;
const browserClosedAbruptly = () => new Error('the browser closed the WebSocket connection abruptly');
/**
 * How long a tunnel may still run after its browser ended its side cleanly and then closed (an
 * HTTP/1.1 socket closes both ways once the browser's FIN arrives). The browser's last bytes, its
 * close frame among them, are still on their way to the upstream, which closes the tunnel itself
 * once it has them (RFC 6455 §7.1.1: the server closes the TCP connection first); only an
 * upstream that never does is cut off after this.
 */
const CLOSED_BROWSER_GRACE_MS = 5_000;
/** Connection-specific fields (RFC 9113 §8.2.2, RFC 9110 §7.6.1) and the HTTP/1.1 handshake's own: never copied into a 101/200. */
/** Fields of the tunnel's answer that the browser's 101 does not take: its own framing and handshake (besides hop-by-hop ones). */
const HANDSHAKE_FIELDS = new Set(['content-length', 'sec-websocket-accept', 'sec-websocket-key']);
/** RFC 6455 §4.1: the key is a base64-encoded 16-octet value. */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/;

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2 step 5.4). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** True when an HTTP/1.1 request asks to upgrade to WebSocket (RFC 6455 §4.1: `Upgrade` lists the token `websocket`). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return listsToken(req.headers.upgrade, 'websocket');
}

/** True for an RFC 8441 extended CONNECT (it has `:protocol`), as opposed to a plain CONNECT (RFC 9113 §8.5). */
export function isExtendedConnect(stream: ServerStream): boolean {
  return stream.head.method === 'CONNECT' && stream.head.protocol !== undefined;
}

function headersFrom(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].startsWith(':')) continue;
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // A value the Fetch API refuses; node already rejected anything invalid on the wire.
    }
  }
  return headers;
}


/**
 * Writes the tunnel's bytes to the browser, waiting for 'drain'; ends cleanly on END_STREAM,
 * destroys on a reset. The browser's socket closing cancels the tunnel at once, unless the browser
 * had ended its side cleanly (`browserEnded`): then the tunnel gets CLOSED_BROWSER_GRACE_MS to end
 * by itself, so that the browser's last bytes still reach the upstream instead of being cut off
 * by a reset.
 */
async function pipeToBrowser(body: ReadableStream<Uint8Array> | null, target: Duplex, ended: () => void, browserEnded: () => boolean): Promise<void> {
  if (!body) {
    target.end();
    ended();
    return;
  }
  const reader = body.getReader();
  let closed = false;
  const onClose = () => {
    if (closed) return;
    closed = true;
    const cancel = () => reader.cancel().catch(() => {});
    if (!browserEnded()) return void cancel();
    (setTimeout(cancel, CLOSED_BROWSER_GRACE_MS) as { unref?: () => void }).unref?.();
  };
  target.once('close', onClose);
  try {
    if (!(await copyToWritable(reader, target))) {
      onClose(); // the browser's socket went away before the tunnel ended
      return;
    }
    ended();
    target.end();
  } catch {
    // The reversed stream was reset (the agent or upstream went away): no clean close to give.
    target.destroy();
  } finally {
    target.off('close', onClose);
  }
}

/** The fields of a 2xx tunnel response worth passing to the browser (Sec-WebSocket-Protocol/-Extensions, Set-Cookie, Via…). */
function copiedFields(headers: Headers): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const listed = connectionOptions(headers);
  headers.forEach((value, name) => {
    if (!HANDSHAKE_FIELDS.has(name) && !isHopByHop(name, value, listed, 'http/1.1') && name !== 'set-cookie') out.push([name, value]);
  });
  for (const cookie of headers.getSetCookie()) out.push(['set-cookie', cookie]);
  return out;
}

/**
 * node:http's `'upgrade'` event (also on an HTTP/2 server with allowHTTP1): a WebSocket upgrade
 * goes through `tunnel`; any other upgrade gets 501. Never throws.
 */
export async function serveWebSocketUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: 'http' | 'https', tunnel: TunnelAnswer): Promise<void> {
  socket.on('error', () => socket.destroy());
  if (!isWebSocketUpgrade(req)) {
    socket.end(closingRefusal(501, `Upgrades to ${JSON.stringify(req.headers.upgrade ?? '')} are not forwarded by rhttp; WebSocket is.`));
    return;
  }
  const key = req.headers['sec-websocket-key'];
  // RFC 6455 §4.2.1: the handshake is a GET with a 16-octet base64 key and version 13.
  if (req.method !== 'GET' || typeof key !== 'string' || !WEBSOCKET_KEY.test(key)) {
    socket.end(closingRefusal(400, 'Bad WebSocket handshake: a GET with a Sec-WebSocket-Key (16 octets, base64) is required (RFC 6455 §4.1).'));
    return;
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    // RFC 6455 §4.4: answer 426 with the versions we understand.
    socket.end(closingRefusal(426, 'Only WebSocket version 13 is supported (RFC 6455).', [['sec-websocket-version', '13']]));
    return;
  }
  const url = requestUrl(req.url ?? '', req.headers.host, scheme);
  if (typeof url === 'string') {
    socket.end(closingRefusal(400, `Bad request: ${url}.`));
    return;
  }
  const controller = new AbortController();
  const clean = { up: false, down: false };
  socket.once('close', () => {
    // A browser gone without ending its side aborts the tunnel. One that ended it cleanly has sent
    // everything: the tunnel carries its last bytes up and ends (pipeToBrowser bounds the wait).
    if (!clean.up) controller.abort(new Error('the browser closed the WebSocket connection'));
  });
  const body = readableFromSocket(socket, { head, highWaterMark: BROWSER_BUFFERED_CHUNKS, onEnd: () => (clean.up = true), abruptClose: browserClosedAbruptly });
  const request = tunnelRequest(url, headersFrom(req.rawHeaders), body, controller.signal);
  let response: Response;
  try {
    response = await tunnel(request, WEBSOCKET_PROTOCOL, { clientAddress: clientAddressOf(req), scheme, httpVersion: req.httpVersion === '1.0' ? '1.0' : '1.1', signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return;
    socket.end(closingRefusal(502, `Bad gateway: ${error instanceof Error ? error.message : String(error)}`));
    return;
  }
  if (socket.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  if (response.status < 200 || response.status > 299) {
    // The origin refused (or there is no session: 503 with Proxy-Status): a plain HTTP response, then
    // close. The browser's body stream is left alone: cancelling it would destroy the socket first.
    const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    socket.end(closingResponse(response.status, bytes, copiedFields(response.headers)));
    return;
  }
  const lines = ['HTTP/1.1 101 Switching Protocols', 'upgrade: websocket', 'connection: Upgrade', `sec-websocket-accept: ${websocketAccept(key)}`];
  for (const [name, value] of copiedFields(response.headers)) lines.push(`${name}: ${value}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  (socket as { setNoDelay?(v: boolean): void }).setNoDelay?.(true);
  await pipeToBrowser(response.body, socket, () => (clean.down = true), () => clean.up);
}

/**
 * An HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220) extended CONNECT stream (see {@link isExtendedConnect}): `:protocol websocket` goes
 * through `tunnel`, another protocol gets 501. The browser's DATA frames are the tunnel's request
 * body, credited back as the reversed stream takes them; the tunnel's bytes are written back with
 * backpressure. END_STREAM either way half-closes the other side; a reset on either side resets
 * the other. Never throws.
 */
export async function serveExtendedConnect(stream: ServerStream, scheme: 'http' | 'https', tunnel: TunnelAnswer, clientAddress: string, httpVersion: '2' | '3' = '2'): Promise<void> {
  const protocol = stream.head.protocol;
  const text = (status: number, message: string) => {
    stream.respond(status, { 'content-type': 'text/plain; charset=utf-8' });
    void stream.end(new TextEncoder().encode(`${message}\n`)).catch(() => {});
  };
  if (protocol !== WEBSOCKET_PROTOCOL) {
    // Another extended CONNECT protocol (connect-udp, …): not forwarded here.
    text(501, `Extended CONNECT for ${JSON.stringify(protocol)} is not forwarded by rhttp; :protocol websocket is.`);
    return;
  }
  const url = requestUrl(stream.head.path, streamAuthority(stream), scheme);
  if (typeof url === 'string') {
    text(400, `Bad request: ${url}.`);
    return;
  }
  const controller = new AbortController();
  stream.onReset = () => controller.abort(new Error('the browser closed the WebSocket stream'));
  const request = tunnelRequest(url, stream.headers(), streamBody(stream), controller.signal);
  let response: Response;
  try {
    response = await tunnel(request, WEBSOCKET_PROTOCOL, { clientAddress, scheme, httpVersion, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return;
    text(502, `Bad gateway: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  if (controller.signal.aborted) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  const fields = copiedFields(response.headers);
  try {
    stream.respond(response.status, fields);
  } catch {
    await response.body?.cancel().catch(() => {});
    stream.reset(ErrorCode.INTERNAL_ERROR);
    return;
  }
  if (response.status < 200 || response.status > 299) {
    const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    await stream.end(bytes).catch(() => {});
    return;
  }
  // RFC 8441 §5: a 2xx answers the extended CONNECT; DATA frames then carry the WebSocket bytes.
  if (response.body === null) await stream.end().catch(() => {});
  else await writeBody(stream, bodyReaderOf(response.body), { signal: controller.signal, failure: ErrorCode.CANCEL });
}
