/**
 * The QPACK offline-interop formats (https://github.com/quicwg/base-drafts/wiki/QPACK-Offline-Interop):
 * a QIF file is header lists as `name<TAB>value` lines, one blank line after each list, `#` lines
 * are comments; an encoded file is records of [stream id: u64 BE][length: u32 BE][data], stream 0
 * being the encoder stream and stream n the n-th list of the QIF file.
 */
import type { HeaderField } from '../../src/frame/types.js';

/** The header lists of a QIF file (its octets read as Latin-1, one char per octet, as rhttp holds fields). */
export function parseQif(bytes: Uint8Array): HeaderField[][] {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  const lists: HeaderField[][] = [];
  let current: HeaderField[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line === '') {
      if (current !== undefined) lists.push(current);
      current = undefined;
      continue;
    }
    const tab = line.indexOf('\t');
    if (tab < 0) throw new Error(`QIF line without a tab: ${JSON.stringify(line)}`);
    (current ??= []).push([line.slice(0, tab), line.slice(tab + 1)]);
  }
  if (current !== undefined) lists.push(current);
  return lists;
}

export interface QifRecord {
  streamId: number;
  data: Uint8Array;
}

/** The records of an encoded file; throws if it is cut short. */
export function parseEncoded(bytes: Uint8Array): QifRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: QifRecord[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw new Error('encoded file: record header cut short');
    const streamId = Number(view.getBigUint64(pos));
    const length = view.getUint32(pos + 8);
    pos += 12;
    if (pos + length > bytes.length) throw new Error('encoded file: record cut short');
    records.push({ streamId, data: bytes.subarray(pos, pos + length) });
    pos += length;
  }
  return records;
}

/** Writes records in the encoded-file format. */
export function writeEncoded(records: readonly QifRecord[]): Uint8Array {
  let size = 0;
  for (const r of records) size += 12 + r.data.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const r of records) {
    view.setBigUint64(pos, BigInt(r.streamId));
    view.setUint32(pos + 8, r.data.length);
    out.set(r.data, pos + 12);
    pos += 12 + r.data.length;
  }
  return out;
}

/** `fb-req.out.4096.100.1` → the QIF name and the interop parameters (table size, blocked streams, immediate acks). */
export function parseEncodedName(file: string): { qif: string; tableSize: number; blockedStreams: number; immediateAck: boolean } | undefined {
  const m = /^(.+)\.out\.(\d+)\.(\d+)\.([01])$/.exec(file);
  if (m === null) return undefined;
  return { qif: m[1], tableSize: Number(m[2]), blockedStreams: Number(m[3]), immediateAck: m[4] === '1' };
}
