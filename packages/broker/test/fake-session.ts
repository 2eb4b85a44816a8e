/**
 * A scriptable BrokerSession for tests: each request is handed to `handler` as a Request;
 * counters are plain fields. Like a real session it calls `onSlotFree` when a stream closes.
 */
import type { BrokerSession, OutgoingRequest } from '../src/index.js';

export type Handler = (request: Request, init: { signal?: AbortSignal } | undefined, session: FakeSession) => Response | Promise<Response>;

/** An error shaped like @rhttp/core's StreamResetError / SessionClosedError. */
export class FakeStreamError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly errorCode = 0x7, readonly code = 'ERR_HTTP2_STREAM_RESET') {
    super(message);
  }
}

export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class FakeSession implements BrokerSession {
  origins: string[];
  openStreams = 0;
  maxConcurrentStreams = Infinity;
  draining = false;
  closed = false;
  /** Plain FakeSessions take no tunnels (tunnel.test.ts has one that does). */
  tunnels = false;
  rttMs?: number;
  onSlotFree?: () => void;
  readonly requests: Request[] = [];
  handler: Handler = (req) => new Response(`hello from ${this.id} for ${new URL(req.url).host}`);
  closeReason?: string;

  constructor(readonly id: string, origins: string[], options: Partial<Pick<FakeSession, 'maxConcurrentStreams' | 'handler' | 'rttMs'>> = {}) {
    this.origins = origins;
    Object.assign(this, options);
  }

  async open(outgoing: OutgoingRequest): Promise<Response> {
    const { method, url, headers, body, signal } = outgoing;
    const request = new Request(url, { method, headers, body, duplex: 'half', redirect: 'manual' } as RequestInit);
    this.requests.push(request);
    this.openStreams++;
    try {
      return await this.handler(request, { signal }, this);
    } finally {
      this.endStream();
    }
  }

  /** A stream of this session closed: its slot is free again, and the broker hears so. */
  endStream(): void {
    this.openStreams--;
    this.onSlotFree?.();
  }

  close(reason?: string): void {
    this.closed = true;
    this.closeReason = reason;
  }
}

/** Reads a whole body as text. */
export async function text(response: Response): Promise<string> {
  return await response.text();
}

export const INFO = { clientAddress: '203.0.113.7', scheme: 'https' as const };

export function get(url: string, init?: RequestInit): Request {
  return new Request(url, init);
}
