/**
 * Loading an in-process handler for `--handler ./app.js`: a module whose default export has a
 * `fetch(request)` method (a Hono app, an itty-router, `export default { fetch }` as in Workers,
 * Deno and Bun) or is itself a function of a Request.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A Fetch API handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Anything the agent accepts as an in-process handler. */
export type FetchHandlerLike = FetchHandler | { fetch(request: Request): Response | Promise<Response> };

/** Turn a handler object or function into a function (calling `fetch` as a method keeps its `this`). */
export function toFetchHandler(value: unknown): FetchHandler | undefined {
  // A function also gets the stream's info (the agent's own handlers need `info.head`).
  if (typeof value === 'function') return (request, ...info: unknown[]) => (value as (request: Request, ...info: unknown[]) => Response | Promise<Response>)(request, ...info);
  if (value && typeof (value as { fetch?: unknown }).fetch === 'function') {
    const target = value as { fetch(request: Request): Response | Promise<Response> };
    // Only the request: a Hono app would take a second argument as its `env`.
    return (request) => target.fetch(request);
  }
  return undefined;
}

/**
 * Import a handler module. `specifier` is a file path (relative to `cwd`) or a package name.
 * Throws an Error whose message says what is wrong and how the module should look.
 */
export async function loadHandlerModule(specifier: string, cwd: string): Promise<FetchHandler> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier) || /\.[cm]?[jt]sx?$/.test(specifier);
  const target = isPath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e?.code === 'ERR_MODULE_NOT_FOUND' && isPath ? `no such file (${resolve(cwd, specifier)})` : (e?.message ?? String(error));
    throw new Error(`cannot load the handler module ${specifier}: ${why}`, { cause: error });
  }
  const handler = toFetchHandler(mod.default) ?? toFetchHandler(mod.fetch === undefined ? undefined : { fetch: mod.fetch });
  if (!handler) {
    throw new Error(
      `the handler module ${specifier} exports no fetch handler: use "export default app" (an object with fetch(request), e.g. a Hono app), ` +
        `"export default { fetch(request) { ... } }" or "export default function (request) { ... }"`,
    );
  }
  return handler;
}
