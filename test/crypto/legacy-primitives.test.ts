// The legacy dialects' own primitives: AES-ECB on a prepared key (our block function,
// src/crypto/aes-block.ts, over a schedule expanded once; large decryptions through
// WebCrypto's AES-CBC), MD5 and SHA-1 (src/crypto/legacy-hash.ts). Expected bytes come from node:crypto (OpenSSL) and RFC 1321, never from the code under
// test. Runs on every engine project: WebCrypto, no crypto.subtle, and node:crypto.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex, utf8Encode } from '../../src/codec/index.js';
import { DecryptError, ecbDecrypt, ecbDecryptAll, ecbEncrypt, ecbEncryptTo, ecbKey } from '../../src/crypto/aes.js';
import { decryptBlocks, decryptionKey, encryptBlocks, expandKey } from '../../src/crypto/aes-block.js';
import { md5, sha1 } from '../../src/crypto/digest.js';
import { native } from '../../src/crypto/provider.js';

function opensslEcb(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** ECB of raw blocks with the padding chosen by the test (OpenSSL without its own padding). */
function opensslEcbRaw(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(blocks), c.final()]));
}

// Lengths around block edges, and past the 4096-byte point where decryption moves to WebCrypto.
const LENGTHS = [0, 1, 15, 16, 17, 31, 32, 100, 4079, 4080, 4095, 4096, 4097, 20_000, 70_001];

