/**
 * The unidirectional streams the peer opens (RFC 9114 §6.2): its control stream (SETTINGS first,
 * then GOAWAY, ORIGIN, extension frames), QPACK's encoder and decoder streams (RFC 9204 §4.2),
 * push streams (refused: this engine never allows push) and unknown types (stopped). The rules
 * on which stream may carry what live here; what the frames mean for the connection (GOAWAY,
 * the origin set, QPACK instructions) is the host's (connection.ts).
 */
import { concatBytes } from '../bytes.js';
import { SETTINGS_RHTTP_IN_BAND_RESET } from './in-band-reset.js';
import { ConnectionError } from '../errors.js';
import { H3ErrorCode } from './error-codes.js';
import { H3FrameReader } from './frame-reader.js';
import { type H3Frame, H3SettingId, H3StreamType } from './frame/types.js';
import type { H3Limits } from './limits.js';
import type { H3StreamIo } from './request-stream.js';
import { acceptsMaxPushId, type H3Role, pushStreamError } from './role.js';
import { readVarint } from './varint.js';

/** The peer's SETTINGS as this engine uses them (RFC 9114 §7.2.4.2: defaults until they arrive). */
export interface H3PeerSettings {
  qpackMaxTableCapacity: number;
  qpackBlockedStreams: number;
  maxFieldSectionSize: number;
  enableConnectProtocol: boolean;
  /** SETTINGS_RHTTP_IN_BAND_RESET = 1: resets travel as frames (in-band-reset.ts). */
  inBandReset: boolean;
}

/** What the peer's streams tell the connection. */
export interface PeerStreamsHost {
  settings(peer: H3PeerSettings): void;
  goaway(id: number): void;
  origin(origins: readonly string[]): void;
  /** A control-stream frame of a type the engine does not know (RFC 9114 §9 extensions). */
  extensionFrame(type: number, payload: Uint8Array): void;
  /** Bytes of the peer's QPACK encoder stream, for our decoder. */
  encoderInstructions(bytes: Uint8Array): void;
  /** Bytes of the peer's QPACK decoder stream, for our encoder. */
  decoderInstructions(bytes: Uint8Array): void;
}

/** The kind of a peer's unidirectional stream once its type was read (RFC 9114 §6.2). */
type UniKind = 'pending' | 'control' | 'encoder' | 'decoder' | 'ignored';

const EMPTY = new Uint8Array(0);

/** A unidirectional stream the peer opened. */
export class H3IncomingUni {
  kind: UniKind = 'pending';
  /** Octets of the stream type not yet complete. */
  partial: Uint8Array = EMPTY;
  reader: H3FrameReader | undefined;
  settingsSeen = false;
  constructor(readonly io: Pick<H3StreamIo, 'stopSending'>) {}
}

export class PeerStreams {
  private control: H3IncomingUni | undefined;
  private encoder: H3IncomingUni | undefined;
  private decoder: H3IncomingUni | undefined;

  constructor(
    private readonly role: H3Role,
    private readonly limits: Readonly<H3Limits>,
    private readonly host: PeerStreamsHost,
  ) {}

  accept(io: Pick<H3StreamIo, 'stopSending'>): H3IncomingUni {
    return new H3IncomingUni(io);
  }

  /** Bytes of one of the peer's unidirectional streams. Throws ConnectionError. */
  receive(uni: H3IncomingUni, chunk: Uint8Array): void {
    if (uni.kind === 'pending') {
      const bytes = uni.partial.length > 0 ? concatBytes([uni.partial, chunk]) : chunk;
      const type = readVarint(bytes, 0);
      if (type === undefined) {
        uni.partial = bytes.slice();
        return;
      }
      uni.partial = EMPTY;
      this.opened(uni, type.value);
      chunk = bytes.subarray(type.next);
    }
    switch (uni.kind) {
      case 'control':
        for (const frame of uni.reader!.push(chunk)) this.onControlFrame(uni, frame);
        return;
      case 'encoder':
        if (chunk.length > 0) this.host.encoderInstructions(chunk);
        return;
      case 'decoder':
        if (chunk.length > 0) this.host.decoderInstructions(chunk);
        return;
      default:
        return; // 'ignored': §6.2, discarded
    }
  }

