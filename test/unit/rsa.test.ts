import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  decodeSignatureText,
  signRsa,
  signRsaSha256,
  verifyRsa,
  verifyRsaSha256,
} from '../../src/crypto/rsa.js';
import { verifyPushCallback } from '../../src/server/push.js';
import { RpcError } from '../../src/errors.js';
import { fromBase64, toBase64, toBase64Url } from '../../src/codec/base64.js';
import { fromHex } from '../../src/codec/hex.js';

interface RsaVector {
  name: string;
  plaintext: string;
  key: string;
  privateKeyPemTestOnly: string;
  ciphertext: { base64: string; hex: string; base64url_mps?: string };
}

const primitives = JSON.parse(
  readFileSync(new URL('../../../shared/vectors/primitives.json', import.meta.url), 'utf8'),
) as { vectors: (RsaVector & { algorithm: string })[] };
const sha256Vectors = primitives.vectors.filter((v) => v.name.startsWith('rsa-2048-pkcs1v15-sha256'));
const sha1Vectors = primitives.vectors.filter((v) => v.name.startsWith('rsa-2048-pkcs1v15-sha1'));

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('RSA vectors from primitives.json (Java, OpenSSL, Python cross-checked)', () => {
  it('the shared file holds 3 SHA-256 and 3 SHA-1 RSA vectors', () => {
    expect(sha256Vectors).toHaveLength(3);
    expect(sha1Vectors).toHaveLength(3);
  });

  for (const v of sha256Vectors) {
    it(`${v.name}: verifies as standard base64, URL-safe-with-padding (MPS) and unpadded base64url`, async () => {
      const sig = fromBase64(v.ciphertext.base64);
      expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64, v.key)).toBe(true);
      expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64url_mps!, v.key)).toBe(true);
      expect(await verifyRsaSha256(v.plaintext, toBase64Url(sig), v.key)).toBe(true);
      expect(toBase64Url(sig)).not.toContain('=');
      expect(await verifyRsa(utf8(v.plaintext), sig, v.key, 'SHA-256')).toBe(true);
    });

    it(`${v.name}: signRsaSha256 with the test private key reproduces the exact MPS signature text`, async () => {
      expect(await signRsaSha256(v.plaintext, v.privateKeyPemTestOnly)).toBe(v.ciphertext.base64url_mps);
    });

    it(`${v.name}: one flipped bit in the data or in the signature fails`, async () => {
      const data = utf8(v.plaintext);
      const sig = fromBase64(v.ciphertext.base64);
      // The empty-plaintext vector has no bit to flip; a one-byte message stands in.
      const changed = data.length ? flipBit(data, 5) : Uint8Array.of(0);
      expect(await verifyRsa(changed, sig, v.key, 'SHA-256')).toBe(false);
      for (const bit of [0, 1000, sig.length * 8 - 1]) {
        expect(await verifyRsa(data, flipBit(sig, bit), v.key, 'SHA-256')).toBe(false);
        expect(await verifyRsaSha256(v.plaintext, toBase64(flipBit(sig, bit)), v.key)).toBe(false);
      }
    });
  }

  for (const v of sha1Vectors) {
    it(`${v.name}: verifies with verifyRsa SHA-1, and not as SHA-256`, async () => {
      const sig = fromBase64(v.ciphertext.base64);
      expect(await verifyRsa(v.plaintext, sig, v.key, 'SHA-1')).toBe(true);
      expect(await verifyRsa(v.plaintext, sig, v.key, 'SHA-256')).toBe(false);
      expect(await verifyRsa(v.plaintext, flipBit(sig, 77), v.key, 'SHA-1')).toBe(false);
      expect(await verifyRsa(v.plaintext + ' ', sig, v.key, 'SHA-1')).toBe(false);
    });

    it(`${v.name}: signRsa SHA-1 reproduces the vector's bytes (PKCS#1 v1.5 is deterministic)`, async () => {
      expect(await signRsa(v.plaintext, v.privateKeyPemTestOnly, 'SHA-1')).toEqual(fromHex(v.ciphertext.hex));
    });
  }
});

