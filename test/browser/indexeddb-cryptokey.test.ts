/**
 * Vitest browser mode, real Chromium: what the credential store relies on. A
 * non-extractable AES-GCM CryptoKey written with indexedDbStore() comes back from real
 * IndexedDB (through a second store instance, i.e. another connection) as a CryptoKey,
 * still non-extractable, and still decrypts; navigator.locks is there and exclusive.
 */
import { describe, expect, it } from 'vitest';
import { indexedDbStore } from '../../src/index.js';

const dbName = `sealed-rpc-browser-test-${crypto.randomUUID()}`;

describe('IndexedDB and Web Locks in real Chromium', () => {
  it('a non-extractable AES-GCM CryptoKey stored with indexedDbStore() comes back non-extractable and still decrypts', async () => {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    expect(key.extractable).toBe(false);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plaintext = new TextEncoder().encode('sealed in the browser');
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext));

    await indexedDbStore({ dbName }).set('cred', { version: 7, value: { appId: 'a1', reqKey: key }, expiresAt: 1 });

    const back = await indexedDbStore({ dbName }).get<{ appId: string; reqKey: CryptoKey }>('cred');
    expect(back?.version).toBe(7);
    expect(back?.value.appId).toBe('a1');
    const restored = back!.value.reqKey;
    expect(restored).toBeInstanceOf(CryptoKey);
    expect(restored).not.toBe(key); // a structured clone out of the database, not the same object
    expect(restored.extractable).toBe(false);
    expect(restored.type).toBe('secret');
    expect(restored.algorithm).toEqual({ name: 'AES-GCM', length: 256 });
    expect([...restored.usages].sort()).toEqual(['decrypt', 'encrypt']);
    await expect(crypto.subtle.exportKey('raw', restored)).rejects.toThrow();

    const opened = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, restored, ciphertext));
    expect(new TextDecoder().decode(opened)).toBe('sealed in the browser');

    await indexedDbStore({ dbName }).delete('cred');
    expect(await indexedDbStore({ dbName }).get('cred')).toBeUndefined();
  });

  it('navigator.locks exists and an exclusive lock runs its holders one at a time', async () => {
    expect(typeof navigator.locks?.request).toBe('function');
    const order: string[] = [];
    const hold = (id: string) =>
      navigator.locks.request(`${dbName}:lock`, { mode: 'exclusive' }, async () => {
        order.push(`${id} in`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${id} out`);
        return id;
      });
    expect(await Promise.all([hold('a'), hold('b'), hold('c')])).toEqual(['a', 'b', 'c']);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
  });
});
