/**
 * How a secret string becomes AES key bytes (PROTOCOLS.md "Common options"), and HKDF.
 */
import { fromBase64 } from '../codec/base64.js';
import { fromHex } from '../codec/hex.js';
import { utf8Encode } from '../codec/utf8.js';
import { md5, sha1, sha256 } from './digest.js';
import { buf, pure, subtle } from './provider.js';

export type KeyFrom = 'utf8' | 'hex' | 'base64' | 'md5' | 'sha256' | 'java-sha1prng';

export const KEY_FROM: readonly KeyFrom[] = ['utf8', 'hex', 'base64', 'md5', 'sha256', 'java-sha1prng'];

/**
 * The key bytes a secret spells out directly (`utf8`, `hex`, `base64`), length unchecked;
 * undefined for the `keyFrom` values that hash the secret (any secret gives a key there).
 * Throws TypeError on bad hex or base64. Synchronous, so options can be checked at construction.
 */
export function spelledKey(secret: string, keyFrom: KeyFrom): Uint8Array | undefined {
  if (keyFrom === 'utf8') return utf8Encode(secret);
  if (keyFrom === 'hex') return fromHex(secret);
  if (keyFrom === 'base64') return fromBase64(secret);
  return undefined;
}

export const isAesKeyLength = (n: number): boolean => n === 16 || n === 24 || n === 32;

/**
 * Secret string -> AES key bytes. Throws TypeError naming the problem (never the secret)
 * when the result is not 16, 24 or 32 bytes.
 */
export async function deriveAesKey(secret: string, keyFrom: KeyFrom): Promise<Uint8Array> {
  switch (keyFrom) {
    case 'md5':
      return md5(utf8Encode(secret));
    case 'sha256':
      return sha256(utf8Encode(secret));
    case 'java-sha1prng':
      // KeyGenerator("AES", 128) + SecureRandom("SHA1PRNG").setSeed(secret): the first
      // output block of SHA1PRNG seeded once is SHA1(SHA1(seed)); the key is its first 16 bytes.
      return sha1(sha1(utf8Encode(secret))).slice(0, 16);
  }
  const k = KEY_FROM.includes(keyFrom) ? spelledKey(secret, keyFrom) : undefined;
  if (!k) throw new TypeError(`unknown keyFrom "${String(keyFrom)}"`);
  if (!isAesKeyLength(k.length)) throw new TypeError(`keyFrom "${keyFrom}" gives a ${k.length}-byte key; AES needs 16, 24 or 32`);
  return k;
}

/**
 * OpenSSL's EVP_BytesToKey with MD5 and one iteration, as CryptoJS uses for a passphrase
 * (`'Salted__' || salt8 || AES-256-CBC`): D_i = MD5(D_{i-1} || passphrase || salt), the
 * concatenation split into key then IV.
 */
export function evpBytesToKey(passphrase: Uint8Array, salt: Uint8Array, keyLen = 32, ivLen = 16): { key: Uint8Array; iv: Uint8Array } {
  const out = new Uint8Array(keyLen + ivLen);
  let prev: Uint8Array = new Uint8Array(0);
  for (let o = 0; o < out.length; o += prev.length) {
    const block = new Uint8Array(prev.length + passphrase.length + salt.length);
    block.set(prev, 0);
    block.set(passphrase, prev.length);
    block.set(salt, prev.length + passphrase.length);
    prev = md5(block);
    out.set(prev.subarray(0, Math.min(prev.length, out.length - o)), o);
  }
  return { key: out.slice(0, keyLen), iv: out.slice(keyLen) };
}

/** Largest HKDF-SHA256 output (RFC 5869: 255 * HashLen). */
const HKDF_SHA256_MAX = 255 * 32;

/**
 * HKDF-SHA256 (RFC 5869). Both engines give the same answer for every valid request:
 * lengths outside 0..8160 throw RangeError up front, and the edge cases some WebCrypto
 * implementations refuse (empty IKM, zero-length output) take the pure-JS path.
 */
export async function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX) {
    throw new RangeError(`HKDF-SHA256 output length must be an integer in 0..${HKDF_SHA256_MAX}`);
  }
  if (length === 0) return new Uint8Array(0);
  const s = subtle();
  if (s && ikm.length > 0) {
    const key = await s.importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
    return new Uint8Array(await s.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) }, key, length * 8));
  }
  const { hkdf, sha256: nobleSha256 } = await pure();
  return hkdf(nobleSha256, ikm, salt, info, length);
}
