/** The gateway's signing key input: P-256 PKCS#8 only; other curves are refused, not misused. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaSign, ecdsaVerify, ecPublicKeyRaw, ecSignKey, ecVerifyKey } from '../../src/crypto/ec.js';
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

  it("a SEC1 PEM ('EC PRIVATE KEY', what openssl ecparam -genkey writes) is refused naming PKCS#8 and the conversion, not as bad base64", async () => {
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    await expect(ecSignKey(sec1)).rejects.toThrow(/PKCS#8 PEM.*openssl pkcs8 -topk8/);
  });
});

describe('ecPublicKeyRaw (the pinned key, JWK)', () => {
  it('a JWK whose x and y are not 32 bytes each is refused, even when joined they are the same 64 bytes (a 31/33 split)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = publicKey.export({ format: 'jwk' }) as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    const raw = ecPublicKeyRaw(jwk);
    expect(Buffer.from(raw).equals(Buffer.concat([Buffer.of(4), x, y]))).toBe(true);
    const split = { ...jwk, x: x.subarray(0, 31).toString('base64url'), y: Buffer.concat([x.subarray(31), y]).toString('base64url') };
    expect(() => ecPublicKeyRaw(split)).toThrow(/32 bytes each/);
    expect(() => ecPublicKeyRaw({ ...jwk, x: jwk.x + '=' })).toThrow(TypeError); // padded: not the JWK form
  });
});

