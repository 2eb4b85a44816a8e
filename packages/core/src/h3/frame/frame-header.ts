/**
 * The two varints in front of every HTTP/3 frame (RFC 9114 §7.1): `Type (i) | Length (i)`, and
 * the helpers every frame file writes and reads its payload with.
 */
import { ConnectionError } from '../../errors.js';
import { H3ErrorCode } from '../error-codes.js';
import { readVarint, varintLength, writeVarint } from '../varint.js';
import { h3FrameTypeName } from './types.js';

/** A whole frame: type and length varints, then `payloadLength` octets for the caller to fill from the returned offset. */
export function allocH3Frame(type: number, payloadLength: number): { out: Uint8Array; at: number } {
  const out = new Uint8Array(varintLength(type) + varintLength(payloadLength) + payloadLength);
  const at = writeVarint(out, writeVarint(out, 0, type), payloadLength);
  return { out, at };
}

/**
 * Reads the payload's varints one after another. RFC 9114 §7.1: a frame whose payload ends
 * inside a field, or has octets left after its last field, MUST be treated as H3_FRAME_ERROR.
 */
export class PayloadCursor {
  private at = 0;
  constructor(
    private readonly payload: Uint8Array,
    private readonly type: number,
  ) {}

  varint(): number {
    const read = readVarint(this.payload, this.at);
    if (read === undefined) throw new ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `${h3FrameTypeName(this.type)} frame ends inside a field`);
    this.at = read.next;
    return read.value;
  }

  /** What is left of the payload (a view). */
  rest(): Uint8Array {
    const rest = this.payload.subarray(this.at);
    this.at = this.payload.length;
    return rest;
  }

  get done(): boolean {
    return this.at >= this.payload.length;
  }

  end(): void {
    if (!this.done) throw new ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `${h3FrameTypeName(this.type)} frame has ${this.payload.length - this.at} octets after its last field`);
  }
}

/** A frame whose payload is one varint id (CANCEL_PUSH, GOAWAY, MAX_PUSH_ID). */
export function encodeIdFrame(type: number, id: number): Uint8Array {
  const { out, at } = allocH3Frame(type, varintLength(id));
  writeVarint(out, at, id);
  return out;
}

/** The one varint id of such a payload; anything else is H3_FRAME_ERROR (§7.1). */
export function decodeIdPayload(type: number, payload: Uint8Array): number {
  const cursor = new PayloadCursor(payload, type);
  const id = cursor.varint();
  cursor.end();
  return id;
}
