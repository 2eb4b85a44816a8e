import type { Http2Error } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import { FlowWindow, ReceiveWindow } from './flow-control.js';
import type { StreamState } from './stream-state.js';

/** What the layer above hears about one stream. */
export interface StreamListener {
  /** A complete header block: informational, final, or trailers (`endStream` tells). */
  onHeaders(fields: HeaderField[], endStream: boolean): void;
  /** DATA payload (padding removed). Call `connection.consume(stream, data.length)` once delivered. */
  onData(data: Uint8Array, endStream: boolean): void;
  /** The stream ended abnormally: reset by the peer or by us, or its connection closed. */
  onReset(error: Http2Error): void;
}

/** One queued `sendData`: its bytes, how far they went out, and what follows them. */
export interface PendingWrite {
  data: Uint8Array;
  offset: number;
  end: boolean;
  trailers?: HeaderField[];
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One HTTP/2 stream, as the connection keeps it. Only the connection changes `state`, through `transition`. */
export class Stream {
  state: StreamState = 'idle';
  listener: StreamListener | undefined;
  readonly sendWindow: FlowWindow;
  readonly recvWindow: ReceiveWindow;
  /** Outbound DATA waiting for flow-control credit or the transport. */
  readonly pending: PendingWrite[] = [];
  /** Octets of `pending` not yet framed. */
  queued = 0;
  /** When the stream's DATA started waiting on a zero window (for the stall timeout). */
  stalledSince = 0;
  /** Where the stream's last open header block sits in the scheduler's output, and in which output (send-scheduler.ts, `emitHeaders`). */
  headersAt = -1;
  headersOutput = -1;
  /** Octets received but not yet consumed by the application. */
  unconsumed = 0;
  /** When the application last consumed this stream's DATA, as the connection's consume counter (for the buffer budget). */
  lastConsumed = 0;
  /** Whatever the layer above wants to keep with the stream. */
  context: unknown;

  constructor(
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = new FlowWindow(sendWindow);
    this.recvWindow = new ReceiveWindow(recvWindow);
  }
}
