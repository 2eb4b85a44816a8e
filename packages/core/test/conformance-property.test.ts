/**
 * Property: a well-behaved peer never gets a connection error. Random interleavings of valid
 * frames (new streams, DATA with and without padding, trailers, RST_STREAM, PING, SETTINGS,
 * WINDOW_UPDATE, PRIORITY, unknown types), delivered at random chunk boundaries, with the engine
 * in either role: the engine never sends GOAWAY with an error code and never closes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, SettingId, type HeaderField } from '../src/index.js';
import { describe as describeFrame, ScriptedPeer } from './support/scripted-peer.js';

type Command =
  | { t: 'open'; end: boolean; extra: HeaderField[] }
  | { t: 'respond'; pick: number; end: boolean }
  | { t: 'data'; pick: number; size: number; end: boolean; pad: number | null }
  | { t: 'trailers'; pick: number }
  | { t: 'rst'; pick: number }
  | { t: 'ping'; opaque: Uint8Array }
  | { t: 'settings'; settings: Array<[number, number]> }
  | { t: 'window'; pick: number; connection: boolean; increment: number }
  | { t: 'priority'; pick: number; dependency: number }
  | { t: 'unknown'; type: number; payload: Uint8Array }
  | { t: 'flush'; splits: number[] };

const field = fc.tuple(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/)) as fc.Arbitrary<HeaderField>;
const setting = fc.oneof(
  fc.tuple(fc.constant(SettingId.HEADER_TABLE_SIZE), fc.integer({ min: 0, max: 65_536 })),
  fc.tuple(fc.constant(SettingId.ENABLE_PUSH), fc.constant(0)),
  fc.tuple(fc.constant(SettingId.MAX_CONCURRENT_STREAMS), fc.integer({ min: 0, max: 1_000 })),
  fc.tuple(fc.constant(SettingId.INITIAL_WINDOW_SIZE), fc.integer({ min: 0, max: 1 << 20 })),
  fc.tuple(fc.constant(SettingId.MAX_FRAME_SIZE), fc.integer({ min: 16_384, max: 2 ** 24 - 1 })),
  fc.tuple(fc.constant(SettingId.MAX_HEADER_LIST_SIZE), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  fc.tuple(fc.integer({ min: 0x10, max: 0xffff }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
) as fc.Arbitrary<[number, number]>;

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ t: fc.constant('open' as const), end: fc.boolean(), extra: fc.array(field, { maxLength: 3 }) }),
  fc.record({ t: fc.constant('respond' as const), pick: fc.nat(), end: fc.boolean() }),
  fc.record({ t: fc.constant('data' as const), pick: fc.nat(), size: fc.integer({ min: 0, max: 3_000 }), end: fc.boolean(), pad: fc.option(fc.integer({ min: 0, max: 255 })) }),
  fc.record({ t: fc.constant('trailers' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('rst' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('ping' as const), opaque: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
  fc.record({ t: fc.constant('settings' as const), settings: fc.array(setting, { maxLength: 4 }) }),
  fc.record({ t: fc.constant('window' as const), pick: fc.nat(), connection: fc.boolean(), increment: fc.integer({ min: 1, max: 100_000 }) }),
  fc.record({ t: fc.constant('priority' as const), pick: fc.nat(), dependency: fc.nat({ max: 50 }) }),
  fc.record({ t: fc.constant('unknown' as const), type: fc.integer({ min: 0x20, max: 0xff }), payload: fc.uint8Array({ maxLength: 20 }) }),
  fc.record({ t: fc.constant('flush' as const), splits: fc.array(fc.nat(), { maxLength: 4 }) }),
);

/** Peer-side view of one stream. */
interface PeerStream {
  id: number;
  /** The peer may still send HEADERS/DATA on it. */
  sending: boolean;
  /** Client role: the response HEADERS went out (DATA may follow). */
  responded: boolean;
}

