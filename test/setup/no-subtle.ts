// The pure-JS path: browsers hide crypto.subtle on insecure (http:, file:) pages, which
// hybrid web views often are. Keep getRandomValues (always present), drop subtle.
import 'fake-indexeddb/auto';

const real = globalThis.crypto;
Object.defineProperty(globalThis, 'crypto', {
  configurable: true,
  value: { getRandomValues: real.getRandomValues.bind(real), randomUUID: real.randomUUID.bind(real) },
});
if (globalThis.crypto.subtle !== undefined) throw new Error('no-subtle setup failed to remove crypto.subtle');
