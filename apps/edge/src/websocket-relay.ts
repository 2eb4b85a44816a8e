/**
 * Browser WebSockets at the edge (DESIGN.md, Broker semantics; issue 6 item 1). A Worker cannot
 * hand a browser's raw bytes on: the runtime terminates the browser's WebSocket. So the broker
 * object accepts it (`WebSocketPair`), opens an RFC 8441 extended CONNECT (`:protocol websocket`)
 * on an agent's session, and speaks RFC 6455 framing itself on that stream: each browser message
 * becomes a masked client frame (§5.1: client-to-server frames MUST be masked), and the
 * upstream's frames are decoded back into messages. Close codes and reasons are carried both
 * ways; pings from the upstream are answered with pongs. No extension (permessage-deflate) is
 * offered, since the frames are ours to read.
 *
 * Backpressure: workerd has none on WebSocket sends, and none on receives either (a browser's
 * messages arrive as fast as it sends them). Toward the browser, bytes are read from the stream
 * (granting HTTP/2 window) only as fast as messages are handed to the runtime. Toward the agent,
 * browser messages queue until the stream's flow control lets them out, up to
 * TO_AGENT_BUDGET_BYTES; a browser that keeps sending past that while the origin does not read is
 * closed with 1013 (Try Again Later) instead of growing the object's memory without limit.
 */
import {
  WebSocketCloseCode,
  WebSocketFrameDecoder,
  WebSocketOpcode,
  WebSocketProtocolError,
  closeFramePayload,
  encodeWebSocketFrame,
  listsToken,
  sendableCloseCode,
} from '@rhttp/core';
import { WEBSOCKET_PROTOCOL, tunnelRequest } from '@rhttp/broker';

/** Sends the tunnel through the broker (bound to `broker.tunnel(request, 'websocket', info)`). */
export type WebSocketTunnel = (request: Request) => Promise<Response>;

/**
 * Fields of the browser's handshake not sent on: hop-by-hop ones, the RFC 6455 key (RFC 8441 §5
 * replaces it with `:protocol`), and Sec-WebSocket-Extensions (we terminate the WebSocket and
 * negotiate no extension; the upstream must not compress frames we have to read).
 */
const NOT_FORWARDED = ['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-extensions', 'sec-websocket-accept'];
/**
 * Bytes of browser messages the object holds for one WebSocket while the agent's stream has no
 * window: room for the largest single message we relay whole (the conformance table sends 4 MiB)
 * and a burst behind it, never a heap's worth.
 */
export const TO_AGENT_BUDGET_BYTES = 16 * 1024 * 1024;
/** RFC 6455 §7.4 (IANA registry): 1013 Try Again Later, the endpoint is overloaded. */
const TRY_AGAIN_LATER = 1013;

/** The upstream's answer fields the browser may see on its 101 (the runtime adds the handshake's own). */
const PASSED_TO_BROWSER = ['sec-websocket-protocol', 'set-cookie'];

/** True for a browser's WebSocket upgrade request (RFC 6455 §4.1). */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === 'GET' && listsToken(request.headers.get('upgrade'), 'websocket');
}

/**
 * Answers a browser's WebSocket upgrade: the origin's refusal (or the broker's 503) as is, or 101
 * with the browser's end of a `WebSocketPair` relayed over an extended CONNECT stream.
 */