describe('PEM import', () => {
  const v = sha256Vectors[0];
  const pkcs1Private = createPrivateKey(v.privateKeyPemTestOnly).export({ type: 'pkcs1', format: 'pem' }) as string;
  const pkcs1Public = createPublicKey(v.key).export({ type: 'pkcs1', format: 'pem' }) as string;

  it('PKCS#1 "RSA PRIVATE KEY" / "RSA PUBLIC KEY" PEMs are wrapped and give the same signatures', async () => {
    expect(pkcs1Private).toContain('-----BEGIN RSA PRIVATE KEY-----');
    expect(pkcs1Public).toContain('-----BEGIN RSA PUBLIC KEY-----');
    expect(await signRsaSha256(v.plaintext, pkcs1Private)).toBe(v.ciphertext.base64url_mps);
    expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64, pkcs1Public)).toBe(true);
  });

  it('bare base64 keys without PEM armour (as Java consoles print them) import, SPKI and PKCS#1 alike', async () => {
    const bare = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64, bare(v.key))).toBe(true);
    expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64, bare(pkcs1Public))).toBe(true);
    expect(await signRsaSha256(v.plaintext, bare(pkcs1Private))).toBe(v.ciphertext.base64url_mps);
    expect(await signRsaSha256(v.plaintext, bare(v.privateKeyPemTestOnly))).toBe(v.ciphertext.base64url_mps);
  });

  it('CRLF line endings and surrounding text in the PEM are tolerated', async () => {
    const crlf = `key from the console:\r\n${v.key.replace(/\n/g, '\r\n')}\r\n`;
    expect(await verifyRsaSha256(v.plaintext, v.ciphertext.base64, crlf)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['not base64', '-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----'],
    ['a private key where a public one belongs', sha256Vectors[0].privateKeyPemTestOnly],
    ['a certificate label', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'],
    ['valid base64 that is no key', '-----BEGIN PUBLIC KEY-----\nMBQGCCqGSIb3DQMHBAgAAAAAAAAAAA==\n-----END PUBLIC KEY-----'],
  ])('a malformed public PEM (%s) throws BAD_CONFIG naming the key option', async (_what, pem) => {
    const err = await verifyRsaSha256('x', v.ciphertext.base64, pem).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('BAD_CONFIG');
    expect((err as RpcError).details?.option).toBe('publicKeyPem');
    expect((err as RpcError).message).toMatch(/^publicKeyPem: /);
  });

  it('an encrypted PKCS#8 key ("ENCRYPTED PRIVATE KEY") is BAD_CONFIG saying to decrypt it first, not "wrong label"', async () => {
    const encrypted = createPrivateKey(v.privateKeyPemTestOnly).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(encrypted).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    const err = (await signRsaSha256('x', encrypted).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toMatch(/^privateKeyPem: encrypted keys are not supported; decrypt it first/);
  });

  it('a malformed private PEM throws BAD_CONFIG naming privateKeyPem, without echoing the key', async () => {
    const err = (await signRsaSha256('x', v.key).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.details?.option).toBe('privateKeyPem');
    expect(err.message).not.toContain('MIIB');
  });
});

describe('malformed signatures return false, never throw', () => {
  const v = sha256Vectors[1];
  it.each([
    ['empty', ''],
    ['not base64', '***'],
    ['bad length', 'abcde'],
    ['mixed alphabets', v.ciphertext.base64.slice(0, 10) + '-_' + v.ciphertext.base64.slice(12)],
    ['truncated', v.ciphertext.base64.slice(0, 100)],
    ['one byte too long', toBase64(Uint8Array.of(...fromBase64(v.ciphertext.base64), 0))],
    ['a signature of the modulus size that is all 0xff', toBase64(new Uint8Array(256).fill(255))],
  ])('%s', async (_what, sig) => {
    expect(await verifyRsaSha256(v.plaintext, sig, v.key)).toBe(false);
  });

  it('decodeSignatureText reads the three forms to the same bytes', () => {
    const raw = fromBase64(v.ciphertext.base64);
    expect(decodeSignatureText(v.ciphertext.base64)).toEqual(raw);
    expect(decodeSignatureText(v.ciphertext.base64url_mps!)).toEqual(raw);
    expect(decodeSignatureText(toBase64Url(raw))).toEqual(raw);
  });

  it('a signature text that is not canonical (stray low bits in its last character) is refused: one signature has one spelling per form', async () => {
    const b = v.ciphertext.base64; // 256 bytes: "…X==", X carries 4 unused bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const x = alphabet.indexOf(b[b.length - 3]);
    expect(x & 15).toBe(0);
    for (let low = 1; low < 16; low++) {
      const stray = b.slice(0, -3) + alphabet[x | low] + '==';
      expect(decodeSignatureText(stray), stray.slice(-4)).toBeNull();
      expect(decodeSignatureText(stray.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))).toBeNull();
      expect(await verifyRsaSha256(v.plaintext, stray, v.key)).toBe(false);
    }
    expect(await verifyRsaSha256(v.plaintext, b, v.key)).toBe(true);
  });

  it('verifyRsa with an empty byte signature is false', async () => {
    expect(await verifyRsa(v.plaintext, new Uint8Array(0), v.key, 'SHA-256')).toBe(false);
  });
});

