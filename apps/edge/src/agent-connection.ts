/**
 * One agent WebSocket inside the broker object: the reversed HTTP/2 session in which the edge is
 * the CLIENT, run over binary WebSocket messages, adapted to the broker's `BrokerSession`.
 *
 * workerd's WebSocket has no send backpressure, so the sink never says "full": HTTP/2 flow
 * control is the backpressure. The agent may send only as much DATA as we granted, and the engine
 * grants WINDOW_UPDATE only as the browser-side reader consumes bytes; in the other direction
 * the agent's windows bound what we queue.
 *
 * The session is registered with the broker only after the agent's ORIGIN frame arrived and
 * every entry is within the URL's origins (which the certificate was already checked to cover).
 */
import {
  ErrorCode,
  Http2Session,
  errorCodeName,
  originCovers,
  parseOrigin,
  serializeOrigin,
  unauthorizedOrigins,
  type CertificateIdentity,
  type Http2Error,
  type Origin,
} from '@rhttp/core';
import { Http2BrokerSession, KEEPALIVE_TIMEOUT_MS } from '@rhttp/broker';

/** Largest WebSocket message we send: "well under 1 MiB" (Cloudflare's limit is 1 MiB), and small enough to interleave streams. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** An agent sends ORIGIN right after its SETTINGS; one that has not within this time holds a WebSocket for nothing. */
export const ORIGIN_FRAME_TIMEOUT_MS = 10_000;
/** WebSocket close code for a protocol violation (RFC 6455 §7.4.1). */
const CLOSE_PROTOCOL_ERROR = 1002;

/** What the broker object hears about one agent connection. */
export interface AgentConnectionEvents {
  onAuthorized(connection: AgentConnection): void;
  onOriginsChanged(connection: AgentConnection): void;
  onClosed(connection: AgentConnection): void;
  log(message: string): void;
}

let nextConnectionNumber = 1;

/** A reversed HTTP/2 session over an accepted agent WebSocket, seen by the broker as a `BrokerSession`. */
export class AgentConnection extends Http2BrokerSession {
  readonly id = `ws-${nextConnectionNumber++}`;
  readonly http2: Http2Session;
  state: 'waiting-for-origin' | 'authorized' | 'refused' | 'closed' = 'waiting-for-origin';
  private authorized: string[] = [];
  private readonly socket: WebSocket;
  private readonly urlOrigins: Origin[];
  private readonly identity: CertificateIdentity;
  private readonly events: AgentConnectionEvents;
  private readonly originTimer: ReturnType<typeof setTimeout>;
  /**
   * Bytes the engine wrote before the agent's first message. workerd delivers messages sent
   * before the 101 response reached the client AFTER messages sent later, so our preface could
   * arrive behind our SETTINGS ACK. The agent (HTTP/2 server) speaks first, with its SETTINGS,
   * so we hold our bytes until its first message is in, then flush them in order.
   */
  private heldBack: Uint8Array[] | null = [];

