/** The PTTH-shaped upgrade path (draft-kazuho-ptth-ptth-01; DESIGN.md, Carrier 2). */
export const PTTH_PREFIX = '/.well-known/ptth/';
/** WebSocket subprotocol of the carrier: the same name as carrier 1's ALPN. */
export const WEBSOCKET_SUBPROTOCOL = 'h2-reverse';

/** The `{serialized_origin}` segment of a PTTH path (still percent-encoded), or "" if there is none. */
export function ptthOriginSegment(pathname: string): string {
  if (!pathname.startsWith(PTTH_PREFIX)) return '';
  const rest = pathname.slice(PTTH_PREFIX.length);
  return rest.endsWith('/') ? rest.slice(0, -1) : rest;
}

/** A plain-text response whose body is one sentence (refusals the agent prints). */
export function plainResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}