export async function relayWebSocket(request: Request, tunnel: WebSocketTunnel): Promise<Response> {
  const headers = new Headers(request.headers);
  for (const name of NOT_FORWARDED) headers.delete(name);
  let toAgent!: ReadableStreamDefaultController<Uint8Array>;
  let toAgentOpen = true;
  // Counted in bytes: desiredSize goes below zero by what is queued beyond the budget.
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (toAgent = c) }, { highWaterMark: TO_AGENT_BUDGET_BYTES, size: (chunk) => chunk.byteLength });
  const abort = new AbortController();
  const response = await tunnel(tunnelRequest(request.url, headers, body, abort.signal));
  if (response.status < 200 || response.status > 299 || !response.body) {
    body.cancel().catch(() => {});
    return response;
  }

  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  // Binary messages as ArrayBuffer (newer compatibility dates default to Blob, which is read asynchronously and could reorder messages).
  (server as unknown as { binaryType: string }).binaryType = 'arraybuffer';
  server.accept();
  let browserClosed = false;

  const send = (opcode: number, payload: Uint8Array) => {
    if (!toAgentOpen) return;
    toAgent.enqueue(encodeWebSocketFrame({ opcode, payload }, { mask: true }));
    if ((toAgent.desiredSize ?? 0) < 0) {
      // The origin is not reading and the browser keeps sending: stop here, bounded.
      toAgentOpen = false;
      closeBrowser(TRY_AGAIN_LATER, `the origin is not reading; more than ${TO_AGENT_BUDGET_BYTES} bytes were waiting for it`);
      // The queued bytes go, and the stream toward the agent is reset (its body failed).
      toAgent.error(new Error('the browser sent more than the origin read'));
    }
  };
  /** Our close frame to the upstream, then END_STREAM: the stream's half toward the agent is done. */
  const closeTowardAgent = (code: number | undefined, reason: string) => {
    if (!toAgentOpen) return;
    send(WebSocketOpcode.CLOSE, closeFramePayload(code !== undefined && sendableCloseCode(code) ? code : undefined, reason));
    toAgentOpen = false;
    toAgent.close();
  };
  const closeBrowser = (code: number | undefined, reason: string) => {
    if (browserClosed) return;
    browserClosed = true;
    try {
      if (code !== undefined && sendableCloseCode(code)) server.close(code, reason);
      else server.close();
    } catch {
      // Already closing.
    }
  };

  server.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as string | ArrayBuffer | ArrayBufferView;
    if (typeof data === 'string') send(WebSocketOpcode.TEXT, new TextEncoder().encode(data));
    else if (ArrayBuffer.isView(data)) send(WebSocketOpcode.BINARY, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else send(WebSocketOpcode.BINARY, new Uint8Array(data));
  });
  server.addEventListener('close', (event: CloseEvent) => {
    if (event.code === WebSocketCloseCode.ABNORMAL) {
      // No close frame from the browser (the connection dropped): nothing clean to pass on.
      browserClosed = true;
      abort.abort(new Error('the browser WebSocket closed abnormally'));
      return;
    }
    // RFC 6455 §5.5.1: answer the browser's close; pass its code and reason to the upstream.
    closeTowardAgent(event.code === WebSocketCloseCode.NO_STATUS ? undefined : event.code, event.reason);
    closeBrowser(event.code === WebSocketCloseCode.NO_STATUS ? undefined : event.code, event.reason);
  });
  server.addEventListener('error', () => {
    browserClosed = true;
    abort.abort(new Error('the browser WebSocket failed'));
  });

  void (async () => {
    const decoder = new WebSocketFrameDecoder({ role: 'client' });
    const reader = response.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of decoder.push(value)) {
          if (event.type === 'message') {
            if (!browserClosed) server.send(event.data);
          } else if (event.type === 'ping') {
            // RFC 6455 §5.5.2: a Pong in response, with the Ping's application data.
            send(WebSocketOpcode.PONG, event.payload);
          } else if (event.type === 'close') {
            closeTowardAgent(event.code, event.reason);
            closeBrowser(event.code, event.reason);
          }
        }
      }
      // The agent ended the stream: the upstream closed TCP. Without a close frame that is 1006 for the browser.
      closeBrowser(WebSocketCloseCode.GOING_AWAY, 'the origin closed the connection');
    } catch (error) {
      if (error instanceof WebSocketProtocolError) {
        // RFC 6455 §7.1.7: fail the WebSocket connection with the matching status code.
        closeTowardAgent(error.closeCode, error.message);
        closeBrowser(error.closeCode, error.message);
      } else {
        closeBrowser(WebSocketCloseCode.GOING_AWAY, 'the connection to the origin was lost');
        abort.abort(error);
      }
      reader.cancel().catch(() => {});
    }
  })();

  const answer = new Headers();
  for (const name of PASSED_TO_BROWSER) {
    const value = response.headers.get(name);
    if (value !== null) answer.set(name, value);
  }
  return new Response(null, { status: 101, webSocket: client, headers: answer });
}

export { WEBSOCKET_PROTOCOL };
