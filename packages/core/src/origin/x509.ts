/**
 * @peculiar/x509, loaded so that no caller has to think about it: its dependency tsyringe throws
 * "tsyringe requires a reflect polyfill" unless `reflect-metadata` was evaluated first. ES
 * modules evaluate their imports in source order, so the polyfill import must stay first. The
 * crypto provider is the runtime's WebCrypto (`globalThis.crypto`: workerd, Node ≥ 20, Bun, Deno),
 * and is passed explicitly at every call, so a provider set elsewhere cannot change our results.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };

/** The WebCrypto every X.509 operation in rhttp uses. */
export const webCrypto: typeof globalThis.crypto = globalThis.crypto;

/** WebCrypto's `CryptoKey` (named here because the project's TypeScript libs have no DOM types). */
export type WebCryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;
