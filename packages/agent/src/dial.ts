/**
 * A TCP connection to an upstream (an h2c upstream, a CONNECT relay's target), with Nagle off and
 * a connect timeout: the socket once connected, or the connect error (`code: 'ETIMEDOUT'` after
 * `timeoutMs`), which the callers turn into their 502 / 504 answers.
 */
import * as net from 'node:net';

export function dialTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
}
