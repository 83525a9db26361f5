// generateSigningKeyPair (sealed-rpc/server): the key a modern gateway signs issuances with.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../src/server/index.js';

describe('generateSigningKeyPair', () => {
  it('gives a PKCS#8 P-256 private key in 64-column PEM whose public half OpenSSL derives as exactly the returned JWK', async () => {
    const { privateKeyPem, publicJwk } = await generateSigningKeyPair();
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END PRIVATE KEY-----\n$/);
    const priv = createPrivateKey(privateKeyPem);
    expect(priv.asymmetricKeyType).toBe('ec');
    expect(priv.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const derived = createPublicKey(priv).export({ format: 'jwk' });
    expect(publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: derived.x, y: derived.y });
  });

  it('gives a different key each time', async () => {
    const a = await generateSigningKeyPair();
    const b = await generateSigningKeyPair();
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
    expect(a.publicJwk.x).not.toBe(b.publicJwk.x);
  });
});