  constructor(socket: WebSocket, urlOrigins: Origin[], identity: CertificateIdentity, events: AgentConnectionEvents) {
    super();
    this.socket = socket;
    this.urlOrigins = urlOrigins;
    this.identity = identity;
    this.events = events;
    this.http2 = new Http2Session(
      {
        write: (chunk) => {
          // Copy: the engine may reuse its buffers, and send() queues without backpressure.
          for (let offset = 0; offset < chunk.byteLength; offset += MAX_MESSAGE_BYTES) {
            const piece = chunk.slice(offset, Math.min(chunk.byteLength, offset + MAX_MESSAGE_BYTES));
            if (this.heldBack) this.heldBack.push(piece);
            else socket.send(piece);
          }
          return true;
        },
        close: () => {
          try {
            socket.close(1000, 'session closed');
          } catch {
            // already closed
          }
        },
      },
      {
        role: 'client',
        onOrigin: () => this.check(),
        onGoaway: (frame) => {
          const debug = new TextDecoder().decode(frame.debugData);
          this.events.log(`${this.name()} sent GOAWAY (${errorCodeName(frame.errorCode)})${debug ? `: ${debug}` : ''}`);
          this.events.onOriginsChanged(this);
        },
        onClose: (error) => this.onClose(error),
        // Streams closing, SETTINGS, GOAWAY and the close reach the broker's queued requests.
        onSlotFree: () => this.onSlotFree?.(),
      },
    );
    // Newer compatibility dates default binaryType to "blob" (WHATWG); the engine wants bytes now.
    (socket as { binaryType?: string }).binaryType = 'arraybuffer';
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string') {
        // DESIGN.md, Carrier 2: text messages are a protocol error.
        this.refuse(ErrorCode.PROTOCOL_ERROR, 'text WebSocket message: the h2-reverse carrier carries binary messages only');
        socket.close(CLOSE_PROTOCOL_ERROR, 'text messages are not allowed');
        return;
      }
      if (this.heldBack) {
        const held = this.heldBack;
        this.heldBack = null;
        for (const piece of held) socket.send(piece);
      }
      this.http2.receive(new Uint8Array(event.data as ArrayBuffer));
    });
    socket.addEventListener('close', () => this.http2.receiveEnd());
    socket.addEventListener('error', () => this.http2.receiveEnd(new Error('the agent WebSocket failed')));
    this.originTimer = setTimeout(() => {
      this.refuse(ErrorCode.PROTOCOL_ERROR, `no ORIGIN frame within ${ORIGIN_FRAME_TIMEOUT_MS / 1000} s: an agent must list the origins it serves`);
    }, ORIGIN_FRAME_TIMEOUT_MS);
  }

  name(): string {
    return `agent ${this.id} (${this.identity.subject})`;
  }

  // ------------------------------------------------------------------ BrokerSession

  get origins(): readonly string[] {
    return this.state === 'authorized' ? this.authorized : [];
  }
  close(reason = 'the edge is closing this session'): void {
    this.http2.goaway(ErrorCode.NO_ERROR, reason);
  }

  // ------------------------------------------------------------------ checks

  /** ORIGIN ⊆ URL origins ⊆ certificate (DESIGN.md, Carrier 2), on every ORIGIN frame. */
  private check(): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    const claimed = this.http2.peerOrigins;
    if (claimed.length === 0) return; // an empty ORIGIN frame claims nothing yet
    clearTimeout(this.originTimer);
    const parsed: Origin[] = [];
    for (const text of claimed) {
      let origin: Origin;
      try {
        origin = parseOrigin(text);
      } catch (error) {
        this.refuse(ErrorCode.PROTOCOL_ERROR, `ORIGIN frame entry is not an origin: ${(error as Error).message}`);
        return;
      }
      if (!this.urlOrigins.some((allowed) => withinUrlOrigin(allowed, origin))) {
        this.refuse(ErrorCode.INADEQUATE_SECURITY, `ORIGIN frame entry ${serializeOrigin(origin)} is not among the origins in the upgrade URL (${this.urlOrigins.map(serializeOrigin).join(', ')})`);
        return;
      }
      parsed.push(origin);
    }
    const uncovered = unauthorizedOrigins(this.identity, parsed);
    if (uncovered.length > 0) {
      this.refuse(ErrorCode.INADEQUATE_SECURITY, `origin ${serializeOrigin(uncovered[0])} is not covered by the certificate`);
      return;
    }
    this.authorized = [...new Set(parsed.map(serializeOrigin))];
    if (this.state === 'waiting-for-origin') {
      this.state = 'authorized';
      this.events.log(`${this.name()} serves ${this.authorized.join(', ')}`);
      this.admitted(() => this.events.log(`${this.name()} did not answer PING within ${KEEPALIVE_TIMEOUT_MS / 1000} s; closing it`));
      this.events.onAuthorized(this);
    } else {
      this.events.onOriginsChanged(this);
    }
  }

  /** Ends the session with GOAWAY carrying `reason` (the agent prints it); never registered after this. */
  refuse(errorCode: number, reason: string): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    this.state = 'refused';
    clearTimeout(this.originTimer);
    this.events.log(`refused ${this.name()}: ${reason}`);
    this.http2.goaway(errorCode, reason);
    this.events.onOriginsChanged(this);
  }

  private onClose(error: Http2Error | undefined): void {
    clearTimeout(this.originTimer);
    const was = this.state;
    this.state = 'closed';
    if (was !== 'refused') this.events.log(`${this.name()} closed${error ? `: ${error.message}` : ''}`);
    this.events.onClosed(this);
  }
}

/** An ORIGIN entry is within a URL origin if equal, or (non-wildcard) covered by a wildcard URL origin. */
function withinUrlOrigin(allowed: Origin, entry: Origin): boolean {
  if (serializeOrigin(allowed) === serializeOrigin(entry)) return true;
  return !entry.wildcard && originCovers(allowed, entry);
}
