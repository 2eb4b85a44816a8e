/**
 * What the HTTP layer (ServerStream, ClientExchange, IncomingBody) needs of the engine under it:
 * a stream it can answer, read with credit, and reset. HTTP/2's `Connection` is one as it is
 * (proto/connection.ts); HTTP/3's request streams provide one too (h3/request-stream.ts), so
 * both engines hand the same exchange types to the agent, the intermediary and the broker.
 *
 * Error codes given to `resetStream` are HTTP/2's `ErrorCode` values (the API both engines share);
 * the HTTP/3 engine maps each to its HTTP/3 counterpart (h3/error-codes.ts `h3CodeFor`).
 */
import type { Http2Error } from '../errors.js';
import type { HeaderField } from '../frame/types.js';

/** One stream as the HTTP layer sees it. */
export interface PortStream {
  readonly id: number;
  /** `'closed'` once the stream is finished both ways or reset; other values are the engine's own. */
  readonly state: string;
  /** Octets received and not yet given back with `consume`. */
  readonly unconsumed: number;
  /** Outbound writes still queued (their count). */
  readonly pending: { readonly length: number };
}

/** The engine's side of a stream: the subset of HTTP/2's `Connection` the exchange types use. */
export interface StreamPort {
  /** The application took `octets` of the stream's received data: the sender may send that much more. */
  consume(stream: PortStream, octets: number): void;
  resetStream(stream: PortStream, errorCode: number, error?: Http2Error): void;
  sendHeaders(stream: PortStream, fields: HeaderField[], endStream: boolean): void;
  /** Resolves once the engine took the bytes (within flow control, see ServerStream.write); `trailers` follow the data and end the stream. */
  sendData(stream: PortStream, data: Uint8Array, end?: boolean, trailers?: HeaderField[]): Promise<void>;
  /**
   * True when `sendData` resolves at once only for bytes within the peer's flow-control windows and
   * a bounded per-stream queue (HTTP/2's send scheduler, STREAM_QUEUE_BYTES), so a writer may read
   * its next chunk before the last write settled. Absent (false) where a write may settle before the
   * transport took the bytes (HTTP/3 over Deno's QUIC streams, whose writers buffer on their own).
   */
  readonly writesBounded?: boolean;
  /** Octets the stream could send now beyond what it has queued, where the engine knows (HTTP/2's windows); absent where it does not (HTTP/3). */
  sendCredit?(stream: PortStream): number;
}
