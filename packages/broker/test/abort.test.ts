import { describe, expect, it } from 'vitest';
import { Abort, Broker } from '../src/index.js';
import { FakeSession, get, INFO } from './fake-session.js';

describe('Abort (the cheap AbortSignalLike a listener makes per exchange)', () => {
  it('runs each listener once, in order, with the reason readable; removed listeners do not run', () => {
    const abort = new Abort();
    const heard: string[] = [];
    const removed = () => heard.push('removed');
    abort.addEventListener('abort', () => heard.push(`first ${String(abort.reason)}`));
    abort.addEventListener('abort', removed);
    abort.addEventListener('abort', () => heard.push('second'));
    abort.removeEventListener('abort', removed);
    expect(abort.aborted).toBe(false);
    abort.abort('gone');
    abort.abort('again');
    expect(heard).toEqual(['first gone', 'second']);
    expect([abort.aborted, abort.reason]).toEqual([true, 'gone']);
  });

  it('cancels the exchange in flight through the broker, like an AbortSignal', async () => {
    const broker = new Broker();
    let handlerSignal: AbortSignal | undefined;
    broker.register(new FakeSession('s', ['https://app.example.com'], {
      handler: (_request, init) => {
        handlerSignal = init?.signal;
        return new Promise<Response>(() => {});
      },
    }));
    const abort = new Abort();
    const pending = broker.dispatch(get('https://app.example.com/'), { ...INFO, signal: abort });
    for (let i = 0; i < 5 && !handlerSignal; i++) await new Promise((r) => setImmediate(r));
    const reason = new Error('the browser went away');
    abort.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(handlerSignal?.aborted).toBe(true);
    expect(broker.status().counters.aborted).toBe(1);
  });
});
