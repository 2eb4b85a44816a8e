/**
 * The one rule of the light web objects (ServerRequest in incoming-request.ts, FastResponse in
 * fast-response.ts): whatever the light class does not answer itself is answered by the
 * runtime's own object, made on first need. Every getter and method of the runtime's prototype
 * that the light prototype lacks, and the runtime's symbol-keyed internal slots (Node's undici
 * reads them to copy a Request or Response), are defined on the light prototype to forward there.
 */
export function delegateToRuntime<Light extends object>(light: { prototype: Light }, native: { prototype: object }, slots: readonly symbol[], real: (self: Light) => object): void {
  const proto = light.prototype as Record<PropertyKey, unknown>;
  const own = new Set(Object.getOwnPropertyNames(proto));
  for (const name of Object.getOwnPropertyNames(native.prototype)) {
    if (own.has(name)) continue;
    const d = Object.getOwnPropertyDescriptor(native.prototype, name)!;
    if (d.get) {
      Object.defineProperty(proto, name, {
        get(this: Light) {
          return (real(this) as Record<string, unknown>)[name];
        },
        configurable: true,
      });
    } else if (typeof d.value === 'function') {
      Object.defineProperty(proto, name, {
        value(this: Light, ...args: unknown[]) {
          return (real(this) as Record<string, (...a: unknown[]) => unknown>)[name](...args);
        },
        writable: true,
        configurable: true,
      });
    }
  }
  for (const slot of slots) {
    Object.defineProperty(proto, slot, {
      get(this: Light) {
        return (real(this) as Record<symbol, unknown>)[slot];
      },
      set(this: Light, value: unknown) {
        (real(this) as Record<symbol, unknown>)[slot] = value;
      },
      configurable: true,
    });
  }
}
