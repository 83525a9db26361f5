/**
 * On a page without crypto.subtle the pure-JS engines are a chunk loaded on first use
 * (load-pure.ts: import()). A chunk that does not load (network, a CSP) is CRYPTO_UNAVAILABLE,
 * as the IIFE's on-demand file is (load-script.ts), not a TypeError the client reports as
 * BAD_REQUEST "check the parameters"; and the next use tries the load again.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

const loadFail = vi.hoisted(() => ({ on: false, attempts: 0 }));
vi.mock('../../src/crypto/load-pure.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/crypto/load-pure.js')>();
  const attempt = <T>(load: () => Promise<T>) => {
    loadFail.attempts++;
    return loadFail.on ? Promise.reject(new TypeError('Failed to fetch dynamically imported module: https://app.example/assets/pure-3f9a.js')) : load();
  };
  return { ...m, loadPure: () => attempt(m.loadPure), loadPureEc: () => attempt(m.loadPureEc) };
});

import { createClient, memoryStore, sortedSign, type Transport } from '../../src/index.js';
import { createGateway, sortedSign as sortedSignGateway } from '../../src/server/index.js';
import { RpcError } from '../../src/errors.js';
import { toRequest, toWire } from '../helpers/in-process.js';

const realCrypto = globalThis.crypto;
const hideSubtle = () => Object.defineProperty(globalThis, 'crypto', { configurable: true, value: { getRandomValues: realCrypto.getRandomValues.bind(realCrypto) } });
const restore = () => Object.defineProperty(globalThis, 'crypto', { configurable: true, value: realCrypto });
afterEach(() => {
  restore();
  loadFail.on = false;
});

const APP_KEY = 'abcdef0123456789';

describe('a pure-JS chunk that does not load', () => {
  // First in this file: nothing has loaded the engines yet in this module graph.
  it('sortedSign (AES-CBC) on a page without crypto.subtle: the call fails CRYPTO_UNAVAILABLE with nothing sent; once the chunk loads, the next call goes through', async () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) }).operation('/x', (p) => p);
    let sent = 0;
    const transport: Transport = {
      async send(req) {
        sent++;
        restore(); // the gateway is a server with WebCrypto
        try {
          return await toWire(await gateway.handle(toRequest(req)));
        } finally {
          hideSubtle();
        }
      },
    };
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport, store: memoryStore() });
    hideSubtle();
    loadFail.on = true;
    const before = loadFail.attempts;
    const e = await client.call('/x', { a: '1' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe('CRYPTO_UNAVAILABLE');
    expect((e as RpcError).hint).toMatch(/https/);
    expect(loadFail.attempts).toBeGreaterThan(before);
    expect(sent).toBe(0);
    loadFail.on = false;
    expect(await client.call('/x', { a: '2' })).toEqual({ a: '2' });
    expect(sent).toBe(1);
  });

  it('each primitive with a pure-JS path (AES-CBC/GCM, SHA-256, HMAC, HKDF, P-256) rejects with CRYPTO_UNAVAILABLE, the chunk load kept as its cause', async () => {
    // (The engines are loaded by now: a failing load is simulated by a fresh module graph.)
    vi.resetModules();
    const fresh = {
      aes: await import('../../src/crypto/aes.js'),
      digest: await import('../../src/crypto/digest.js'),
      kdf: await import('../../src/crypto/kdf.js'),
      ec: await import('../../src/crypto/ec.js'),
      errors: await import('../../src/errors.js'),
    };
    hideSubtle();
    loadFail.on = true;
    const key = new Uint8Array(16);
    const attempts = [
      () => fresh.aes.aesEncrypt('AES-CBC', key, new Uint8Array(5), new Uint8Array(16)),
      () => fresh.aes.aesDecrypt('AES-CBC', key, new Uint8Array(32), new Uint8Array(16)),
      () => fresh.aes.aesEncrypt('AES-GCM', key, new Uint8Array(5), new Uint8Array(12)),
      () => fresh.digest.sha256(new Uint8Array(5)),
      () => fresh.digest.hmacSha256(new Uint8Array(5), new Uint8Array(5)),
      () => fresh.kdf.hkdfSha256(new Uint8Array(32), new Uint8Array(32), new Uint8Array(3), 32),
      () => fresh.ec.generateEcdh(),
    ];
    for (const attempt of attempts) {
      const e = await attempt().then(
        () => 'resolved',
        (x: unknown) => x,
      );
      expect(fresh.errors.isRpcError(e), String(e)).toBe(true);
      expect((e as RpcError).code).toBe('CRYPTO_UNAVAILABLE');
      expect(((e as RpcError).cause as Error).message).toMatch(/Failed to fetch dynamically imported module/);
    }
  });
});