describe('Wycheproof rsa_signature_2048_sha256_test.json', () => {
  interface WTest { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable'; flags: string[] }
  const file = JSON.parse(
    readFileSync(new URL('../../../shared/vectors/wycheproof/rsa_signature_2048_sha256_test.json', import.meta.url), 'utf8'),
  ) as { numberOfTests: number; testGroups: { publicKeyDer: string; sha: string; tests: WTest[] }[] };

  const pem = (derHex: string) =>
    `-----BEGIN PUBLIC KEY-----\n${toBase64(fromHex(derHex)).match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;

  it('accepts every valid case and refuses every invalid one', async () => {
    const counts = { valid: 0, invalid: 0, acceptable: 0, acceptableAccepted: 0 };
    const wrong: string[] = [];
    for (const g of file.testGroups) {
      expect(g.sha).toBe('SHA-256');
      const key = pem(g.publicKeyDer);
      for (const t of g.tests) {
        const ok = await verifyRsa(fromHex(t.msg), fromHex(t.sig), key, 'SHA-256');
        counts[t.result]++;
        if (t.result === 'acceptable') {
          if (ok) counts.acceptableAccepted++;
        } else if (ok !== (t.result === 'valid')) {
          wrong.push(`tcId ${t.tcId} (${t.result}, ${t.flags.join(',')}) gave ${ok}`);
        }
      }
    }
    console.log(`wycheproof RSA PKCS#1 SHA-256: ${counts.valid} valid accepted, ${counts.invalid} invalid refused, ` +
      `${counts.acceptable} acceptable (${counts.acceptableAccepted} accepted)`);
    expect(wrong).toEqual([]);
    expect(counts.valid + counts.invalid + counts.acceptable).toBe(file.numberOfTests);
    expect(counts).toMatchObject({ valid: 9, invalid: 249, acceptable: 1 });
  });
});

describe('without crypto.subtle (insecure http:/file: pages)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('RSA signing and verification throw the typed CRYPTO_UNAVAILABLE error (there is no pure-JS RSA)', async () => {
    const v = sha256Vectors[0];
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: real.getRandomValues.bind(real) });
    for (const p of [
      verifyRsaSha256(v.plaintext, v.ciphertext.base64, v.key),
      signRsaSha256(v.plaintext, v.privateKeyPemTestOnly),
      verifyRsa(v.plaintext, fromBase64(v.ciphertext.base64), v.key, 'SHA-1'),
    ]) {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe('CRYPTO_UNAVAILABLE');
    }
  });
});

describe('what is signed must be the raw text or bytes', () => {
  const v = sha256Vectors[0];
  const parsed = { msgId: 'console_1', pushSuccess: true, statusCode: '2' }; // e.g. express.json()'s req.body

  it('verifyPushCallback given a parsed JSON object is BAD_CONFIG naming body, never true (it was read as the empty message)', async () => {
    const overEmpty = await signRsaSha256('', v.privateKeyPemTestOnly);
    const err = (await verifyPushCallback(parsed as never, overEmpty, v.key).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.details?.option).toBe('body');
    // The raw body as bytes is fine: a Uint8Array, or the ArrayBuffer of `await request.arrayBuffer()`.
    expect(await verifyPushCallback(utf8(v.plaintext), v.ciphertext.base64url_mps!, v.key)).toBe(true);
    expect(await verifyPushCallback(utf8(v.plaintext).buffer as never, v.ciphertext.base64url_mps!, v.key)).toBe(true);
    expect(await verifyRsa(utf8(v.plaintext).buffer as never, fromBase64(v.ciphertext.base64), v.key, 'SHA-256')).toBe(true);
  });

  it.each([
    ['an object', { msgId: 'console_1' }],
    ['a number (was n zero bytes)', 4],
    ['an array (was its elements as bytes)', [104, 105]],
    ['null', null],
  ])('signRsaSha256 / verifyRsa of %s is BAD_CONFIG naming data, not a signature over other bytes', async (_what, data) => {
    for (const attempt of [signRsaSha256(data as never, v.privateKeyPemTestOnly), verifyRsa(data as never, fromBase64(v.ciphertext.base64), v.key, 'SHA-256')]) {
      const err = (await attempt.catch((e: unknown) => e)) as RpcError;
      expect(err).toBeInstanceOf(RpcError);
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.details?.option).toBe('data');
    }
  });
});