async function run(role: 'server' | 'client', commands: Command[]): Promise<void> {
  const peer = await ScriptedPeer.start({ role });
  const streams: PeerStream[] = [];
  let nextPeerStream = 1;
  let buffer: Uint8Array[] = [];
  const queue = (bytes: Uint8Array) => buffer.push(bytes);
  const deliver = (splits: number[]) => {
    const all = new Uint8Array(buffer.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of buffer) {
      all.set(b, at);
      at += b.length;
    }
    buffer = [];
    const cuts = [...new Set(splits.map((s) => (all.length === 0 ? 0 : s % all.length)))].sort((a, b) => a - b);
    let from = 0;
    for (const cut of [...cuts, all.length]) {
      if (cut > from) peer.sendRaw(all.slice(from, cut));
      from = Math.max(from, cut);
    }
  };
  const live = (pick: number, ok: (s: PeerStream) => boolean) => {
    const candidates = streams.filter(ok);
    return candidates.length === 0 ? undefined : candidates[pick % candidates.length];
  };
  const headers = (id: number, fields: HeaderField[], endStream: boolean) =>
    queue(encodeFrame({ kind: 'headers', streamId: id, endStream, endHeaders: true, fragment: peer.block(fields) }));

  for (const c of commands) {
    switch (c.t) {
      case 'open':
        if (role === 'server') {
          const id = nextPeerStream;
          nextPeerStream += 2;
          headers(id, [[':method', 'POST'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/'], ...c.extra], c.end);
          streams.push({ id, sending: !c.end, responded: true });
        } else {
          deliver([]); // the engine's HEADERS goes after what the peer already sent
          // What was just delivered may be a SETTINGS with MAX_CONCURRENT_STREAMS 0: a client then opens nothing (RFC 9113 §5.1.2).
          if (!peer.connection.canOpenStream) break;
          const stream = peer.open([[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/'], ...c.extra], c.end);
          streams.push({ id: stream.id, sending: true, responded: false });
        }
        break;
      case 'respond': {
        const s = live(c.pick, (x) => x.sending && !x.responded);
        if (!s) break;
        headers(s.id, [[':status', '200']], c.end);
        s.responded = true;
        s.sending = !c.end;
        break;
      }
      case 'data': {
        const s = live(c.pick, (x) => x.sending && x.responded);
        if (!s) break;
        queue(encodeFrame({ kind: 'data', streamId: s.id, endStream: c.end, data: new Uint8Array(c.size), padLength: c.pad ?? undefined }));
        if (c.end) s.sending = false;
        break;
      }
      case 'trailers': {
        const s = live(c.pick, (x) => x.sending && x.responded);
        if (!s) break;
        headers(s.id, [['x-trailer', 'done']], true);
        s.sending = false;
        break;
      }
      case 'rst': {
        const s = live(c.pick, (x) => x.sending);
        if (!s) break;
        queue(encodeFrame({ kind: 'rst-stream', streamId: s.id, errorCode: 0x8 }));
        streams.splice(streams.indexOf(s), 1);
        break;
      }
      case 'ping':
        queue(encodeFrame({ kind: 'ping', ack: false, opaque: c.opaque }));
        break;
      case 'settings':
        queue(encodeFrame({ kind: 'settings', ack: false, settings: c.settings }));
        break;
      case 'window': {
        const s = c.connection ? undefined : live(c.pick, () => true);
        queue(encodeFrame({ kind: 'window-update', streamId: s?.id ?? 0, increment: c.increment }));
        break;
      }
      case 'priority': {
        const s = live(c.pick, () => true);
        const id = s?.id ?? 1;
        const dependency = c.dependency === id ? 0 : c.dependency;
        queue(encodeFrame({ kind: 'priority', streamId: id, priority: { exclusive: false, dependency, weight: 16 } }));
        break;
      }
      case 'unknown':
        queue(ScriptedPeer.rawFrame(c.type, 0, 0, c.payload));
        break;
      case 'flush':
        deliver(c.splits);
        await peer.settle(1);
        break;
    }
  }
  deliver([]);
  const frames = await peer.drain();
  const errors = frames.filter((f) => f.kind === 'goaway' || f.kind === 'rst-stream');
  expect(errors.map(describeFrame)).toEqual([]);
  expect(peer.connection.isClosed).toBe(false);
  await peer.expectAlive();
}

describe('RFC 9113 property: a well-behaved peer never causes a connection error', () => {
  for (const role of ['server', 'client'] as const) {
    it(`${role}: random interleavings of valid frames at random chunk boundaries`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 60 }), (commands) => run(role, commands)),
        { numRuns: 150 },
      );
    });
  }
});
