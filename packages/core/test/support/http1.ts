import { expect } from 'vitest';
import { Http1Error } from '../../src/index.js';

/** The Http1Error code `run` throws, or undefined when it does not throw (anything else it throws fails the test). */
export function http1ErrorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Http1Error);
    return (error as Http1Error).code;
  }
  return undefined;
}
