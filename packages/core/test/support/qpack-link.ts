/**
 * A QPACK encoder and decoder joined the way an HTTP/3 connection joins them, with the delivery
 * of the encoder stream, the field sections and the decoder stream under the test's control.
 */
import type { HeaderField } from '../../src/frame/types.js';
import { QpackDecoder, QpackEncoder } from '../../src/qpack/index.js';

export interface LinkOptions {
  /** Our encoder's own cap (QpackEncoderOptions.maxTableCapacity). */
  encoderCap?: number;
  /** The decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS. */
  tableCapacity: number;
  blockedStreams: number;
  /** Sections sent before the encoder-stream octets written with them reach the decoder (0: with them). */
  encoderStreamDelay?: number;
  /** Whether the decoder stream reaches the encoder at all. */
  feedDecoderStream?: boolean;
  /** Splits stream octets before delivery (default: as written). */
  chunk?: (bytes: Uint8Array) => Uint8Array[];
}

export interface LinkResult {
  /** Decoded lists by stream id. */
  decoded: Map<number, HeaderField[]>;
  sectionBytes: number;
  encoderStreamBytes: number;
  decoderStreamBytes: number;
  /** Most streams blocked at the decoder at once. */
  maxBlocked: number;
  encoder: QpackEncoder;
  decoder: QpackDecoder;
}

/** Sends `lists` on streams 0, 4, 8, … and returns what the decoder made of them. */
export function runLink(lists: readonly (readonly HeaderField[])[], options: LinkOptions): LinkResult {
  const encoder = new QpackEncoder(options.encoderCap === undefined ? {} : { maxTableCapacity: options.encoderCap });
  const decoder = new QpackDecoder({ maxTableCapacity: options.tableCapacity, maxBlockedStreams: options.blockedStreams, maxFieldSectionSize: 1 << 20 });
  encoder.applyPeerSettings(options.tableCapacity, options.blockedStreams);
  const chunk = options.chunk ?? ((b: Uint8Array) => [b]);
  const delay = options.encoderStreamDelay ?? 0;
  const feed = options.feedDecoderStream ?? true;
  const decoded = new Map<number, HeaderField[]>();
  const result: LinkResult = { decoded, sectionBytes: 0, encoderStreamBytes: 0, decoderStreamBytes: 0, maxBlocked: 0, encoder, decoder };
  decoder.onUnblocked = (streamId, fields) => {
    if (decoded.has(streamId)) throw new Error(`stream ${streamId} decoded twice`);
    decoded.set(streamId, fields);
  };
  const heldEncoderStream: Uint8Array[][] = [];
  const pump = (): void => {
    const d = decoder.takeDecoderStream();
    if (d === undefined) return;
    result.decoderStreamBytes += d.length;
    if (feed) for (const c of chunk(d)) encoder.receiveDecoderStream(c);
  };
  const deliverEncoderStream = (parts: Uint8Array[]): void => {
    for (const part of parts) for (const c of chunk(part)) decoder.receiveEncoderStream(c);
    pump();
  };
  for (let i = 0; i < lists.length; i++) {
    const streamId = i * 4;
    const section = encoder.encode(streamId, lists[i]);
    result.sectionBytes += section.length;
    const instructions = encoder.takeEncoderStream();
    if (instructions !== undefined) result.encoderStreamBytes += instructions.length;
    heldEncoderStream.push(instructions === undefined ? [] : [instructions]);
    while (heldEncoderStream.length > delay) deliverEncoderStream(heldEncoderStream.shift()!);
    const fields = decoder.decode(streamId, section);
    result.maxBlocked = Math.max(result.maxBlocked, decoder.blockedStreams);
    if (fields !== undefined) decoded.set(streamId, fields);
    pump();
  }
  while (heldEncoderStream.length > 0) deliverEncoderStream(heldEncoderStream.shift()!);
  return result;
}

/**
 * Our encoder's output for `lists` (stream i + 1 for list i) as offline-interop records, in the
 * order a peer would receive them when the encoder stream runs `encoderStreamDelay` sections
 * late; our own decoder's acknowledgments are fed back to the encoder as they come.
 */
export function encodeForInterop(lists: readonly (readonly HeaderField[])[], tableCapacity: number, blockedStreams: number, encoderStreamDelay: number): { streamId: number; data: Uint8Array }[] {
  const encoder = new QpackEncoder();
  encoder.applyPeerSettings(tableCapacity, blockedStreams);
  const decoder = new QpackDecoder({ maxTableCapacity: tableCapacity, maxBlockedStreams: blockedStreams, maxFieldSectionSize: 1 << 20 });
  const records: { streamId: number; data: Uint8Array }[] = [];
  const held: Uint8Array[][] = [];
  const pump = (): void => {
    const d = decoder.takeDecoderStream();
    if (d !== undefined) encoder.receiveDecoderStream(d);
  };
  const deliver = (parts: Uint8Array[]): void => {
    for (const data of parts) {
      records.push({ streamId: 0, data });
      decoder.receiveEncoderStream(data);
      pump();
    }
  };
  for (let i = 0; i < lists.length; i++) {
    const section = encoder.encode(i + 1, lists[i]);
    const instructions = encoder.takeEncoderStream();
    held.push(instructions === undefined ? [] : [instructions]);
    while (held.length > encoderStreamDelay) deliver(held.shift()!);
    records.push({ streamId: i + 1, data: section });
    decoder.decode(i + 1, section);
    pump();
  }
  while (held.length > 0) deliver(held.shift()!);
  return records;
}