describe('the AES block function (aes-block.ts)', () => {
  const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
  const words = (b: Uint8Array) => new Int32Array(b.slice().buffer);
  // FIPS-197 Appendix C: plaintext 00112233…ff under keys 000102…
  const FIPS197 = [
    ['000102030405060708090a0b0c0d0e0f', '69c4e0d86a7b0430d8cdb78070b4c55a'],
    ['000102030405060708090a0b0c0d0e0f1011121314151617', 'dda97ca4864cdfe06eaf70a0ec0d7191'],
    ['000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '8ea2b7ca516745bfeafc49904b496089'],
  ];
  for (const [key, ct] of FIPS197) {
    it(`FIPS-197 appendix C, AES-${key.length * 4}: encrypts 00112233…ff to ${ct.slice(0, 8)}… and decrypts it back`, () => {
      const w = expandKey(hex(key));
      const x = words(hex('00112233445566778899aabbccddeeff'));
      encryptBlocks(w, x);
      expect(Buffer.from(x.buffer).toString('hex')).toBe(ct);
      decryptBlocks(decryptionKey(w), x);
      expect(Buffer.from(x.buffer).toString('hex')).toBe('00112233445566778899aabbccddeeff');
    });
  }

  it('decrypts OpenSSL’s ECB ciphertext of 1–64 random blocks under 300 random keys of each size', () => {
    for (const keyLen of [16, 24, 32]) {
      for (let i = 0; i < 300; i++) {
        const raw = new Uint8Array(randomBytes(keyLen));
        const blocks = new Uint8Array(randomBytes(16 * (1 + (i % 64))));
        const x = words(opensslEcbRaw(raw, blocks));
        decryptBlocks(decryptionKey(expandKey(raw)), x);
        expect(toHex(new Uint8Array(x.buffer)), `AES-${keyLen * 8}, key ${i}`).toBe(toHex(blocks));
      }
    }
  });
});

describe('AES-ECB on a prepared key', () => {
  for (const keyLen of [16, 24, 32]) {
    it(`AES-${keyLen * 8}: ecbEncrypt equals OpenSSL and ecbDecrypt inverts it, at ${LENGTHS.length} lengths from 0 to 70,001 bytes`, async () => {
      const raw = new Uint8Array(randomBytes(keyLen));
      const k = ecbKey(raw);
      for (const n of LENGTHS) {
        const pt = new Uint8Array(randomBytes(n));
        const ct = ecbEncrypt(k, pt);
        expect(toHex(ct), `encrypt, ${n} bytes`).toBe(toHex(opensslEcb(raw, pt)));
        expect(toHex(await ecbDecrypt(k, ct)), `decrypt, ${n} bytes`).toBe(toHex(pt));
      }
    });
  }

  it('ecbEncryptTo equals OpenSSL over the UTF-8 bytes: ASCII of every length 0–300 and 5,000, and text with é, 中, 😀 or a lone surrogate, given as text or as bytes, one after another through its reused buffer', () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    const texts: string[] = [];
    for (let n = 0; n <= 300; n++) texts.push(Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 13) % 95))).join(''));
    texts.push('x'.repeat(5000));
    for (const x of ['é', '中', '😀', '\ud800']) for (const n of [0, 10, 200]) texts.push('a'.repeat(n) + x + 'b'.repeat(n));
    for (const t of [...texts, ...texts.reverse()]) {
      const expected = toHex(opensslEcb(raw, new Uint8Array(Buffer.from(t, 'utf8'))));
      expect(ecbEncryptTo(k, t, toHex), JSON.stringify(t.slice(0, 20)) + ` (${t.length})`).toBe(expected);
      expect(ecbEncryptTo(k, utf8Encode(t), toHex), `bytes of ${JSON.stringify(t.slice(0, 20))}`).toBe(expected);
    }
  });

  it('a prepared key is reused: the same key object seals 1,000 different messages correctly', () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    for (let i = 0; i < 1000; i++) {
      const pt = utf8Encode('message ' + i + ' ' + 'x'.repeat(i % 40));
      expect(toHex(ecbEncrypt(k, pt))).toBe(toHex(opensslEcb(raw, pt)));
    }
  });

  it('ecbKey copies the key: changing the caller’s bytes afterwards changes nothing', () => {
    const raw = new Uint8Array(randomBytes(16));
    const expected = toHex(opensslEcb(raw, utf8Encode('abc')));
    const k = ecbKey(raw);
    raw.fill(0);
    expect(toHex(ecbEncrypt(k, utf8Encode('abc')))).toBe(expected);
  });

  it('bad padding, a wrong length or an empty input is a DecryptError on both the small and the large (WebCrypto) path', async () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    for (const blocks of [1, 300]) {
      const body = new Uint8Array(randomBytes(blocks * 16 - 16));
      // Last blocks that decrypt to: pad 0, pad 17, pad 2 over a byte that is not 2, pad 16 with one byte off.
      const lasts = [
        new Uint8Array(16),
        new Uint8Array(16).fill(17),
        Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 2 : i === 14 ? 3 : 0)),
        Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 15 : 16)),
      ];
      for (const last of lasts) {
        const ct = opensslEcbRaw(raw, new Uint8Array([...body, ...last]));
        await expect(ecbDecrypt(k, ct), `${blocks} blocks, last ${toHex(last)}`).rejects.toBeInstanceOf(DecryptError);
      }
      // And the good padding of the same shape opens.
      const good = opensslEcbRaw(raw, new Uint8Array([...body, ...new Uint8Array(16).fill(16)]));
      expect((await ecbDecrypt(k, good)).length).toBe(body.length);
    }
    await expect(ecbDecrypt(k, new Uint8Array(0))).rejects.toBeInstanceOf(DecryptError);
    await expect(ecbDecrypt(k, new Uint8Array(4100))).rejects.toBeInstanceOf(DecryptError);
    await expect(ecbDecrypt(k, new Uint8Array(17))).rejects.toBeInstanceOf(DecryptError);
  });

  it('20 large decryptions in flight at once, with text encryptions between them, under different keys: each opens to its own plaintext and each ciphertext equals OpenSSL’s', async () => {
    const cases = Array.from({ length: 20 }, (_, i) => {
      const raw = new Uint8Array(randomBytes(i % 2 ? 32 : 16));
      const pt = new Uint8Array(randomBytes(4096 + 997 * i));
      return { raw, pt, ct: opensslEcb(raw, pt) };
    });
    const texts: [string, string][] = [];
    const opened = cases.map((c, i) => {
      const p = ecbDecrypt(ecbKey(c.raw), c.ct);
      // Reuses the buffer the decryption just handed to WebCrypto.
      const text = 'x'.repeat(5000 + i);
      texts.push([ecbEncryptTo(ecbKey(c.raw), text, toHex), toHex(opensslEcb(c.raw, utf8Encode(text)))]);
      return p;
    });
    const out = await Promise.all(opened);
    out.forEach((p, i) => expect(toHex(p), `case ${i}`).toBe(toHex(cases[i].pt)));
    for (const [got, want] of texts) expect(got).toBe(want);
  });

  it('ecbDecrypt leaves its input as it was, unless told it may consume it (then a small input is decrypted where it is); both give OpenSSL’s plaintext', async () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    for (const n of [0, 15, 16, 100, 1000]) {
      const pt = new Uint8Array(randomBytes(n));
      const ct = opensslEcb(raw, pt);
      const kept = ct.slice();
      expect(toHex(await ecbDecrypt(k, kept)), `${n} bytes`).toBe(toHex(pt));
      expect(kept).toEqual(ct);
      const given = ct.slice();
      const out = await ecbDecrypt(k, given, true);
      expect(toHex(out), `${n} bytes, consumed`).toBe(toHex(pt));
      // In place on the JS path; node:crypto (where installed, from 512 bytes) returns its own buffer.
      const onNative = ct.length >= 512 && native() !== undefined;
      expect(out.buffer === given.buffer, `${n} bytes: in place`).toBe(!onNative);
      if (!onNative) expect(toHex(given.subarray(0, n))).toBe(toHex(pt));
    }
  });

  it('ecbDecryptAll opens several messages under one key (one native call on node:crypto) to OpenSSL’s plaintexts: 1–12 messages of 0–700 bytes, each key size', async () => {
    for (const keyLen of [16, 24, 32]) {
      const raw = new Uint8Array(randomBytes(keyLen));
      const k = ecbKey(raw);
      for (let count = 1; count <= 12; count++) {
        const pts = Array.from({ length: count }, (_, i) => new Uint8Array(randomBytes((i * 61 + count * 17) % 701)));
        const out = await ecbDecryptAll(k, pts.map((pt) => opensslEcb(raw, pt)));
        expect(out.map(toHex), `AES-${keyLen * 8}, ${count} messages`).toEqual(pts.map(toHex));
      }
    }
  });

  it('ecbDecryptAll is a DecryptError when any one message is: bad padding first, in the middle or last, a length that is not whole blocks, or an empty message', async () => {
    const raw = new Uint8Array(randomBytes(16));
    const k = ecbKey(raw);
    const good = () => opensslEcb(raw, new Uint8Array(randomBytes(40)));
    const badPad = () => opensslEcbRaw(raw, new Uint8Array(32).fill(17));
    for (const at of [0, 3, 6]) {
      const list = Array.from({ length: 7 }, (_, i) => (i === at ? badPad() : good()));
      await expect(ecbDecryptAll(k, list), `bad padding at ${at}`).rejects.toBeInstanceOf(DecryptError);
    }
    await expect(ecbDecryptAll(k, [good(), new Uint8Array(17), good()])).rejects.toBeInstanceOf(DecryptError);
    await expect(ecbDecryptAll(k, [good(), new Uint8Array(0), good()])).rejects.toBeInstanceOf(DecryptError);
    // The same good messages alone open.
    expect(await ecbDecryptAll(k, [good(), good(), good()])).toHaveLength(3);
  });

  it('ecbKey refuses a key that is not 16, 24 or 32 bytes', () => {
    for (const n of [0, 15, 17, 33]) expect(() => ecbKey(new Uint8Array(n))).toThrow(/16, 24 or 32/);
  });
});

