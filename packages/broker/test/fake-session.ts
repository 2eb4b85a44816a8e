/**
 * A scriptable BrokerSession for tests: each request is handed to `handler` as a Request;
 * counters are plain fields. Like a real session it calls `onSlotFree` when a stream closes.
 */
import { fieldsToHeaders, fromResponse, type ResponseMessage } from '@rhttp/core';
import type { BrokerSession, Exchange, OutgoingRequest } from '../src/index.js';

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
  isClosed = false;
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

  /** Like a real session's exchange: `cancel` aborts the handler's signal and rejects a pending response. */
  open(outgoing: OutgoingRequest): Exchange {
    const { method, url, fields, body } = outgoing;
    const request = new Request(url, { method, headers: fieldsToHeaders(fields), body, duplex: 'half', redirect: 'manual' } as RequestInit);
    this.requests.push(request);
    this.openStreams++;
    const controller = new AbortController();
    let cancelled: ((reason: unknown) => void) | undefined;
    const cancelledPromise = new Promise<never>((_, reject) => (cancelled = reject));
    cancelledPromise.catch(() => {});
    const response = (async (): Promise<ResponseMessage> => {
      try {
        return fromResponse(await Promise.race([this.handler(request, { signal: controller.signal }, this), cancelledPromise]));
      } finally {
        this.endStream();
      }
    })();
    return {
      response,
      cancel(reason?: unknown) {
        const why = reason ?? new DOMException('cancelled', 'AbortError');
        controller.abort(why);
        cancelled?.(why);
      },
    };
  }

  /** A stream of this session closed: its slot is free again, and the broker hears so. */
  endStream(): void {
    this.openStreams--;
    this.onSlotFree?.();
  }

  close(reason?: string): void {
    this.isClosed = true;
    this.closeReason = reason;
  }
}

/** An Exchange whose response is `response` (a web Response read as a message), for sessions scripted by hand. */
export function exchangeOf(response: Response | Promise<Response>): Exchange {
  const message = Promise.resolve(response).then(fromResponse);
  message.catch(() => {});
  return { response: message, cancel() {} };
}

/** Reads a whole body as text. */
export async function text(response: Response): Promise<string> {
  return await response.text();
}

export const INFO = { clientAddress: '203.0.113.7', scheme: 'https' as const };

export function get(url: string, init?: RequestInit): Request {
  return new Request(url, init);
}
