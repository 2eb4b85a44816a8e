/**
 * Log lines of the intermediary: plain words by default, or one JSON object per line
 * (`--log json`) with `time`, `level`, `event`, `message` and the fields of the event, for log
 * collectors (Loki, Elasticsearch, journald's JSON export).
 *
 * @example
 * const log = createLogger('json', (line) => process.stderr.write(line));
 * log('agent connected from 10.0.0.7:51234', { level: 'info', event: 'agent.connected', remoteAddress: '10.0.0.7:51234' });
 * // {"time":"2025-…Z","level":"info","event":"agent.connected","message":"agent connected from …","remoteAddress":"10.0.0.7:51234"}
 */

/** How serious a line is. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What a log line is about, for machines: a stable `event` name and its fields. */
export interface LogRecord {
  level: LogLevel;
  /** Stable, dotted name (`agent.refused`, `listener.started`); dashboards filter on it. */
  event: string;
  [field: string]: unknown;
}

/**
 * Where the intermediary's log lines go. `message` is the plain-words sentence; `record`, when
 * given, says what it is about. A function taking only the message is a valid `LogFunction`.
 */
export type LogFunction = (message: string, record?: LogRecord) => void;

/** The two formats `--log` accepts. */
export type LogFormat = 'text' | 'json';

/** Field names the JSON format writes itself: an event field with one of these names is prefixed with `field_`. */
const RESERVED_FIELDS = new Set(['time', 'level', 'event', 'message']);

/** One line (with its newline) in the chosen format. */
export function formatLogLine(format: LogFormat, message: string, record: LogRecord | undefined, now: Date = new Date()): string {
  if (format === 'text') return `${now.toISOString()} ${message}\n`;
  const out: Record<string, unknown> = { time: now.toISOString(), level: record?.level ?? 'info', event: record?.event ?? 'log', message };
  if (record) {
    for (const [name, value] of Object.entries(record)) {
      if (name === 'level' || name === 'event') continue;
      out[RESERVED_FIELDS.has(name) ? `field_${name}` : name] = value;
    }
  }
  // JSON.stringify escapes control characters, so a hostile value (a certificate subject, a
  // GOAWAY debug string) cannot start a forged line.
  return `${JSON.stringify(out, jsonSafe)}\n`;
}

/** Values JSON cannot hold as is: bigint as a string, errors as their message. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

/** A `LogFunction` writing each line in `format` to `write`. */
export function createLogger(format: LogFormat, write: (line: string) => void): LogFunction {
  return (message, record) => write(formatLogLine(format, message, record));
}
