/** The PTTH-shaped upgrade path (draft-kazuho-ptth-ptth-01; DESIGN.md, Carrier 2): the template is core's (reverse/ptth.ts). */
export { PTTH_PATH_PREFIX as PTTH_PREFIX, ptthOriginSegment } from '@rhttp/core';
/** WebSocket subprotocol of the carrier: the same name as carrier 1's ALPN. */
export const WEBSOCKET_SUBPROTOCOL = 'h2-reverse';

/** A plain-text response whose body is one sentence (refusals the agent prints). */
export function plainResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}
