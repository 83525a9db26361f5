/**
 * A `modern` credential holds non-extractable CryptoKeys, which only crypto.subtle can use.
 * Where a page has no crypto.subtle (an http: or file: web view of the same origin), such a
 * credential is refused as stored, so a new one is issued on the pure-JS path; one already in
 * use fails as CRYPTO_UNAVAILABLE, not as a request error (the primitives: ecb-webcrypto-path.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, memoryStore, modern, type Transport } from '../../src/index.js';
import { createGateway, modern as modernGateway } from '../../src/server/index.js';
import { failure, signingKey } from '../helpers/servers.js';
import { toRequest, toWire } from '../helpers/in-process.js';

const realCrypto = globalThis.crypto;
const hideSubtle = () =>
  Object.defineProperty(globalThis, 'crypto', { configurable: true, value: { getRandomValues: realCrypto.getRandomValues.bind(realCrypto), randomUUID: realCrypto.randomUUID.bind(realCrypto) } });
afterEach(() => Object.defineProperty(globalThis, 'crypto', { configurable: true, value: realCrypto }));

/** The gateway in this process, reached without a socket (and no other call in flight meanwhile); `issued` counts issuances. */
async function setup() {
  const key = await signingKey();
  const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }) }).operation('/echo', (p: unknown) => p);
  let issued = 0;
  const transport: Transport = {
    async send(req) {
      if (req.path.includes('issue')) issued++;
      // The gateway is a server with WebCrypto: it runs with the real crypto, the page's restored after.
      const pages = globalThis.crypto;
      Object.defineProperty(globalThis, 'crypto', { configurable: true, value: realCrypto });
      try {
        return await toWire(await gateway.handle(toRequest(req)));
      } finally {
        Object.defineProperty(globalThis, 'crypto', { configurable: true, value: pages });
      }
    },
  };
  return { serverKeys: { k1: key.jwk }, transport, issued: () => issued };
}

describe('a CryptoKey where crypto.subtle is missing', () => {
  it('a stored modern credential holding CryptoKeys is not used where crypto.subtle is missing: a new one is issued on the pure-JS path and the call succeeds', async () => {
    const { serverKeys, transport, issued } = await setup();
    const store = memoryStore();
    const withSubtle = createClient({ profile: modern({ serverKeys }), transport, store });
    expect(await withSubtle.call('/echo', { a: 1 })).toEqual({ a: 1 });
    expect(issued()).toBe(1);
    hideSubtle();
    // Another page of the origin, without crypto.subtle, reading the same store.
    const without = createClient({ profile: modern({ serverKeys }), transport, store });
    expect(await without.call('/echo', { a: 2 })).toEqual({ a: 2 });
    expect(issued()).toBe(2);
  });

  it('a credential already in use when crypto.subtle goes: the call is CRYPTO_UNAVAILABLE, not BAD_REQUEST', async () => {
    const { serverKeys, transport } = await setup();
    const client = createClient({ profile: modern({ serverKeys }), transport, store: memoryStore() });
    expect(await client.call('/echo', { a: 1 })).toEqual({ a: 1 });
    hideSubtle();
    const e = await failure(client.call('/echo', { a: 2 }));
    expect(e.code).toBe('CRYPTO_UNAVAILABLE');
  });
});
