/**
 * SETTINGS synchronisation on its own (RFC 9113 §6.5): ours awaiting the ACK under SETTINGS_TIMEOUT,
 * and the peer's values checked and applied. The same seen through a scripted peer is in
 * conformance-framing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, ErrorCode } from '../src/errors.js';
import { SettingId } from '../src/frame/types.js';
import { DEFAULT_LOCAL_SETTINGS, INITIAL_SETTINGS } from '../src/proto/settings.js';
import { applyPeerSettings, SettingsSync } from '../src/proto/settings-sync.js';
import { caught, manualTimers } from './support/manual.js';



describe('RFC 9113 §6.5.3 settings synchronisation', () => {
  it('§6.5.3: our SETTINGS arm one SETTINGS_TIMEOUT timer; when it fires, the error is SETTINGS_TIMEOUT', () => {
    const { timers, setTimer } = manualTimers();
    const errors: ConnectionError[] = [];
    const sync = new SettingsSync('server', setTimer, 10_000, (e) => errors.push(e));
    sync.sent(DEFAULT_LOCAL_SETTINGS);
    sync.sent(DEFAULT_LOCAL_SETTINGS);
    expect(timers).toHaveLength(1);
    expect(timers[0].ms).toBe(10_000);
    timers[0].fn();
    expect(errors).toHaveLength(1);
    expect(errors[0].errorCode).toBe(ErrorCode.SETTINGS_TIMEOUT);
  });

  it('§6.5.3: ACKs acknowledge our SETTINGS in order; the timer stops once every one is acknowledged', () => {
    const { timers, setTimer } = manualTimers();
    const sync = new SettingsSync('client', setTimer, 10_000, () => {});
    const first = { ...DEFAULT_LOCAL_SETTINGS, headerTableSize: 1 };
    const second = { ...DEFAULT_LOCAL_SETTINGS, headerTableSize: 2 };
    sync.sent(first);
    sync.sent(second);
    expect(sync.acked()).toBe(first);
    expect(timers[0].cancelled).toBe(false);
    expect(sync.unacknowledged).toBe(1);
    expect(sync.acked()).toBe(second);
    expect(timers[0].cancelled).toBe(true);
    expect(sync.unacknowledged).toBe(0);
  });

  it('§6.5.3: an ACK with nothing of ours outstanding applies nothing', () => {
    const sync = new SettingsSync('client', manualTimers().setTimer, 10_000, () => {});
    expect(sync.acked()).toBeUndefined();
  });

  it('§3.4: the peer counts as having sent SETTINGS once its first SETTINGS is received', () => {
    const sync = new SettingsSync('server', manualTimers().setTimer, 10_000, () => {});
    expect(sync.received).toBe(false);
    const next = sync.receive([[SettingId.MAX_FRAME_SIZE, 32_768]]);
    expect(sync.received).toBe(true);
    expect(next.maxFrameSize).toBe(32_768);
    // Not in force until the connection commits it (after adjusting the stream windows).
    expect(sync.remote.maxFrameSize).toBe(INITIAL_SETTINGS.maxFrameSize);
  });
});

describe('RFC 9113 §6.5.2 the peer’s SETTINGS values', () => {
  it('§6.5.2: each known identifier sets its value; unknown identifiers MUST be ignored', () => {
    const next = applyPeerSettings(
      INITIAL_SETTINGS,
      [
        [SettingId.HEADER_TABLE_SIZE, 0],
        [SettingId.MAX_CONCURRENT_STREAMS, 7],
        [SettingId.INITIAL_WINDOW_SIZE, 1],
        [SettingId.MAX_HEADER_LIST_SIZE, 100],
        [0xf0f0, 99],
      ],
      'server',
    );
    expect(next).toEqual({ ...INITIAL_SETTINGS, headerTableSize: 0, maxConcurrentStreams: 7, initialWindowSize: 1, maxHeaderListSize: 100 });
  });

  it('§6.5.2: a client MUST treat SETTINGS_ENABLE_PUSH of 1 from a server as a connection error of type PROTOCOL_ERROR', () => {
    const error = caught(() => applyPeerSettings(INITIAL_SETTINGS, [[SettingId.ENABLE_PUSH, 1]], 'client'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(applyPeerSettings(INITIAL_SETTINGS, [[SettingId.ENABLE_PUSH, 0]], 'server').enablePush).toBe(false);
  });

  it('RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL may not go from 1 back to 0, nor be above 1', () => {
    const on = applyPeerSettings(INITIAL_SETTINGS, [[SettingId.ENABLE_CONNECT_PROTOCOL, 1]], 'client');
    expect(on.enableConnectProtocol).toBe(true);
    expect(caught(() => applyPeerSettings(on, [[SettingId.ENABLE_CONNECT_PROTOCOL, 0]], 'client'))).toBeInstanceOf(ConnectionError);
    expect(caught(() => applyPeerSettings(INITIAL_SETTINGS, [[SettingId.ENABLE_CONNECT_PROTOCOL, 2]], 'client'))).toBeInstanceOf(ConnectionError);
  });

  it('the current settings object is left as it was', () => {
    const current = { ...INITIAL_SETTINGS };
    applyPeerSettings(current, [[SettingId.MAX_FRAME_SIZE, 20_000]], 'server');
    expect(current.maxFrameSize).toBe(INITIAL_SETTINGS.maxFrameSize);
  });
});
