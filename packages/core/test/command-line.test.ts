import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flagErrorMessage, parseDuration } from '../src/command-line.js';

describe('parseDuration', () => {
  it.each([
    ['30', 30_000],
    ['1.5', 1_500],
    ['0', 0],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['10S', 10_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '-5', '5x', '5 m', '1h30', 'h1', '1e3', 'soon', '30s5'])('refuses %j, naming the accepted forms', (text) => {
    expect(() => parseDuration(text)).toThrow(/is not a duration: give seconds, or a number with a unit like 30s, 5m, 1h/);
  });
});

describe('flagErrorMessage (the wording both CLIs use)', () => {
  const options = { origin: { type: 'string' }, help: { type: 'boolean' } } as const;
  const messageFor = (args: string[]) => {
    try {
      parseArgs({ args, options, strict: true });
    } catch (error) {
      return flagErrorMessage(error as { code?: string; message: string }, 'rhttp-x --help');
    }
    throw new Error(`parseArgs accepted ${args.join(' ')}`);
  };

  it.each([
    [['--bogus'], "unknown flag --bogus (run 'rhttp-x --help' for the flags)"],
    [['-q'], "unknown flag -q (run 'rhttp-x --help' for the flags)"],
    [['--origin'], "--origin needs a value (run 'rhttp-x --help' for the flags)"],
    [['--origin', '--help'], "--origin needs a value (run 'rhttp-x --help' for the flags)"],
    [['--help=yes'], "--help takes no value (run 'rhttp-x --help' for the flags)"],
    [['extra'], "unexpected argument extra (run 'rhttp-x --help' for the flags)"],
  ])('words %j as one line that points at --help', (args, expected) => {
    const message = messageFor(args);
    expect(message).toBe(expected);
    expect(message).not.toContain('\n');
  });
});
