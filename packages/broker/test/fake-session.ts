/** A scriptable BrokerSession for tests: each request is handed to `handler`; counters are plain fields. */
import type { BrokerSession } from '../src/index.js';

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
  rttMs?: number;
  readonly requests: Request[] = [];
  handler: Handler = (req) => new Response(`hello from ${this.id} for ${new URL(req.url).host}`);
  closeReason?: string;

  constructor(readonly id: string, origins: string[], options: Partial<Pick<FakeSession, 'maxConcurrentStreams' | 'handler' | 'rttMs'>> = {}) {
    this.origins = origins;
    Object.assign(this, options);
  }

  async fetch(request: Request, init?: { signal?: AbortSignal }): Promise<Response> {
    this.requests.push(request);
    this.openStreams++;
    try {
      return await this.handler(request, init, this);
    } finally {
      this.openStreams--;
    }
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