describe('MD5', () => {
  it('RFC 1321 appendix A.5 test suite', () => {
    const suite: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a', '0cc175b9c0f1b6a831c399e269772661'],
      ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
      ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
    ];
    for (const [m, h] of suite) expect(toHex(md5(utf8Encode(m))), JSON.stringify(m)).toBe(h);
  });

  it('equals OpenSSL’s MD5 at every length from 0 to 300 bytes (every padding case) and at 1 MB + 3', () => {
    for (let n = 0; n <= 300; n++) {
      const d = new Uint8Array(randomBytes(n));
      expect(toHex(md5(d)), `${n} bytes`).toBe(createHash('md5').update(d).digest('hex'));
    }
    const big = new Uint8Array(randomBytes(1024 * 1024 + 3));
    expect(toHex(md5(big))).toBe(createHash('md5').update(big).digest('hex'));
  });

  it('reads a view at an offset into a larger buffer correctly (no aligned-buffer assumption)', () => {
    const whole = new Uint8Array(randomBytes(1000));
    const view = whole.subarray(3, 777);
    expect(toHex(md5(view))).toBe(createHash('md5').update(view).digest('hex'));
  });

  it('hashes whole blocks in place from views at every offset 0–7 (aligned and not) and lengths around block ends, never reading past the view, and leaves the input as it was', () => {
    const whole = new Uint8Array(randomBytes(700));
    const before = whole.slice();
    for (let off = 0; off < 8; off++)
      for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 640]) {
        const view = whole.subarray(off, off + n);
        expect(toHex(md5(view)), `offset ${off}, ${n} bytes`).toBe(createHash('md5').update(view).digest('hex'));
      }
    expect(whole).toEqual(before);
  });
  it('MD5 of parts equals OpenSSL’s MD5 of the joined bytes: 400 random splits into 1–6 parts (empty ones, ones shorter than a block, ones spanning several), each at an offset 0–7 into its buffer', () => {
    let seed = 7;
    const next = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let t = 0; t < 400; t++) {
      const parts: Uint8Array[] = [];
      for (let i = 0, count = 1 + next(6); i < count; i++) {
        const n = [0, 1, 3, 4, 63, 64, 65, 100, 128, 200, 1000][next(11)];
        const off = next(8);
        parts.push(new Uint8Array(randomBytes(off + n + 3)).subarray(off, off + n));
      }
      const joined = Buffer.concat(parts);
      expect(toHex(md5(parts)), parts.map((p) => `${p.byteOffset}+${p.length}`).join(' ')).toBe(createHash('md5').update(joined).digest('hex'));
    }
  });
});

describe('SHA-1', () => {
  it('FIPS 180 examples: "abc", the 448-bit message, and one million "a"', () => {
    expect(toHex(sha1(utf8Encode('abc')))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(toHex(sha1(utf8Encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('84983e441c3bd26ebaae4aa1f95129e5e54670f1');
    expect(toHex(sha1(utf8Encode('a'.repeat(1_000_000))))).toBe('34aa973cd4c4daa4f61eeb2bdbad27316534016f');
  });

  it('equals OpenSSL’s SHA-1 at every length from 0 to 300 bytes and on a view at an offset', () => {
    for (let n = 0; n <= 300; n++) {
      const d = new Uint8Array(randomBytes(n));
      expect(toHex(sha1(d)), `${n} bytes`).toBe(createHash('sha1').update(d).digest('hex'));
    }
    const view = new Uint8Array(randomBytes(1000)).subarray(5, 905);
    expect(toHex(sha1(view))).toBe(createHash('sha1').update(view).digest('hex'));
  });
});
