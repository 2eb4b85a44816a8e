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
 * every entry is within the URL's origins (which the certificate was already checked to cover):
 * the broker's `AgentAdmission` decides (shared with the Node intermediary), this file binds it
 * to the WebSocket and the log.
 */
import { ErrorCode, Http2Session, errorCodeName, type CertificateIdentity, type Http2Error, type Origin } from '@rhttp/core';
import { AgentAdmission, Http2BrokerSession, KEEPALIVE_TIMEOUT_MS } from '@rhttp/broker';

export { ORIGIN_FRAME_TIMEOUT_MS } from '@rhttp/broker';

/** Largest WebSocket message we send: "well under 1 MiB" (Cloudflare's limit is 1 MiB), and small enough to interleave streams. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
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
  private readonly socket: WebSocket;
  private readonly identity: CertificateIdentity;
  private readonly events: AgentConnectionEvents;
  private readonly admission: AgentAdmission;
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
    this.identity = identity;
    this.events = events;
    // ORIGIN ⊆ URL origins ⊆ certificate (DESIGN.md, Carrier 2), on every ORIGIN frame.
    this.admission = new AgentAdmission(
      {
        authorize: (origins) => {
          this.events.log(`${this.name()} serves ${origins.join(', ')}`);
          this.admitted(() => this.events.log(`${this.name()} did not answer PING within ${KEEPALIVE_TIMEOUT_MS / 1000} s; closing it`));
          this.events.onAuthorized(this);
        },
        originsChanged: () => this.events.onOriginsChanged(this),
        refuse: ({ errorCode, reason }) => {
          this.events.log(`refused ${this.name()}: ${reason}`);
          this.http2.goaway(errorCode, reason);
          this.events.onOriginsChanged(this);
        },
      },
      // The URL check answers first; the certificate check behind it is a second line.
      { identity, allowedOrigins: urlOrigins, quoteSans: false },
    );
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
        onOrigin: (all, added) => this.admission.receiveOrigins(all, added),
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
  }

  /** For the status output: the admission's `verifying` is, here, waiting for the ORIGIN frame (the identity came with the upgrade). */
  get state(): 'waiting-for-origin' | 'authorized' | 'refused' | 'closed' {
    const state = this.admission.state;
    return state === 'verifying' ? 'waiting-for-origin' : state;
  }

  name(): string {
    return `agent ${this.id} (${this.identity.subject})`;
  }

  // ------------------------------------------------------------------ BrokerSession

  get origins(): readonly string[] {
    return this.admission.origins;
  }
  close(reason = 'the edge is closing this session'): void {
    this.http2.goaway(ErrorCode.NO_ERROR, reason);
  }

  /** Ends the session with GOAWAY carrying `reason` (the agent prints it); never registered after this. */
  refuse(errorCode: number, reason: string): void {
    this.admission.refuse(errorCode, reason);
  }

  private onClose(error: Http2Error | undefined): void {
    const was = this.state;
    this.admission.closed();
    if (was !== 'refused') this.events.log(`${this.name()} closed${error ? `: ${error.message}` : ''}`);
    this.events.onClosed(this);
  }
}
