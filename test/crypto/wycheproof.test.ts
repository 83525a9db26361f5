// Project Wycheproof vectors (../shared/vectors/wycheproof) against the SDK primitives, on
// both engines. Each file is one test that walks every case, collects the tcIds that went
// the wrong way, and asserts that list is empty and that the expected number of valid and
// invalid cases actually ran.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { concatBytes, constantTimeEqual, fromBase64Url, fromHex, toHex } from '../../src/codec/index.js';
import {
  aesDecrypt,
  aesEncrypt,
  DecryptError,
  ecdhDerive,
  ecdhFromScalar,
  ecdsaVerify,
  ecPublicKeyRaw,
  ecVerifyKey,
  gcmOpen,
  gcmSeal,
  hkdfSha256,
  hmacSha256,
} from '../../src/crypto/index.js';
import { decryptBlocks, decryptionKey, encryptBlocks, expandKey } from '../../src/crypto/aes-block.js';

type Result = 'valid' | 'invalid' | 'acceptable';
interface Case {
  tcId: number;
  comment: string;
  flags: string[];
  result: Result;
  [k: string]: unknown;
}
interface Group {
  tests: Case[];
  [k: string]: unknown;
}

function load(name: string): Group[] {
  const url = new URL(`../../../shared/vectors/wycheproof/${name}`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { testGroups: Group[] }).testGroups;
}

const h = (s: unknown) => fromHex(s as string);

/** Per-file tally plus the cases that went the wrong way. */
class Tally {
  valid = 0;
  invalid = 0;
  acceptable = 0;
  wrong: string[] = [];
  constructor(readonly file: string) {}
  count(c: Case): void {
    this[c.result]++;
  }
  fail(c: Case, why: string): void {
    this.wrong.push(`tc ${c.tcId} (${c.result}${c.comment ? ', ' + c.comment : ''}): ${why}`);
  }
  report(): void {
    console.log(`${this.file}: ${this.valid} valid, ${this.invalid} invalid, ${this.acceptable} acceptable cases run; ${this.wrong.length} wrong`);
  }
}

/** Resolves to the error, or to undefined if the promise fulfils. */
async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e ?? new Error('rejected with nothing');
  }
}

