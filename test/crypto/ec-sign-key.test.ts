/** The gateway's signing key input: P-256 PKCS#8 only; other curves are refused, not misused. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaSign, ecdsaVerify, ecSignKey, ecVerifyKey } from '../../src/crypto/ec.js';
import { utf8Encode } from '../../src/codec/utf8.js';

const pem = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('ecSignKey (PKCS#8 PEM)', () => {
  it('a P-256 key made by OpenSSL (node:crypto) signs, and the signature verifies under its public point', async () => {
    const key = await ecSignKey(pem('prime256v1'));
    const msg = utf8Encode('sealed-rpc/v1 issue');
    const sig = await ecdsaSign(key, msg);
    expect(sig.length).toBe(64);
    expect(await ecdsaVerify(ecVerifyKey({ kty: 'EC', crv: 'P-256', x: Buffer.from(key.publicRaw.subarray(1, 33)).toString('base64url'), y: Buffer.from(key.publicRaw.subarray(33)).toString('base64url') }), msg, sig)).toBe(true);
  });

  it('a secp256k1 key (also a 32-byte scalar) is refused with a TypeError naming the curve', async () => {
    await expect(ecSignKey(pem('secp256k1'))).rejects.toThrow(/prime256v1/);
  });
});
