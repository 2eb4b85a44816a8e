/**
 * PINGs we sent and await the ACK of (RFC 9113 §6.7), and the round-trip time the last ACK gave.
 * The connection encodes and sends the frame; this keeps the promises and the clock readings.
 */
export class OutstandingPings {
  /** Awaiting their ACK, by opaque data (created on the first PING: most connections never send one). */
  private pings: Map<string, { sent: number; resolve: (ms: number) => void; reject: (e: Error) => void }> | undefined;
  private counter = 0;
  /** Round-trip time of the last PING answered, in ms. */
  rttMs: number | undefined;

  constructor(private readonly now: () => number) {}

  /** How many PINGs await their ACK. */
  get size(): number {
    return this.pings?.size ?? 0;
  }

  /** Record a PING about to be sent and return its opaque data: `given`, or a counter. */
  start(resolve: (ms: number) => void, reject: (e: Error) => void, given?: Uint8Array): Uint8Array {
    const opaque = given ?? new Uint8Array(8);
    if (!given) new DataView(opaque.buffer).setUint32(4, ++this.counter);
    (this.pings ??= new Map()).set(opaqueKey(opaque), { sent: this.now(), resolve, reject });
    return opaque;
  }

  /**
   * A PING ACK arrived: §6.7 says it carries the payload of the PING it answers. Resolves that
   * PING with the round-trip time; an ACK nobody waits for is ignored. True when one matched.
   */
  acked(opaque: Uint8Array): boolean {
    const key = opaqueKey(opaque);
    const waiter = this.pings?.get(key);
    if (!waiter) return false;
    this.pings!.delete(key);
    // Created again by the next PING: an idle connection between keepalives holds no Map.
    if (this.pings!.size === 0) this.pings = undefined;
    this.rttMs = this.now() - waiter.sent;
    waiter.resolve(this.rttMs);
    return true;
  }

  /** The connection closed: every PING still waiting fails with `error`. */
  rejectAll(error: Error): void {
    if (this.pings) for (const p of this.pings.values()) p.reject(error);
    this.pings = undefined;
  }
}

function opaqueKey(opaque: Uint8Array): string {
  let s = '';
  for (let i = 0; i < opaque.length; i++) s += opaque[i].toString(16).padStart(2, '0');
  return s;
}

/** What {@link keepAlive} needs of a connection. */
export interface KeepAliveHost {
  ping(opaque?: Uint8Array): Promise<number>;
  readonly isClosed: boolean;
  setTimer(fn: () => void, ms: number): () => void;
}

/** Options of a PING keepalive (`Http2Session.keepAlive`). */
export interface KeepAliveOptions {
  /** Time between one PING's answer and the next PING. */
  intervalMs: number;
  /** A PING unanswered this long means the peer or the path is gone: `onTimeout` runs and the keepalive stops. */
  timeoutMs: number;
  onTimeout(): void;
  /** Send the first PING now, with this opaque data (the admission PING, reverse/admission.ts); otherwise it waits one interval. */
  firstOpaque?: Uint8Array;
}

/**
 * PINGs the peer every `intervalMs` until the connection closes or the returned function is
 * called; one unanswered for `timeoutMs` calls `onTimeout` once. Notices peers that vanished
 * without closing the transport (NAT timeouts, sleeping laptops) and keeps `rttMs` fresh.
 */
export function keepAlive(host: KeepAliveHost, options: KeepAliveOptions): () => void {
  let stopped = false;
  let cancelNext: (() => void) | undefined;
  const tick = (opaque?: Uint8Array) => {
    cancelNext = undefined;
    if (stopped || host.isClosed) return;
    const cancelDeadline = host.setTimer(() => {
      if (stopped || host.isClosed) return;
      stopped = true;
      options.onTimeout();
    }, options.timeoutMs);
    host.ping(opaque).then(
      () => {
        cancelDeadline();
        if (!stopped) cancelNext = host.setTimer(() => tick(), options.intervalMs);
      },
      () => cancelDeadline(),
    );
  };
  if (options.firstOpaque) tick(options.firstOpaque);
  else cancelNext = host.setTimer(() => tick(), options.intervalMs);
  return () => {
    stopped = true;
    cancelNext?.();
  };
}
