/**
 * Wire vectors for every frame type: the hex of a whole frame and the frame it decodes to.
 * Shared by the frame codec tests and the frame reader tests (not a test file itself).
 */
import { ConnectionError, ErrorCode, StreamError } from '../src/errors.js';
import type { Frame } from '../src/frame/types.js';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

export interface WireVector {
  name: string;
  /** header (9 octets) + payload */
  wire: string;
  frame: Frame;
  /** When the decoded form differs from `frame` (fields only present after decoding). */
  decoded?: Frame;
  /** Decode-only vectors: the wire is valid but not what the encoder writes (reserved bits). */
  decodeOnly?: boolean;
}

export const vectors: WireVector[] = [
  {
    name: 'DATA END_STREAM',
    wire: '000005 00 01 00000001 68656c6c6f',
    frame: { kind: 'data', streamId: 1, endStream: true, data: ascii('hello') },
    decoded: { kind: 'data', streamId: 1, endStream: true, data: ascii('hello'), padLength: undefined, flowControlledLength: 5 },
  },
  {
    name: 'DATA empty',
    wire: '000000 00 00 00000003',
    frame: { kind: 'data', streamId: 3, endStream: false, data: new Uint8Array(0) },
    decoded: { kind: 'data', streamId: 3, endStream: false, data: new Uint8Array(0), padLength: undefined, flowControlledLength: 0 },
  },
  {
    name: 'DATA PADDED',
    wire: '000006 00 09 00000001 03 6869 000000',
    frame: { kind: 'data', streamId: 1, endStream: true, data: ascii('hi'), padLength: 3 },
    decoded: { kind: 'data', streamId: 1, endStream: true, data: ascii('hi'), padLength: 3, flowControlledLength: 6 },
  },
  {
    name: 'DATA PADDED, pad length 0, no data',
    wire: '000001 00 08 00000005 00',
    frame: { kind: 'data', streamId: 5, endStream: false, data: new Uint8Array(0), padLength: 0 },
    decoded: { kind: 'data', streamId: 5, endStream: false, data: new Uint8Array(0), padLength: 0, flowControlledLength: 1 },
  },
  {
    name: 'DATA reserved bit set on stream id is ignored',
    wire: '000001 00 00 80000007 61',
    frame: { kind: 'data', streamId: 7, endStream: false, data: ascii('a'), padLength: undefined, flowControlledLength: 1 },
    decodeOnly: true,
  },
  {
    name: 'HEADERS END_STREAM|END_HEADERS',
    wire: '000003 01 05 00000001 828684',
    frame: { kind: 'headers', streamId: 1, endStream: true, endHeaders: true, fragment: hex('828684'), priority: undefined, padLength: undefined },
  },
  {
    name: 'HEADERS PADDED|PRIORITY',
    wire: '00000a 01 2c 00000003 02 80000001 0f 8286 0000',
    frame: {
      kind: 'headers',
      streamId: 3,
      endStream: false,
      endHeaders: true,
      fragment: hex('8286'),
      priority: { exclusive: true, dependency: 1, weight: 16 },
      padLength: 2,
    },
  },
  {
    name: 'HEADERS PRIORITY, weight 256, not exclusive, no END_HEADERS',
    wire: '000006 01 20 00000005 00000003 ff 82',
    frame: {
      kind: 'headers',
      streamId: 5,
      endStream: false,
      endHeaders: false,
      fragment: hex('82'),
      priority: { exclusive: false, dependency: 3, weight: 256 },
      padLength: undefined,
    },
  },
  {
    name: 'PRIORITY',
    wire: '000005 02 00 00000003 80000001 00',
    frame: { kind: 'priority', streamId: 3, priority: { exclusive: true, dependency: 1, weight: 1 } },
  },
  {
    name: 'RST_STREAM CANCEL',
    wire: '000004 03 00 00000001 00000008',
    frame: { kind: 'rst-stream', streamId: 1, errorCode: 0x8 },
  },
  {
    name: 'RST_STREAM unknown error code kept',
    wire: '000004 03 00 00000009 deadbeef',
    frame: { kind: 'rst-stream', streamId: 9, errorCode: 0xdeadbeef },
  },
  {
    name: 'SETTINGS',
    wire: '000012 04 00 00000000 0003 00000064 0004 0000ffff 0005 00004000',
    frame: { kind: 'settings', ack: false, settings: [[3, 100], [4, 65535], [5, 16384]] },
  },
  {
    name: 'SETTINGS with an unknown id and the largest legal values',
    wire: '00001e 04 00 00000000 0002 00000001 0004 7fffffff 0005 00ffffff 0008 00000001 abcd ffffffff',
    frame: { kind: 'settings', ack: false, settings: [[2, 1], [4, 0x7fffffff], [5, 0xffffff], [8, 1], [0xabcd, 0xffffffff]] },
  },
  {
    name: 'SETTINGS empty',
    wire: '000000 04 00 00000000',
    frame: { kind: 'settings', ack: false, settings: [] },
  },
  {
    name: 'SETTINGS ACK',
    wire: '000000 04 01 00000000',
    frame: { kind: 'settings', ack: true, settings: [] },
  },
  {
    name: 'PUSH_PROMISE END_HEADERS',
    wire: '000007 05 04 00000001 00000002 828784',
    frame: { kind: 'push-promise', streamId: 1, endHeaders: true, promisedStreamId: 2, fragment: hex('828784'), padLength: undefined },
  },
  {
    name: 'PUSH_PROMISE PADDED, no END_HEADERS',
    wire: '000008 05 08 00000003 01 00000004 8287 00',
    frame: { kind: 'push-promise', streamId: 3, endHeaders: false, promisedStreamId: 4, fragment: hex('8287'), padLength: 1 },
  },
  {
    name: 'PING',
    wire: '000008 06 00 00000000 0102030405060708',
    frame: { kind: 'ping', ack: false, opaque: hex('0102030405060708') },
  },
  {
    name: 'PING ACK',
    wire: '000008 06 01 00000000 0000000000000000',
    frame: { kind: 'ping', ack: true, opaque: new Uint8Array(8) },
  },
  {
    name: 'GOAWAY with debug data',
    wire: '00000b 07 00 00000000 00000007 0000000b 626f6f',
    frame: { kind: 'goaway', lastStreamId: 7, errorCode: 0xb, debugData: ascii('boo') },
  },
  {
    name: 'GOAWAY NO_ERROR, last stream 2^31-1',
    wire: '000008 07 00 00000000 7fffffff 00000000',
    frame: { kind: 'goaway', lastStreamId: 0x7fffffff, errorCode: 0, debugData: new Uint8Array(0) },
  },
  {
    name: 'GOAWAY reserved bit of last-stream-id is ignored',
    wire: '000008 07 00 00000000 80000003 00000001',
    frame: { kind: 'goaway', lastStreamId: 3, errorCode: 1, debugData: new Uint8Array(0) },
    decodeOnly: true,
  },
  {
    name: 'WINDOW_UPDATE connection',
    wire: '000004 08 00 00000000 7fffffff',
    frame: { kind: 'window-update', streamId: 0, increment: 0x7fffffff },
  },
  {
    name: 'WINDOW_UPDATE stream',
    wire: '000004 08 00 00000001 00010000',
    frame: { kind: 'window-update', streamId: 1, increment: 65536 },
  },
  {
    name: 'WINDOW_UPDATE reserved bit of the increment is ignored',
    wire: '000004 08 00 00000001 80000010',
    frame: { kind: 'window-update', streamId: 1, increment: 16 },
    decodeOnly: true,
  },
  {
    name: 'CONTINUATION END_HEADERS (alone: decodeFrame only)',
    wire: '000002 09 04 00000001 8284',
    frame: { kind: 'continuation', streamId: 1, endHeaders: true, fragment: hex('8284') },
  },
  {
    name: 'ORIGIN with several entries, wildcard included',
    wire:
      '00004a 0c 00 00000000' +
      ' 0017 ' + toHexAscii('https://app.example.com') +
      ' 0015 ' + toHexAscii('https://*.example.com') +
      ' 0018 ' + toHexAscii('https://example.org:8443'),
    frame: { kind: 'origin', streamId: 0, origins: ['https://app.example.com', 'https://*.example.com', 'https://example.org:8443'] },
  },
  {
    name: 'ORIGIN empty (an empty Origin Set)',
    wire: '000000 0c 00 00000000',
    frame: { kind: 'origin', streamId: 0, origins: [] },
  },
  {
    name: 'ORIGIN with an empty entry',
    wire: '000002 0c 00 00000000 0000',
    frame: { kind: 'origin', streamId: 0, origins: [''] },
  },
  {
    name: 'ORIGIN on stream 3 decodes (the connection ignores it)',
    wire: '000006 0c 00 00000003 0004 612e6263',
    frame: { kind: 'origin', streamId: 3, origins: ['a.bc'] },
  },
  {
    name: 'ORIGIN flags are ignored',
    wire: '000000 0c ff 00000000',
    frame: { kind: 'origin', streamId: 0, origins: [] },
    decodeOnly: true,
  },
  {
    name: 'unknown type 0xfa passes through',
    wire: '000004 fa 3b 00000005 01020304',
    frame: { kind: 'unknown', type: 0xfa, flags: 0x3b, streamId: 5, payload: hex('01020304') },
  },
  {
    name: 'ALTSVC (no decoder) passes through as unknown',
    wire: '000002 0a 00 00000000 0000',
    frame: { kind: 'unknown', type: 0xa, flags: 0, streamId: 0, payload: hex('0000') },
  },
  {
    name: 'unknown type, empty payload',
    wire: '000000 20 00 00000000',
    frame: { kind: 'unknown', type: 0x20, flags: 0, streamId: 0, payload: new Uint8Array(0) },
  },
];