  /** One of the peer's unidirectional streams ended (FIN or reset). Throws ConnectionError. */
  end(uni: H3IncomingUni): void {
    // RFC 9114 §6.2.1: if either control stream is closed at any point, this MUST be treated as a connection error of type
    // H3_CLOSED_CRITICAL_STREAM. RFC 9204 §4.2: the same for QPACK's encoder and decoder streams.
    if (uni.kind === 'control' || uni.kind === 'encoder' || uni.kind === 'decoder') {
      throw new ConnectionError(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer closed its ${uni.kind} stream`);
    }
  }

  private opened(uni: H3IncomingUni, type: number): void {
    switch (type) {
      case H3StreamType.CONTROL:
        // RFC 9114 §6.2.1: only one control stream per peer; a second MUST be treated as H3_STREAM_CREATION_ERROR.
        if (this.control) throw new ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'a second control stream (RFC 9114 §6.2.1)');
        this.control = uni;
        uni.kind = 'control';
        uni.reader = new H3FrameReader({ maxFrameBytes: () => this.limits.maxControlFrameBytes });
        return;
      case H3StreamType.QPACK_ENCODER:
      case H3StreamType.QPACK_DECODER: {
        const encoder = type === H3StreamType.QPACK_ENCODER;
        // RFC 9204 §4.2: a second encoder or decoder stream MUST be treated as H3_STREAM_CREATION_ERROR.
        if (encoder ? this.encoder : this.decoder) throw new ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, `a second QPACK ${encoder ? 'encoder' : 'decoder'} stream (RFC 9204 §4.2)`);
        if (encoder) this.encoder = uni;
        else this.decoder = uni;
        uni.kind = encoder ? 'encoder' : 'decoder';
        return;
      }
      case H3StreamType.PUSH:
        throw new ConnectionError(pushStreamError(this.role), this.role === 'server' ? 'a client opened a push stream (RFC 9114 §6.2.2)' : 'a push stream, but no push id was allowed (RFC 9114 §4.6)');
      default:
        // §6.2: unknown stream types: abort reading, SHOULD with H3_STREAM_CREATION_ERROR.
        uni.kind = 'ignored';
        uni.io.stopSending(H3ErrorCode.H3_STREAM_CREATION_ERROR);
    }
  }

  private onControlFrame(uni: H3IncomingUni, frame: H3Frame): void {
    if (!uni.settingsSeen) {
      // RFC 9114 §6.2.1: SETTINGS MUST be the first frame of each control stream; otherwise H3_MISSING_SETTINGS.
      if (frame.kind !== 'settings') throw new ConnectionError(H3ErrorCode.H3_MISSING_SETTINGS, `the control stream began with ${frame.kind === 'unknown' ? `frame type 0x${frame.type.toString(16)}` : frame.kind} (RFC 9114 §6.2.1)`);
      uni.settingsSeen = true;
      this.host.settings(peerSettings(frame.settings));
      return;
    }
    switch (frame.kind) {
      case 'settings':
        // §7.2.4: a second SETTINGS frame MUST be treated as H3_FRAME_UNEXPECTED.
        throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, 'a second SETTINGS frame (RFC 9114 §7.2.4)');
      case 'data':
      case 'headers':
      case 'push-promise':
        // §7.2.1, §7.2.2, §7.2.5: these on the control stream MUST be treated as H3_FRAME_UNEXPECTED.
        throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `${frame.kind} frame on the control stream`);
      case 'goaway':
        this.host.goaway(frame.id);
        return;
      case 'max-push-id':
        if (!acceptsMaxPushId(this.role)) throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID sent by a server (RFC 9114 §7.2.7)');
        return; // we never push
      case 'cancel-push':
        // §7.2.3: no push id was promised or allowed, so any is H3_ID_ERROR.
        throw new ConnectionError(H3ErrorCode.H3_ID_ERROR, `CANCEL_PUSH for push ${frame.pushId}, which was never allowed (RFC 9114 §7.2.3)`);
      case 'origin':
        this.host.origin(frame.origins);
        return;
      case 'unknown':
        // §9: unknown (and reserved) frame types are ignored by the engine; an extension may read them.
        this.host.extensionFrame(frame.type, frame.payload);
        return;
      default:
        return;
    }
  }
}

/** The values of a received SETTINGS frame this engine uses; throws H3_SETTINGS_ERROR for a bad value. */
export function peerSettings(settings: Array<[number, number]>): H3PeerSettings {
  const peer: H3PeerSettings = { qpackMaxTableCapacity: 0, qpackBlockedStreams: 0, maxFieldSectionSize: Infinity, enableConnectProtocol: false, inBandReset: false };
  for (const [id, value] of settings) {
    switch (id) {
      case H3SettingId.QPACK_MAX_TABLE_CAPACITY:
        peer.qpackMaxTableCapacity = value;
        break;
      case H3SettingId.QPACK_BLOCKED_STREAMS:
        peer.qpackBlockedStreams = value;
        break;
      case H3SettingId.MAX_FIELD_SECTION_SIZE:
        peer.maxFieldSectionSize = value;
        break;
      case H3SettingId.ENABLE_CONNECT_PROTOCOL:
        // RFC 9220 §3 (RFC 8441 §3): the value MUST be 0 or 1.
        if (value > 1) throw new ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL = ${value}`);
        peer.enableConnectProtocol = value === 1;
        break;
      case SETTINGS_RHTTP_IN_BAND_RESET:
        peer.inBandReset = value === 1;
        break;
      default:
        break; // §7.2.4: unknown settings MUST be ignored
    }
  }
  return peer;
}
