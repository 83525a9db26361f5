// Node project only (WebCrypto present, no native engine): which engine a large ECB decryption
// takes. The bytes on every path are checked in test/crypto/legacy-primitives.test.ts, which
// runs on all three engines.
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { DecryptError, ecbDecrypt, ecbKey, gcmOpen, gcmSeal, importGcmKey } from '../../src/crypto/aes.js';
import { native, subtle } from '../../src/crypto/provider.js';

function opensslEcb(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

describe('AES-ECB decryption engine', () => {
  it('this project has WebCrypto and no native engine', () => {
    expect(subtle()).toBeDefined();
    expect(native()).toBeUndefined();
  });

  it('with WebCrypto: decrypting 4,096 bytes or more is one subtle.decrypt call, smaller inputs none (the bytes of both paths: test/crypto/legacy-primitives.test.ts)', async () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    const spy = vi.spyOn(globalThis.crypto.subtle, 'decrypt');
    try {
      await ecbDecrypt(k, opensslEcb(raw, new Uint8Array(4079)));
      expect(spy).toHaveBeenCalledTimes(0);
      await ecbDecrypt(k, opensslEcb(raw, new Uint8Array(4080)));
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('AES-GCM with a CryptoKey where crypto.subtle has gone', () => {
  it('gcmOpen is CRYPTO_UNAVAILABLE (the engine is missing), as gcmSeal is, never a DecryptError that would read as a tampered response', async () => {
    const key = await importGcmKey(new Uint8Array(32).fill(7));
    expect(key).not.toBeInstanceOf(Uint8Array); // a CryptoKey: this project runs on WebCrypto
    const sealed = await gcmSeal(key, new Uint8Array([1, 2, 3]));
    expect(await gcmOpen(key, sealed)).toEqual(new Uint8Array([1, 2, 3]));
    const real = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!;
    Object.defineProperty(globalThis, 'crypto', { configurable: true, value: {} });
    try {
      const opened = await gcmOpen(key, sealed).catch((x: unknown) => x);
      const seal = await gcmSeal(key, new Uint8Array([1]), undefined, new Uint8Array(12)).catch((x: unknown) => x);
      expect(opened).toMatchObject({ name: 'RpcError', code: 'CRYPTO_UNAVAILABLE' });
      expect(opened).not.toBeInstanceOf(DecryptError);
      expect(seal).toMatchObject({ name: 'RpcError', code: 'CRYPTO_UNAVAILABLE' });
    } finally {
      Object.defineProperty(globalThis, 'crypto', real);
    }
  });
});