function toHexAscii(s: string): string {
  return Buffer.from(s, 'latin1').toString('hex');
}

/** Invalid frames: the error class and code decoding them must raise (RFC 9113 §4.2, §5.4, §6). */
export type ErrorCase = [name: string, wire: string, cls: typeof ConnectionError | typeof StreamError, code: number];

export const errorCases: ErrorCase[] = [
  // stream 0 where a stream is required
  ['§6.1 DATA on stream 0', '000001 00 00 00000000 61', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.2 HEADERS on stream 0', '000001 01 04 00000000 82', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.3 PRIORITY on stream 0', '000005 02 00 00000000 00000001 10', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.4 RST_STREAM on stream 0', '000004 03 00 00000000 00000008', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.6 PUSH_PROMISE on stream 0', '000004 05 04 00000000 00000002', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.10 CONTINUATION on stream 0', '000000 09 04 00000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  // a stream where stream 0 is required
  ['§6.5 SETTINGS on stream 1', '000000 04 00 00000001', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.7 PING on stream 1', '000008 06 00 00000001 0000000000000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.8 GOAWAY on stream 1', '000008 07 00 00000001 00000000 00000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  // lengths
  ['§6.5 SETTINGS length 5', '000005 04 00 00000000 0003000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.5 SETTINGS length 7', '000007 04 00 00000000 00030000006400', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.5 SETTINGS ACK with a payload', '000006 04 01 00000000 000300000064', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.7 PING length 7', '000007 06 00 00000000 00000000000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.7 PING length 9', '000009 06 00 00000000 000000000000000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.4 RST_STREAM length 3', '000003 03 00 00000001 000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.4 RST_STREAM length 5', '000005 03 00 00000001 0000000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.3 PRIORITY length 4', '000004 02 00 00000003 00000001', StreamError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.3 PRIORITY length 6', '000006 02 00 00000003 00000001 1000', StreamError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.9 WINDOW_UPDATE length 3', '000003 08 00 00000001 000001', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.9 WINDOW_UPDATE length 5 on stream 0', '000005 08 00 00000000 0000000100', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.8 GOAWAY shorter than 8', '000007 07 00 00000000 00000000 000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.2 HEADERS PRIORITY flag, 4 octets', '000004 01 24 00000001 00000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.2 HEADERS PADDED|PRIORITY, 5 octets', '000005 01 2c 00000001 00 00000000', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.1 DATA PADDED without Pad Length', '000000 00 08 00000001', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  ['§6.6 PUSH_PROMISE shorter than the promised id', '000003 05 04 00000001 000002', ConnectionError, ErrorCode.FRAME_SIZE_ERROR],
  // padding
  ['§6.1 DATA pad length = payload length', '000003 00 08 00000001 03 6161', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.1 DATA pad length > payload length', '000002 00 08 00000001 ff 61', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.2 HEADERS padding eats the priority', '000007 01 2c 00000001 02 00000000 10 00', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.2 HEADERS pad length = payload length', '000002 01 0c 00000001 02 82', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.6 PUSH_PROMISE padding eats the promised id', '000006 05 0c 00000001 02 00000002 00', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  // window updates
  ['§6.9 WINDOW_UPDATE increment 0 on a stream', '000004 08 00 00000005 00000000', StreamError, ErrorCode.PROTOCOL_ERROR],
  ['§6.9 WINDOW_UPDATE increment 0 (reserved bit set) on a stream', '000004 08 00 00000005 80000000', StreamError, ErrorCode.PROTOCOL_ERROR],
  ['§6.9 WINDOW_UPDATE increment 0 on the connection', '000004 08 00 00000000 00000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  // §5.3.1 self-dependency
  ['§5.3.1 PRIORITY depending on its own stream', '000005 02 00 00000003 00000003 10', StreamError, ErrorCode.PROTOCOL_ERROR],
  // settings values (§6.5.2, RFC 8441 §3, RFC 9218 §2.1)
  ['§6.5.2 ENABLE_PUSH = 2', '000006 04 00 00000000 0002 00000002', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.5.2 INITIAL_WINDOW_SIZE = 2^31', '000006 04 00 00000000 0004 80000000', ConnectionError, ErrorCode.FLOW_CONTROL_ERROR],
  ['§6.5.2 INITIAL_WINDOW_SIZE = 2^32-1', '000006 04 00 00000000 0004 ffffffff', ConnectionError, ErrorCode.FLOW_CONTROL_ERROR],
  ['§6.5.2 MAX_FRAME_SIZE = 16383', '000006 04 00 00000000 0005 00003fff', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.5.2 MAX_FRAME_SIZE = 2^24', '000006 04 00 00000000 0005 01000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['§6.5.2 a bad value after good ones', '00000c 04 00 00000000 0003 00000064 0005 00000000', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['RFC 8441 §3 ENABLE_CONNECT_PROTOCOL = 2', '000006 04 00 00000000 0008 00000002', ConnectionError, ErrorCode.PROTOCOL_ERROR],
  ['RFC 9218 §2.1 NO_RFC7540_PRIORITIES = 2', '000006 04 00 00000000 0009 00000002', ConnectionError, ErrorCode.PROTOCOL_ERROR],
];
