/**
 * Whole HTTP/1.1 responses that end their connection, written straight onto a socket: the
 * refusals of the HTTP/1.1 server, of WebSocket and PTTH upgrades and of CONNECT tunnels, where
 * no response writer is (or is any longer) in charge of the connection. One rule for their head:
 * the standard reason phrase, the given fields but the framing ones, then Content-Length, Date and
 * Connection: close.
 */
import { STATUS_CODES } from 'node:http';
import { httpDate, responseHead } from '@rhttp/core';

/** Fields a closing response sets itself. */
const FRAMING_FIELDS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'date']);

/** `status` with `fields` and `body`, then the connection ends (Connection: close). */
export function closingResponse(status: number, body: string | Uint8Array, fields: readonly (readonly [string, string])[] = []): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const head = responseHead(status, STATUS_CODES[status] ?? '', fields, FRAMING_FIELDS, ['content-length', String(bytes.length), 'date', httpDate(), 'connection', 'close']);
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}

/** What a refusal of ours says of itself unless its fields say otherwise: plain text, not cached. */
const REFUSAL_FIELDS: readonly (readonly [string, string])[] = [
  ['content-type', 'text/plain; charset=utf-8'],
  ['cache-control', 'no-store'],
];

/** A plain-text refusal of ours (`text` and a newline), then the connection ends; `fields` come after, or instead of, REFUSAL_FIELDS. */
export function closingRefusal(status: number, text: string, fields: readonly (readonly [string, string])[] = []): Buffer {
  const defaults = REFUSAL_FIELDS.filter(([name]) => !fields.some(([given]) => given === name));
  return closingResponse(status, `${text}\n`, [...defaults, ...fields]);
}
