/**
 * What `rhttp-agent` and `rhttp-intermediary` share on the command line, so that both read a
 * duration and word a flag mistake the same way: durations (`30s`, `5m`, `1h`, or plain seconds)
 * and the one-line message for an error of `node:util` parseArgs. Pure functions, no runtime
 * import: parseArgs' error is taken by shape.
 *
 * @example
 * parseDuration('90');    // 90_000 (plain seconds)
 * parseDuration('1h30m'); // 5_400_000
 * flagErrorMessage(error, 'rhttp-agent --help'); // "unknown flag --bogus (run 'rhttp-agent --help' for the flags)"
 */

/** Milliseconds per unit a duration may be written in. */
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** What {@link parseDuration} accepts, for messages. */
export const DURATION_FORMS = 'seconds, or a number with a unit like 30s, 5m, 1h, 1h30m (ms, s, m, h, d)';

/**
 * Milliseconds of a duration: plain seconds (`90`, `1.5`), or numbers each followed by a unit
 * (`500ms`, `30s`, `5m`, `1h`, `2d`, `1h30m`). Case-insensitive, no sign, no spaces. Throws a
 * `TypeError` saying which forms are accepted.
 */
export function parseDuration(text: string): number {
  const value = text.trim().toLowerCase();
  const number = '\\d+(?:\\.\\d+)?';
  if (new RegExp(`^${number}$`).test(value)) return Math.round(Number(value) * 1000);
  const part = new RegExp(`(${number})(ms|s|m|h|d)`, 'y');
  let ms = 0;
  let at = 0;
  while (at < value.length) {
    part.lastIndex = at;
    const m = part.exec(value);
    if (m === null) break;
    ms += Number(m[1]) * DURATION_UNITS[m[2]];
    at = part.lastIndex;
  }
  if (value.length === 0 || at !== value.length) throw new TypeError(`${JSON.stringify(text)} is not a duration: give ${DURATION_FORMS}`);
  return Math.round(ms);
}

/** The parts of a `node:util` parseArgs error that {@link flagErrorMessage} reads. */
export interface FlagParseError {
  code?: string;
  message: string;
}

/**
 * One line for a parseArgs error, the same in every rhttp command: an unknown flag, a flag
 * without its value, a value given to a switch, an unexpected argument. `help` is the command
 * that lists the flags, e.g. `rhttp-agent certs --help`; every message points at it.
 */
export function flagErrorMessage(error: FlagParseError, help: string): string {
  const hint = `(run '${help}' for the flags)`;
  const quoted = /'([^']*)'/.exec(error.message)?.[1];
  const flag = quoted?.split(' ')[0];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag ?? ''} ${hint}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(error.message) ? `${flag ?? 'a switch'} takes no value ${hint}` : `${flag ?? 'a flag'} needs a value ${hint}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted ?? ''} ${hint}`;
    default:
      return `${error.message} ${hint}`;
  }
}
