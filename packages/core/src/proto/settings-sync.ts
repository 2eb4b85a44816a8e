import { ConnectionError, ErrorCode } from '../errors.js';
import { SettingId } from '../frame/types.js';
import type { Role } from './role.js';
import { INITIAL_SETTINGS, type Settings } from './settings.js';

/**
 * Both sides' SETTINGS over one connection (RFC 9113 §6.5.3): ours awaiting the peer's ACK under
 * the SETTINGS_TIMEOUT timer, and the peer's values in force. The connection applies what depends
 * on them (stream windows, the HPACK tables) and sends the frames.
 */
export class SettingsSync {
  /** The peer's settings in force (the protocol's initial values until its SETTINGS arrive). */
  remote: Settings = { ...INITIAL_SETTINGS };
  /** True once the peer's first SETTINGS arrived (§3.4: it must be its first frame). */
  received = false;
  /** Our SETTINGS sent and not yet acknowledged (a fresh empty array once all are: no backing store held). */
  private pendingLocal: Settings[] = [];
  private timer: (() => void) | undefined;

  constructor(
    private readonly role: Role,
    private readonly setTimer: (fn: () => void, ms: number) => () => void,
    private readonly timeoutMs: number,
    private readonly onTimeout: (error: ConnectionError) => void,
  ) {}

  /** Our SETTINGS went out: the peer has `timeoutMs` to acknowledge them. */
  sent(settings: Settings): void {
    this.pendingLocal.push(settings);
    this.timer ??= this.setTimer(() => this.onTimeout(new ConnectionError(ErrorCode.SETTINGS_TIMEOUT, 'the peer did not acknowledge our SETTINGS in time (RFC 9113 §6.5.3)')), this.timeoutMs);
  }

  /** How many of our SETTINGS frames await their ACK. */
  get unacknowledged(): number {
    return this.pendingLocal.length;
  }

  /** A SETTINGS ACK arrived: the oldest of ours now holds, or undefined for an unsolicited ACK. */
  acked(): Settings | undefined {
    const acked = this.pendingLocal.shift();
    if (!acked) return undefined; // An unsolicited ACK carries nothing to apply.
    if (this.pendingLocal.length === 0) {
      this.pendingLocal = [];
      this.cancel();
    }
    return acked;
  }

  /** The peer's SETTINGS: the values they set, checked; the caller applies them and commits to `remote`. */
  receive(wire: ReadonlyArray<readonly [number, number]>): Settings {
    this.received = true;
    return applyPeerSettings(this.remote, wire, this.role);
  }

  /** Stop the SETTINGS_TIMEOUT timer (acknowledged, or the connection closed). */
  cancel(): void {
    this.timer?.();
    this.timer = undefined;
  }
}

/** The peer's settings after a SETTINGS frame with `wire` (id, value) pairs, or the connection error it is. */
export function applyPeerSettings(current: Readonly<Settings>, wire: ReadonlyArray<readonly [number, number]>, role: Role): Settings {
  const next = { ...current };
  for (const [id, value] of wire) {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        next.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        // §6.5.2: a client MUST treat a SETTINGS_ENABLE_PUSH of 1 from a server as a connection error.
        if (role === 'client' && value !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'a server may not enable push (RFC 9113 §6.5.2)');
        next.enablePush = value === 1;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        next.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        next.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        next.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        next.maxHeaderListSize = value;
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        // RFC 8441 §3: once 1 has been sent, a sender MUST NOT send 0.
        if (current.enableConnectProtocol && value === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL went from 1 to 0 (RFC 8441 §3)');
        if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL must be 0 or 1 (RFC 8441 §3)');
        next.enableConnectProtocol = value === 1;
        break;
      default:
        // §6.5.2: an endpoint that receives a SETTINGS frame with any unknown or unsupported identifier MUST ignore that setting.
        break;
    }
  }
  return next;
}
