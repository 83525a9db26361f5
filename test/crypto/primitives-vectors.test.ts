// The shared interop vectors (Java 17 / OpenSSL 3 / python-cryptography / CryptoJS) run
// through the SDK's own primitives, on both engines (WebCrypto and the pure-JS noble path).
import { createECDH, createHash, createHmac, createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8Decode, utf8Encode } from '../../src/codec/index.js';
import {
  aesDecrypt,
  aesEncrypt,
  deriveAesKey,
  digestHex,
  ecdhDerive,
  ecdhFromScalar,
  ecdsaSign,
  ecdsaVerify,
  ecSignKey,
  ecVerifyKey,
  evpBytesToKey,
  generateEcdh,
  hmacSha256,
  KEY_FROM,
  md5,
  sha1,
  sha256,
  type KeyFrom,
} from '../../src/crypto/index.js';

interface Vector {
  name: string;
  algorithm: string;
  plaintext: string;
  ciphertext: { base64: string; hex: string };
  key: string | null;
  keyHex?: string;
  derivedKeyHex?: string;
  derivedIvHex?: string;
  iv?: string;
  ivHex?: string;
  salt?: string;
  tagHex?: string;
}

const file = JSON.parse(readFileSync(new URL('../../../shared/vectors/primitives.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const all = file.vectors;
const isRsa = (v: Vector) => v.name.startsWith('rsa-');
const nonRsa = all.filter((v) => !isRsa(v));
const checked = new Set<string>();

/** Encrypt gives the exact base64 and hex text; decrypt gives the plaintext back. */
function expectWire(ct: Uint8Array, v: Vector): void {
  expect(toBase64(ct)).toBe(v.ciphertext.base64);
  expect(toHex(ct)).toBe(v.ciphertext.hex);
}

async function checkVector(v: Vector): Promise<void> {
  const pt = utf8Encode(v.plaintext);
  const key = v.key ?? '';
  if (/^aes-(128|256)-ecb-/.test(v.name)) {
    const k = await deriveAesKey(key, 'utf8');
    expect(toHex(k)).toBe(v.keyHex);
    expect(k.length * 8).toBe(Number(v.name.slice(4, 7)));
    expectWire(await aesEncrypt('AES-ECB', k, pt), v);
    expect(utf8Decode(await aesDecrypt('AES-ECB', k, fromBase64(v.ciphertext.base64)))).toBe(v.plaintext);
  } else if (v.name.startsWith('sha1prng-aes-128-ecb-')) {
    const k = await deriveAesKey(key, 'java-sha1prng');
    expect(toHex(k)).toBe(v.derivedKeyHex);
    expectWire(await aesEncrypt('AES-ECB', k, pt), v);
    expect(utf8Decode(await aesDecrypt('AES-ECB', k, fromHex(v.ciphertext.hex)))).toBe(v.plaintext);
  } else if (v.name.startsWith('aes-128-cbc-')) {
    const k = await deriveAesKey(key, 'utf8');
    const iv = utf8Encode(v.iv!);
    expect(toHex(k)).toBe(v.keyHex);
    expect(toHex(iv)).toBe(v.ivHex);
    expectWire(await aesEncrypt('AES-CBC', k, pt, iv), v);
    expect(utf8Decode(await aesDecrypt('AES-CBC', k, fromBase64(v.ciphertext.base64), iv))).toBe(v.plaintext);
  } else if (v.name.startsWith('cryptojs-passphrase-aes-256-cbc-')) {
    const salt = fromHex(v.salt!);
    const { key: k, iv } = evpBytesToKey(utf8Encode(key), salt);
    expect(toHex(k)).toBe(v.derivedKeyHex);
    expect(toHex(iv)).toBe(v.derivedIvHex);
    const body = await aesEncrypt('AES-CBC', k, pt, iv);
    expectWire(concatBytes(utf8Encode('Salted__'), salt, body), v);
    // Open as a CryptoJS reader would: header, salt, then the CBC body.
    const wire = fromBase64(v.ciphertext.base64);
    expect(utf8Decode(wire.subarray(0, 8))).toBe('Salted__');
    const again = evpBytesToKey(utf8Encode(key), wire.subarray(8, 16));
    expect(utf8Decode(await aesDecrypt('AES-CBC', again.key, wire.subarray(16), again.iv))).toBe(v.plaintext);
  } else if (v.name.startsWith('aes-256-gcm-')) {
    const k = await deriveAesKey(key, 'utf8');
    expect(toHex(k)).toBe(v.keyHex);
    const iv = fromHex(v.ivHex!);
    const sealed = await aesEncrypt('AES-GCM', k, pt, iv);
    // SDK output is iv || ct || tag; the vector's ciphertext is ct || tag.
    expect(toHex(sealed.subarray(0, 12))).toBe(v.ivHex);
    expectWire(sealed.subarray(12), v);
    expect(toHex(sealed.subarray(sealed.length - 16))).toBe(v.tagHex);
    expect(utf8Decode(await aesDecrypt('AES-GCM', k, concatBytes(iv, fromBase64(v.ciphertext.base64))))).toBe(v.plaintext);
  } else if (v.name.startsWith('md5-')) {
    expectWire(md5(pt), v);
    expect(await digestHex('md5', v.plaintext)).toBe(v.ciphertext.hex);
  } else if (v.name.startsWith('hmac-sha256-')) {
    expectWire(await hmacSha256(utf8Encode(key), pt), v);
    expect(await digestHex('hmac-sha256', v.plaintext, key)).toBe(v.ciphertext.hex);
  } else {
    throw new Error(`no check for vector ${v.name}`);
  }
  checked.add(v.name);
}

describe('primitives.json interop vectors', () => {
  // The file holds 30 vectors: 6 RSA (PKCS#1 v1.5 SHA-256/SHA-1, covered by the RSA suite) and 24 others.
  it('holds 30 vectors: 6 RSA (covered elsewhere) and 24 others', () => {
    expect(all).toHaveLength(30);
    expect(all.filter(isRsa)).toHaveLength(6);
    expect(nonRsa).toHaveLength(24);
  });

  for (const v of nonRsa) {
    it(`${v.name}: SDK output matches ${v.algorithm.split(' ')[0]} vector byte for byte, and reads it back`, async () => {
      await checkVector(v);
    });
  }

  it('exercised every one of the 24 non-RSA vectors, by name', () => {
    console.log(`primitives.json: ${checked.size} non-RSA vectors checked, ${all.length - nonRsa.length} RSA left to the RSA suite`);
    expect([...checked].sort()).toEqual(nonRsa.map((v) => v.name).sort());
    expect(checked.size).toBe(24);
  });
});

describe('keyFrom options (PROTOCOLS.md "Common options") against node:crypto', () => {
  const hash = (alg: string, s: string) => new Uint8Array(createHash(alg).update(s, 'utf8').digest());

  it('lists exactly the six documented keyFrom values', () => {
    expect([...KEY_FROM].sort()).toEqual(['base64', 'hex', 'java-sha1prng', 'md5', 'sha256', 'utf8']);
  });

  it('utf8 takes the raw UTF-8 bytes when they are 16, 24 or 32 long', async () => {
    for (const s of ['1234567890abcdef', '密钥Key1234567', 'x'.repeat(24), '中文密钥-0123456789abcdefghi', 'y'.repeat(32)]) {
      const k = await deriveAesKey(s, 'utf8');
      expect(toHex(k)).toBe(Buffer.from(s, 'utf8').toString('hex'));
      expect([16, 24, 32]).toContain(k.length);
    }
  });

  it('utf8 of any other byte length is a TypeError that does not reveal the secret', async () => {
    for (const s of ['', 'short-secret-15', 'seventeen-bytes!!', '中文密钥中文', 'z'.repeat(31), 'z'.repeat(33), 'z'.repeat(64)]) {
      const err = await deriveAesKey(s, 'utf8').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, `${Buffer.byteLength(s)} bytes`).toBeInstanceOf(TypeError);
      if (s.length > 0) expect((err as Error).message).not.toContain(s);
    }
  });

  it('hex decodes either case to 16/24/32 bytes; other sizes and bad text are TypeErrors', async () => {
    for (const n of [16, 24, 32]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + 11) & 255);
      const hex = Buffer.from(bytes).toString('hex');
      expect(toHex(await deriveAesKey(hex, 'hex'))).toBe(hex);
      expect(toHex(await deriveAesKey(hex.toUpperCase(), 'hex'))).toBe(hex);
    }
    for (const bad of ['00'.repeat(15), '00'.repeat(20), '0'.repeat(31), 'zz'.repeat(16)]) {
      await expect(deriveAesKey(bad, 'hex')).rejects.toBeInstanceOf(TypeError);
    }
  });

  it('base64 decodes to 16/24/32 bytes; other sizes and bad text are TypeErrors', async () => {
    for (const n of [16, 24, 32]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 53 + 200) & 255);
      const b64 = Buffer.from(bytes).toString('base64');
      expect(toHex(await deriveAesKey(b64, 'base64'))).toBe(Buffer.from(bytes).toString('hex'));
    }
    for (const bad of [Buffer.alloc(15).toString('base64'), Buffer.alloc(20).toString('base64'), '!!!!'.repeat(6)]) {
      await expect(deriveAesKey(bad, 'base64')).rejects.toBeInstanceOf(TypeError);
    }
  });

  it('md5 is the 16 bytes of MD5(UTF-8 secret), for a secret of any length', async () => {
    for (const s of ['', 'a', 'appSecret-123', '中文密钥', 'q'.repeat(100)]) {
      const k = await deriveAesKey(s, 'md5');
      expect(k).toHaveLength(16);
      expect(toHex(k)).toBe(toHex(hash('md5', s)));
    }
  });

  it('sha256 is the 32 bytes of SHA-256(UTF-8 secret)', async () => {
    for (const s of ['', 'a', 'appSecret-123', '中文密钥', 'q'.repeat(100)]) {
      const k = await deriveAesKey(s, 'sha256');
      expect(k).toHaveLength(32);
      expect(toHex(k)).toBe(toHex(hash('sha256', s)));
    }
  });

  it('java-sha1prng is the first 16 bytes of SHA1(SHA1(UTF-8 secret))', async () => {
    for (const s of ['', 'password', 'appSecret-123', '中文密钥', 'q'.repeat(100)]) {
      const inner = createHash('sha1').update(s, 'utf8').digest();
      const expected = createHash('sha1').update(inner).digest().subarray(0, 16);
      const k = await deriveAesKey(s, 'java-sha1prng');
      expect(toHex(k)).toBe(expected.toString('hex'));
    }
  });

  it('an unknown keyFrom is a TypeError', async () => {
    await expect(deriveAesKey('1234567890abcdef', 'raw' as KeyFrom)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('evpBytesToKey (CryptoJS / OpenSSL passphrase KDF)', () => {
  it('matches OpenSSL EVP_BytesToKey(MD5, 1 iteration) computed with node:crypto, for several key/iv sizes', () => {
    const ref = (pass: Buffer, salt: Buffer, n: number) => {
      const parts: Buffer[] = [];
      let prev = Buffer.alloc(0);
      while (Buffer.concat(parts).length < n) {
        prev = createHash('md5').update(Buffer.concat([prev, pass, salt])).digest();
        parts.push(prev);
      }
      return Buffer.concat(parts).subarray(0, n);
    };
    const salt = Buffer.from('0011223344556677', 'hex');
    for (const [kl, il] of [[32, 16], [16, 16], [24, 16], [32, 0], [16, 0]] as const) {
      for (const p of ['', 'my passphrase', '中文口令']) {
        const pass = Buffer.from(p, 'utf8');
        const { key, iv } = evpBytesToKey(new Uint8Array(pass), new Uint8Array(salt), kl, il);
        const expected = ref(pass, salt, kl + il);
        expect(key).toHaveLength(kl);
        expect(iv).toHaveLength(il);
        expect(toHex(key) + toHex(iv)).toBe(expected.toString('hex'));
      }
    }
  });
});

describe('digests and HMAC against node:crypto', () => {
  const inputs = ['', 'a', 'hello world', '中文', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'y'.repeat(1000)];

  it('md5, sha1, sha256 and digestHex match createHash for edge-length inputs', async () => {
    for (const m of inputs) {
      const b = utf8Encode(m);
      for (const alg of ['md5', 'sha1', 'sha256'] as const) {
        const want = createHash(alg).update(m, 'utf8').digest('hex');
        const got = alg === 'md5' ? md5(b) : alg === 'sha1' ? sha1(b) : await sha256(b);
        expect(toHex(got), `${alg} of ${m.length} chars`).toBe(want);
        expect(await digestHex(alg, m)).toBe(want);
      }
    }
  });

  it('hmacSha256 matches createHmac for empty, short, block-size and over-long keys (an empty key works on both engines)', async () => {
    for (const key of ['', 'k', 'secret', '中文密钥', 'k'.repeat(64), 'k'.repeat(65), 'k'.repeat(200)]) {
      for (const m of inputs) {
        const want = createHmac('sha256', Buffer.from(key, 'utf8')).update(m, 'utf8').digest('hex');
        expect(toHex(await hmacSha256(utf8Encode(key), utf8Encode(m))), `key ${key.length} msg ${m.length}`).toBe(want);
        expect(await digestHex('hmac-sha256', m, key)).toBe(want);
      }
    }
    await expect(digestHex('hmac-sha256', 'm')).rejects.toBeInstanceOf(TypeError);
  });
});

describe('P-256 against node:crypto', () => {
  it('ecdsaSign output (r||s) verifies with node:crypto, and node:crypto signatures verify with ecdsaVerify', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const signer = await ecSignKey(pem);
    const vk = ecVerifyKey(spki);
    expect(toHex(signer.publicRaw)).toBe(toHex(vk.raw));
    for (const m of ['', 'issuance', '中文'.repeat(50)]) {
      const msg = utf8Encode(m);
      const sig = await ecdsaSign(signer, msg);
      expect(sig).toHaveLength(64);
      expect(createVerify('sha256').update(msg).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
      expect(await ecdsaVerify(vk, msg, sig)).toBe(true);
      const nodeSig = createSign('sha256').update(msg).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(await ecdsaVerify(vk, msg, new Uint8Array(nodeSig))).toBe(true);
      expect(await ecdsaVerify(vk, utf8Encode(m + '!'), new Uint8Array(nodeSig))).toBe(false);
      expect(await ecdsaVerify(vk, msg, sig.subarray(0, 63))).toBe(false);
    }
  });

  it('ecdhDerive agrees with node:crypto ECDH in both directions (fresh and fixed-scalar pairs)', async () => {
    for (let i = 0; i < 4; i++) {
      const node = createECDH('prime256v1');
      node.generateKeys();
      const mine = i % 2 === 0 ? await generateEcdh() : await ecdhFromScalar(new Uint8Array(createHash('sha256').update(`fixed scalar ${i}`).digest()));
      expect(mine.publicRaw).toHaveLength(65);
      const z = await ecdhDerive(mine, new Uint8Array(node.getPublicKey()));
      expect(toHex(z)).toBe(node.computeSecret(Buffer.from(mine.publicRaw)).toString('hex'));
    }
  });
});
