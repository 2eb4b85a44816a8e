import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@rhttp/core';
import { Intermediary } from '../src/intermediary.js';
import { connectAgent, http1, makePki, until, intermediaryOptions } from './harness.js';

describe('Intermediary.stop() (RFC 9113 §6.8 graceful GOAWAY)', () => {
  it('lets an in-flight request finish, sends the agent GOAWAY(NO_ERROR), and closes the listeners', async () => {
    const pki = await makePki();
    const intermediary = new Intermediary(intermediaryOptions(pki, { https: undefined }));
    const addresses = await intermediary.start();
    const host = `app.example.com:${addresses.http!.port}`;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const agent = await connectAgent({
      port: addresses.agents.port,
      caPem: pki.ca.certPem,
      cert: pki.origin,
      origins: [`http://${host}`],
      handler: async () => {
        arrived();
        await released;
        return new Response('finished');
      },
    });
    await until(() => intermediary.servedOrigins().length === 1, 'the agent to be served');
    const inFlight = http1(addresses.http!.port, host, '/slow');
    await requestArrived;
    const stopped = intermediary.stop();
    const goaway = await agent.goaway;
    expect(goaway.errorCode).toBe(ErrorCode.NO_ERROR);
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toBe('finished');
    await stopped;
    await agent.closed;
    await expect(http1(addresses.http!.port, host, '/')).rejects.toThrow(/ECONNREFUSED/);
  });
});
