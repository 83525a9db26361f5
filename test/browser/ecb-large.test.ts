// In Chromium: ECB decryption of large bodies runs on WebCrypto's AES-CBC (see ecbDecrypt),
// small ones and every encryption on our block function (aes-block.ts) over a prepared key.
// Reference bytes: @noble/ciphers' public ecb() API, an independent implementation.
import { ecb } from '@noble/ciphers/aes.js';
import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/codec/index.js';
import { DecryptError, ecbDecrypt, ecbEncrypt, ecbKey } from '../../src/crypto/aes.js';

const rand = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
};

describe('AES-ECB in Chromium', () => {
  it('1 MB and small bodies: ecbEncrypt equals noble ecb(), ecbDecrypt inverts it; the large one takes one subtle.decrypt', async () => {
    for (const keyLen of [16, 32]) {
      const raw = rand(keyLen);
      const k = ecbKey(raw);
      for (const n of [0, 33, 4095, 1024 * 1024 + 5]) {
        const pt = rand(n);
        const ct = ecbEncrypt(k, pt);
        expect(toHex(ct)).toBe(toHex(ecb(raw).encrypt(pt)));
        const spy = vi.spyOn(crypto.subtle, 'decrypt');
        try {
          expect(toHex(await ecbDecrypt(k, ct))).toBe(toHex(pt));
          expect(spy).toHaveBeenCalledTimes(ct.length >= 4096 ? 1 : 0);
        } finally {
          spy.mockRestore();
        }
      }
    }
  });

  it('a 24-byte key (which Chromium’s WebCrypto refuses) decrypts 64 KB on the block function', async () => {
    const raw = rand(24);
    const pt = rand(65536);
    const ct = ecb(raw).encrypt(pt);
    expect(toHex(await ecbDecrypt(ecbKey(raw), ct))).toBe(toHex(pt));
  });

  it('20 large decryptions in flight at once, with encryptions between them, under different keys: each opens to its own plaintext (the reused input buffer is copied by WebCrypto when called)', async () => {
    const cases = Array.from({ length: 20 }, (_, i) => {
      const raw = rand(i % 2 ? 32 : 16);
      const pt = rand(4096 + 997 * i);
      return { raw, pt, ct: ecb(raw).encrypt(pt) };
    });
    const opened = cases.map((c) => {
      const p = ecbDecrypt(ecbKey(c.raw), c.ct);
      ecbEncrypt(ecbKey(c.raw), rand(5000)); // reuses the buffer right after the call
      return p;
    });
    const out = await Promise.all(opened);
    out.forEach((p, i) => expect(toHex(p), `case ${i}`).toBe(toHex(cases[i].pt)));
  });

  it('a 64 KB body whose last block decrypts to bad padding (a zero byte) is a DecryptError, not data', async () => {
    const raw = rand(16);
    const blocks = rand(65536);
    blocks[blocks.length - 1] = 0;
    const ct = ecb(raw, { disablePadding: true }).encrypt(blocks);
    await expect(ecbDecrypt(ecbKey(raw), ct)).rejects.toBeInstanceOf(DecryptError);
  });
});
