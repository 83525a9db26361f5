/**
 * AES in the three modes the dialects use. GCM and CBC go through WebCrypto where it
 * exists and noble otherwise; ECB (Java's `Cipher.getInstance("AES")`) has no WebCrypto
 * form and always uses noble. PKCS#7 padding for ECB/CBC. GCM output is
 * `iv12 || ciphertext || tag16` with no AAD unless one is given.
 */
import { ecb } from '@noble/ciphers/aes.js';
import { concatBytes } from '../codec/bytes.js';
import { toHex } from '../codec/hex.js';
import { buf, native, pure, randomBytes, subtle } from './provider.js';

export type CipherName = 'AES-ECB' | 'AES-CBC' | 'AES-GCM';

/** Decryption failed: bad padding, bad tag, wrong length. Deliberately carries no detail. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError';
  constructor() {
    super('decryption failed');
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new TypeError('AES key must be 16, 24 or 32 bytes');
}

// Import each raw key once per mode and reuse the CryptoKey: importKey costs more than a small encrypt.
const keyCache = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_MAX = 64;

function importRaw(s: SubtleCrypto, name: 'AES-CBC' | 'AES-GCM', key: Uint8Array): Promise<CryptoKey> {
  const id = name + toHex(key);
  let k = keyCache.get(id);
  if (!k) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
    k = s.importKey('raw', buf(key), { name }, false, ['encrypt', 'decrypt']);
    keyCache.set(id, k);
  }
  return k;
}

/**
 * WebCrypto for this key, or undefined for the noble path: where `subtle` is missing, and
 * for raw 24-byte (AES-192) keys, which Chromium's WebCrypto refuses ("192-bit AES keys are
 * not supported") although the legacy dialects allow them.
 */
function subtleFor(key: CryptoKey | Uint8Array): SubtleCrypto | undefined {
  return key instanceof Uint8Array && key.length === 24 ? undefined : subtle();
}

/** An AES-GCM key: a (non-extractable) CryptoKey under WebCrypto, raw bytes on the noble path. */
export type GcmKey = CryptoKey | Uint8Array;

export async function importGcmKey(raw: Uint8Array): Promise<GcmKey> {
  checkKey(raw);
  const s = subtleFor(raw);
  if (!s) return raw.slice();
  return s.importKey('raw', buf(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

async function gcmKeyFor(key: GcmKey, s: SubtleCrypto): Promise<CryptoKey> {
  return key instanceof Uint8Array ? importRaw(s, 'AES-GCM', key) : key;
}

/** AES-GCM seal: returns `iv || ct || tag`. `iv` is 12 random bytes unless given. */
export async function gcmSeal(key: GcmKey, plaintext: Uint8Array, aad?: Uint8Array, iv: Uint8Array = randomBytes(12)): Promise<Uint8Array> {
  if (iv.length !== 12) throw new TypeError('GCM IV must be 12 bytes');
  const n = native();
  if (n) return concatBytes(iv, n.aes('gcm', false, key, plaintext, iv, aad));
  const s = subtleFor(key);
  if (s) {
    const params: AesGcmParams = { name: 'AES-GCM', iv: buf(iv), tagLength: 128 };
    if (aad) params.additionalData = buf(aad);
    const ct = await s.encrypt(params, await gcmKeyFor(key, s), buf(plaintext));
    return concatBytes(iv, new Uint8Array(ct));
  }
  if (!(key instanceof Uint8Array)) throw new TypeError('a CryptoKey needs crypto.subtle');
  const { gcm } = await pure();
  return concatBytes(iv, gcm(key, iv, aad).encrypt(plaintext));
}

/** AES-GCM open of `iv || ct || tag`. Throws DecryptError when it does not authenticate. */
export async function gcmOpen(key: GcmKey, sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < 28) throw new DecryptError();
  const iv = sealed.subarray(0, 12);
  const body = sealed.subarray(12);
  const n = native();
  if (n) {
    try {
      return n.aes('gcm', true, key, body, iv, aad);
    } catch {
      throw new DecryptError();
    }
  }
  const s = subtleFor(key);
  // Loaded outside the try: a chunk that fails to load is not a decryption failure.
  const engine = s ? undefined : await pure();
  try {
    if (s) {
      const params: AesGcmParams = { name: 'AES-GCM', iv: buf(iv.slice()), tagLength: 128 };
      if (aad) params.additionalData = buf(aad);
      return new Uint8Array(await s.decrypt(params, await gcmKeyFor(key, s), buf(body)));
    }
    if (!(key instanceof Uint8Array)) throw new TypeError('a CryptoKey needs crypto.subtle');
    return engine!.gcm(key, iv, aad).decrypt(body);
  } catch {
    throw new DecryptError();
  }
}

/** Encrypt with a raw key. CBC needs a 16-byte IV; GCM makes a random one unless given. */
export async function aesEncrypt(cipher: CipherName, key: Uint8Array, plaintext: Uint8Array, iv?: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  const n = native();
  if (cipher === 'AES-ECB') return n ? n.aes('ecb', false, key, plaintext) : ecb(key).encrypt(plaintext);
  if (cipher === 'AES-GCM') return gcmSeal(key, plaintext, undefined, iv);
  if (!iv || iv.length !== 16) throw new TypeError('CBC IV must be 16 bytes');
  if (n) return n.aes('cbc', false, key, plaintext, iv);
  const s = subtleFor(key);
  if (s) return new Uint8Array(await s.encrypt({ name: 'AES-CBC', iv: buf(iv) }, await importRaw(s, 'AES-CBC', key), buf(plaintext)));
  const { cbc } = await pure();
  return cbc(key, iv).encrypt(plaintext);
}

/** Decrypt with a raw key; any padding, tag or length failure is a DecryptError. */
export async function aesDecrypt(cipher: CipherName, key: Uint8Array, data: Uint8Array, iv?: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  if (cipher === 'AES-GCM') return gcmOpen(key, data);
  // A wrong IV is the caller's mistake, not a decryption failure: checked before the try.
  if (cipher === 'AES-CBC' && iv?.length !== 16) throw new TypeError('CBC IV must be 16 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw new DecryptError();
  const n = native();
  const s = subtleFor(key);
  // Loaded outside the try: a chunk that fails to load is not a decryption failure.
  const engine = cipher === 'AES-CBC' && !s && !n ? await pure() : undefined;
  try {
    if (cipher === 'AES-ECB') return n ? n.aes('ecb', true, key, data) : ecb(key).decrypt(data);
    if (n) return n.aes('cbc', true, key, data, iv!);
    if (s) return new Uint8Array(await s.decrypt({ name: 'AES-CBC', iv: buf(iv!) }, await importRaw(s, 'AES-CBC', key), buf(data)));
    return engine!.cbc(key, iv!).decrypt(data);
  } catch {
    throw new DecryptError();
  }
}