describe('Wycheproof vectors', () => {
  it('aes_gcm_test.json (96-bit IV, 128-bit tag): gcmOpen/gcmSeal accept every valid case byte for byte and refuse every invalid tag with DecryptError', async () => {
    const t = new Tally('aes_gcm_test.json');
    for (const g of load('aes_gcm_test.json')) {
      if (g.ivSize !== 96 || g.tagSize !== 128 || ![128, 192, 256].includes(g.keySize as number)) continue;
      for (const c of g.tests) {
        t.count(c);
        const key = h(c.key);
        const iv = h(c.iv);
        const aad = h(c.aad);
        const sealed = concatBytes(iv, h(c.ct), h(c.tag));
        if (c.result === 'valid') {
          try {
            const pt = await gcmOpen(key, sealed, aad);
            if (toHex(pt) !== c.msg) t.fail(c, 'open gave the wrong plaintext');
            const out = await gcmSeal(key, h(c.msg), aad, iv);
            if (toHex(out) !== toHex(sealed)) t.fail(c, 'seal gave the wrong iv||ct||tag');
          } catch (e) {
            t.fail(c, `threw ${String(e)}`);
          }
        } else if (c.result === 'invalid') {
          const err = await errorOf(gcmOpen(key, sealed, aad));
          if (!(err instanceof DecryptError)) t.fail(c, `open gave ${err === undefined ? 'a plaintext' : String(err)} instead of DecryptError`);
        }
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(116);
    expect(t.invalid).toBe(81);
  });

  it('gcmOpen: anything shorter than iv(12)+tag(16) is a DecryptError; exactly 28 bytes is an empty plaintext', async () => {
    const key = new Uint8Array(16).fill(7);
    const sealed = await gcmSeal(key, new Uint8Array(0));
    expect(sealed).toHaveLength(28);
    expect(await gcmOpen(key, sealed)).toHaveLength(0);
    for (let n = 0; n < 28; n++) await expect(gcmOpen(key, sealed.subarray(0, n))).rejects.toBeInstanceOf(DecryptError);
  });

  it('aes_cbc_pkcs5_test.json: AES-CBC encrypt/decrypt match every valid case, and every bad padding is a DecryptError', async () => {
    const t = new Tally('aes_cbc_pkcs5_test.json');
    for (const g of load('aes_cbc_pkcs5_test.json')) {
      for (const c of g.tests) {
        t.count(c);
        const key = h(c.key);
        const iv = h(c.iv);
        const ct = h(c.ct);
        if (c.result === 'valid') {
          try {
            if (toHex(await aesDecrypt('AES-CBC', key, ct, iv)) !== c.msg) t.fail(c, 'decrypt gave the wrong plaintext');
            if (toHex(await aesEncrypt('AES-CBC', key, h(c.msg), iv)) !== c.ct) t.fail(c, 'encrypt gave the wrong ciphertext');
          } catch (e) {
            t.fail(c, `threw ${String(e)}`);
          }
        } else if (c.result === 'invalid') {
          const err = await errorOf(aesDecrypt('AES-CBC', key, ct, iv));
          if (!(err instanceof DecryptError)) t.fail(c, `decrypt gave ${err === undefined ? 'a plaintext' : String(err)} instead of DecryptError`);
        }
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(72);
    expect(t.invalid).toBe(144);
  });

  it('aes_cbc_pkcs5_test.json through the AES block function behind AES-ECB (CBC chained here, PKCS#7 added here): every valid case byte for byte, both directions, at every key size', () => {
    const t = new Tally('aes_cbc_pkcs5_test.json (block function)');
    const words = (b: Uint8Array) => new Int32Array(b.slice().buffer);
    const bytes = (w: Int32Array) => new Uint8Array(w.buffer);
    const sizes = new Set<number>();
    for (const g of load('aes_cbc_pkcs5_test.json')) {
      for (const c of g.tests) {
        if (c.result !== 'valid') continue; // the padding check is unpad's, covered by the ECB tests
        t.count(c);
        sizes.add(g.keySize as number);
        const w = expandKey(h(c.key));
        const iv = h(c.iv);
        const msg = h(c.msg);
        const pad = 16 - (msg.length % 16);
        const plain = concatBytes(msg, new Uint8Array(pad).fill(pad));
        // Encrypt: C_i = E(P_i ^ C_(i-1)), C_0 = iv.
        const out = new Uint8Array(plain.length);
        let prev = iv;
        for (let o = 0; o < plain.length; o += 16) {
          const x = words(plain.subarray(o, o + 16).map((v, i) => v ^ prev[i]));
          encryptBlocks(w, x);
          out.set(bytes(x), o);
          prev = out.subarray(o, o + 16);
        }
        if (toHex(out) !== c.ct) t.fail(c, 'encryption gave the wrong ciphertext');
        // Decrypt all blocks at once, then P_i = D(C_i) ^ C_(i-1).
        const ct = h(c.ct);
        const d = words(ct);
        decryptBlocks(decryptionKey(w), d);
        const p = bytes(d).map((v, i) => v ^ (i < 16 ? iv[i] : ct[i - 16]));
        if (toHex(p) !== toHex(plain)) t.fail(c, 'decryption gave the wrong plaintext');
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(72);
    expect([...sizes].sort()).toEqual([128, 192, 256]);
  });

  it('ecdh_secp256r1_webcrypto_test.json: ecdhDerive gives the shared secret for every valid peer and refuses every invalid or wrong-curve peer', async () => {
    const t = new Tally('ecdh_secp256r1_webcrypto_test.json');
    /** JWK -> 65-byte uncompressed point; throws (= refused) if it is not a well-formed P-256 JWK. */
    const jwkToRaw = (jwk: JsonWebKey): Uint8Array => {
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new TypeError('not a P-256 JWK');
      const x = fromBase64Url(jwk.x);
      const y = fromBase64Url(jwk.y);
      if (x.length !== 32 || y.length !== 32) throw new TypeError('coordinates must be 32 bytes');
      return concatBytes(new Uint8Array([4]), x, y);
    };
    for (const g of load('ecdh_secp256r1_webcrypto_test.json')) {
      for (const c of g.tests) {
        t.count(c);
        const pub = c.public as JsonWebKey;
        const priv = c.private as JsonWebKey;
        if (c.result === 'valid') {
          try {
            const raw = jwkToRaw(pub);
            if (toHex(ecPublicKeyRaw(pub)) !== toHex(raw)) t.fail(c, 'ecPublicKeyRaw disagrees with the JWK');
            const pair = await ecdhFromScalar(fromBase64Url(priv.d!));
            if (toHex(pair.publicRaw) !== toHex(jwkToRaw(priv))) t.fail(c, 'own public key does not match the private JWK');
            const z = await ecdhDerive(pair, raw);
            if (toHex(z) !== c.shared) t.fail(c, 'wrong shared secret');
          } catch (e) {
            t.fail(c, `threw ${String(e)}`);
          }
        } else if (c.result === 'invalid') {
          // The SDK's own JWK reader must refuse it ...
          let sdkRaw: Uint8Array | undefined;
          try {
            sdkRaw = ecPublicKeyRaw(pub);
          } catch {
            /* refused */
          }
          if (sdkRaw) t.fail(c, 'ecPublicKeyRaw accepted the JWK');
          // ... and ecdhDerive must refuse the bare point even without that check.
          let raw: Uint8Array | undefined;
          try {
            raw = jwkToRaw(pub);
          } catch {
            /* conversion refused: counts as refused */
          }
          if (raw) {
            const pair = await ecdhFromScalar(fromBase64Url(priv.d!));
            const err = await errorOf(ecdhDerive(pair, raw));
            if (err === undefined) t.fail(c, 'ecdhDerive produced a shared secret');
          }
        }
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(330);
    expect(t.invalid).toBe(23);
  });

  it('ecdsa_secp256r1_sha256_p1363_test.json: ecdsaVerify is true for every valid r||s signature and false for every invalid one', async () => {
    const t = new Tally('ecdsa_secp256r1_sha256_p1363_test.json');
    for (const g of load('ecdsa_secp256r1_sha256_p1363_test.json')) {
      // A few groups carry no JWK; they are read from PEM. Every form present must give the same point.
      const jwk = g.publicKeyJwk as JsonWebKey | undefined;
      const pem = g.publicKeyPem as string;
      const uncompressed = (g.publicKey as { uncompressed: string }).uncompressed;
      const key = ecVerifyKey(jwk ?? pem);
      expect(toHex(key.raw)).toBe(uncompressed);
      if (jwk) expect(toHex(ecVerifyKey(jwk).raw)).toBe(uncompressed);
      expect(toHex(ecVerifyKey(pem).raw)).toBe(uncompressed);
      expect(toHex(ecVerifyKey(Buffer.from(g.publicKeyDer as string, 'hex').toString('base64')).raw)).toBe(uncompressed);
      for (const c of g.tests) {
        t.count(c);
        if (c.result === 'acceptable') continue;
        let ok: boolean | string;
        try {
          ok = await ecdsaVerify(key, h(c.msg), h(c.sig));
        } catch (e) {
          ok = `threw ${String(e)}`;
        }
        const want = c.result === 'valid';
        if (ok !== want) t.fail(c, `verify gave ${String(ok)}`);
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(173);
    expect(t.invalid).toBe(89);
  });

  it('hkdf_sha256_test.json: hkdfSha256 gives the exact okm for every valid case and refuses over-long output', async () => {
    const t = new Tally('hkdf_sha256_test.json');
    for (const g of load('hkdf_sha256_test.json')) {
      for (const c of g.tests) {
        t.count(c);
        const run = hkdfSha256(h(c.ikm), h(c.salt), h(c.info), c.size as number);
        if (c.result === 'valid') {
          try {
            const okm = await run;
            if (toHex(okm) !== c.okm) t.fail(c, 'wrong okm');
          } catch (e) {
            t.fail(c, `threw ${String(e)}`);
          }
        } else if (c.result === 'invalid') {
          const err = await errorOf(run);
          if (err === undefined) t.fail(c, `produced ${c.size as number} bytes`);
        }
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(83);
    expect(t.invalid).toBe(3);
  });

  it('hkdfSha256 edge cases (empty ikm/salt/info, size 0, 1, 8160) agree with node:crypto hkdfSync on both engines; bad sizes throw RangeError', async () => {
    const ikms = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(32).fill(0x0b), new Uint8Array(100).fill(0xaa)];
    const salts = [new Uint8Array(0), new Uint8Array(13).fill(2), new Uint8Array(100).fill(3)];
    const infos = [new Uint8Array(0), new Uint8Array(10).fill(0xf0)];
    let n = 0;
    for (const ikm of ikms)
      for (const salt of salts)
        for (const info of infos)
          for (const size of [0, 1, 32, 42, 8160]) {
            const expected = new Uint8Array(hkdfSync('sha256', ikm, salt, info, size));
            expect(toHex(await hkdfSha256(ikm, salt, info, size)), `ikm ${ikm.length} salt ${salt.length} info ${info.length} size ${size}`).toBe(toHex(expected));
            n++;
          }
    expect(n).toBe(120);
    for (const bad of [8161, -1, 1.5, Number.NaN]) {
      await expect(hkdfSha256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), bad)).rejects.toBeInstanceOf(RangeError);
    }
  });

  it('hmac_sha256_test.json (full 256-bit tags): hmacSha256 matches every valid tag and no invalid one, compared with constantTimeEqual', async () => {
    const t = new Tally('hmac_sha256_test.json');
    for (const g of load('hmac_sha256_test.json')) {
      if (g.tagSize !== 256) continue;
      for (const c of g.tests) {
        t.count(c);
        if (c.result === 'acceptable') continue;
        const mac = await hmacSha256(h(c.key), h(c.msg));
        const eq = constantTimeEqual(mac, h(c.tag));
        if (eq !== (c.result === 'valid')) t.fail(c, eq ? 'invalid tag matched' : 'valid tag did not match');
      }
    }
    t.report();
    expect(t.wrong).toEqual([]);
    expect(t.valid).toBe(33);
    expect(t.invalid).toBe(54);
  });
});
