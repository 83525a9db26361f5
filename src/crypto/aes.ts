/**
 * AES in the three modes the dialects use. GCM and CBC go through WebCrypto where it
 * exists and noble otherwise; ECB (Java's `Cipher.getInstance("AES")`) has no WebCrypto
 * form: it runs our block function (aes-block.ts) over a prepared key, except that large
 * decryptions borrow WebCrypto's AES-CBC (see ecbDecrypt). PKCS#7 padding for ECB/CBC.
 * GCM output is `iv12 || ciphertext || tag16` with no AAD unless one is given.
 */
import { concatBytes } from '../codec/bytes.js';
import { decryptBlocks, decryptionKey, encryptBlocks, expandKey } from './aes-block.js';
import { toHex } from '../codec/hex.js';
import { asciiInto, utf8Encode } from '../codec/utf8.js';
import { buf, keyNeedsSubtle, native, pure, randomBytes, subtle } from './provider.js';

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

/** AES-GCM seal: returns `iv || ct || tag`. `iv` is 12 random bytes unless given. */
export async function gcmSeal(key: GcmKey, plaintext: Uint8Array, aad?: Uint8Array, iv: Uint8Array = randomBytes(12)): Promise<Uint8Array> {
  return concatBytes(iv, await gcmEncrypt(key, plaintext, aad, iv));
}

/** AES-GCM encryption under a given 12-byte IV: `ct || tag` (the caller sends the IV). */
export async function gcmEncrypt(key: GcmKey, plaintext: Uint8Array, aad: Uint8Array | undefined, iv: Uint8Array): Promise<Uint8Array> {
  if (iv.length !== 12) throw new TypeError('GCM IV must be 12 bytes');
  const n = native();
  if (n) return n.aes('gcm', false, key, plaintext, iv, aad);
  const s = subtleFor(key);
  if (s) {
    const params: AesGcmParams = { name: 'AES-GCM', iv: buf(iv), tagLength: 128 };
    if (aad) params.additionalData = buf(aad);
    // A CryptoKey (the usual case) is used as it is: no extra await before the encryption.
    const k = key instanceof Uint8Array ? await importRaw(s, 'AES-GCM', key) : key;
    return new Uint8Array(await s.encrypt(params, k, buf(plaintext)));
  }
  if (!(key instanceof Uint8Array)) throw keyNeedsSubtle();
  const { gcm } = await pure();
  return gcm(key, iv, aad).encrypt(plaintext);
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
  // Outside the try: a chunk that fails to load, or a CryptoKey with no subtle, is not a decryption failure.
  if (!s && !(key instanceof Uint8Array)) throw keyNeedsSubtle();
  const engine = s ? undefined : await pure();
  try {
    if (s) {
      const params: AesGcmParams = { name: 'AES-GCM', iv: buf(iv.slice()), tagLength: 128 };
      if (aad) params.additionalData = buf(aad);
      return new Uint8Array(await s.decrypt(params, key instanceof Uint8Array ? await importRaw(s, 'AES-GCM', key) : key, buf(body)));
    }
    return engine!.gcm(key as Uint8Array, iv, aad).decrypt(body);
  } catch {
    throw new DecryptError();
  }
}

// ------------------------------------------------------------------ ECB with a prepared key

/**
 * @internal An AES key prepared for ECB: the legacy dialects make ~30 small ECB operations
 * per call under two keys, so each key schedule is expanded once, on first use.
 */
export interface EcbKey {
  readonly raw: Uint8Array;
  enc?: Int32Array;
  dec?: Int32Array;
}

export function ecbKey(raw: Uint8Array): EcbKey {
  checkKey(raw);
  return { raw: raw.slice() };
}

// The block function works on little-endian words: a big-endian engine swaps them around it.
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
function swapWords(w: Int32Array): void {
  if (!LE) for (let i = 0; i < w.length; i++) w[i] = (w[i] >>> 24) | ((w[i] >>> 8) & 0xff00) | ((w[i] & 0xff00) << 8) | (w[i] << 24);
}

/** ECB over the whole blocks of `b`, in place (`b` starts 4-byte aligned: the callers allocate it). */
function ecbBlocks(k: EcbKey, b: Uint8Array, decrypt: boolean): void {
  const w = new Int32Array(b.buffer, b.byteOffset, b.length >> 2);
  swapWords(w);
  if (decrypt) decryptBlocks((k.dec ??= decryptionKey((k.enc ??= expandKey(k.raw)))), w);
  else encryptBlocks((k.enc ??= expandKey(k.raw)), w);
  swapWords(w);
}

/** Above this many bytes ECB decryption goes to WebCrypto (see ecbDecrypt); below, one async hop costs more than the blocks. */
const SUBTLE_ECB_MIN = 4096;

/**
 * Below this many bytes the block function over the prepared key beats a node:crypto cipher
 * (whose creation costs ~3 µs): an app-secret call makes ~30 ECB operations on short values.
 */
const NATIVE_ECB_MIN = 512;

/** AES-ECB with PKCS#7 padding, synchronous. */
export function ecbEncrypt(k: EcbKey, plaintext: Uint8Array): Uint8Array {
  const n = plaintext.length >= NATIVE_ECB_MIN ? native() : undefined;
  if (n) return n.aes('ecb', false, k.raw, plaintext);
  const out = new Uint8Array((plaintext.length & ~15) + 16);
  out.set(plaintext);
  return padAndEncrypt(k, out, plaintext.length);
}

/** `out` holds `n` plaintext bytes and room for the padding (a whole block at most): pad, encrypt in place. */
function padAndEncrypt(k: EcbKey, out: Uint8Array, n: number): Uint8Array {
  out.fill(out.length - n, n);
  ecbBlocks(k, out, false);
  return out;
}

// One reused buffer for ECB work whose result is consumed at once (turned into text by
// ecbEncryptTo, or copied by WebCrypto in ecbDecrypt): in Chromium a fresh buffer of a few
// hundred KB costs more than the copy into it (~0.6 µs per KB: fresh pages, zeroing), and
// an app-secret call makes ~30 of these. It only ever holds ciphertext between uses.
let scratch = new Uint8Array(0);
const SCRATCH_MAX = 1 << 20;

function scratchOf(n: number): Uint8Array {
  if (n > SCRATCH_MAX) return new Uint8Array(n);
  if (scratch.length < n) scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(n, 2 * scratch.length)));
  return scratch.subarray(0, n);
}

/**
 * `encode(ecbEncrypt(k, plaintext))`, text as UTF-8, with the ciphertext in a reused buffer:
 * `encode` must not keep its argument (the legacy dialects turn each ciphertext into text at
 * once). ASCII text (most of what they encrypt: base64, hex, names) is written straight in.
 */
export function ecbEncryptTo<T>(k: EcbKey, plaintext: string | Uint8Array, encode: (ciphertext: Uint8Array) => T): T {
  if (((plaintext.length & ~15) + 16 >= NATIVE_ECB_MIN && native()) || plaintext.length > SCRATCH_MAX - 16)
    return encode(ecbEncrypt(k, typeof plaintext === 'string' ? utf8Encode(plaintext) : plaintext));
  if (typeof plaintext === 'string') {
    const out = scratchOf((plaintext.length & ~15) + 16);
    if (asciiInto(plaintext, out)) return encode(padAndEncrypt(k, out, plaintext.length));
    plaintext = utf8Encode(plaintext);
  }
  const out = scratchOf((plaintext.length & ~15) + 16);
  out.set(plaintext);
  return encode(padAndEncrypt(k, out, plaintext.length));
}

/** Strip PKCS#7 padding, reading every byte of the last block whatever it finds. */
function unpad(p: Uint8Array): Uint8Array {
  const pad = p[p.length - 1];
  let bad = (pad - 1) >>> 8 | (16 - pad) >>> 8; // pad outside 1..16
  for (let i = 1; i <= 16; i++) bad |= (i <= pad ? p[p.length - i] ^ pad : 0);
  if (bad !== 0) throw new DecryptError();
  return p.subarray(0, p.length - pad);
}

/**
 * AES-ECB decryption with PKCS#7 padding; throws DecryptError. Large inputs go to
 * WebCrypto's AES-CBC, which decrypts ECB blocks in parallel: CBC decryption under IV 0
 * gives D(C_i) ^ C_(i-1), so XOR-ing the previous ciphertext block back gives D(C_i). One
 * extra block X = E(C_n ^ 0x10…10) makes WebCrypto's own padding check pass and is dropped.
 * `consume`: `data` is the caller's to overwrite (freshly decoded), so a small one is
 * decrypted where it is instead of in a copy.
 */
export async function ecbDecrypt(k: EcbKey, data: Uint8Array, consume = false): Promise<Uint8Array> {
  if (data.length === 0 || data.length % 16 !== 0) throw new DecryptError();
  const n = data.length >= NATIVE_ECB_MIN ? native() : undefined;
  if (n) {
    try {
      return n.aes('ecb', true, k.raw, data);
    } catch {
      throw new DecryptError();
    }
  }
  const s = data.length >= SUBTLE_ECB_MIN ? subtleFor(k.raw) : undefined;
  if (s) {
    const last = data.slice(data.length - 16);
    for (let i = 0; i < 16; i++) last[i] ^= 16;
    const x = ecbEncrypt(k, last).subarray(0, 16);
    const cbcKey = await importRaw(s, 'AES-CBC', k.raw);
    // WebCrypto copies its input when called (before the first await): the scratch may be reused after.
    const input = scratchOf(data.length + 16);
    input.set(data);
    input.set(x, data.length);
    const p = new Uint8Array(await s.decrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, cbcKey, buf(input)));
    // p holds D(C_i) ^ C_(i-1) for every data block (the extra block's padding is already removed).
    const pw = new Uint32Array(p.buffer, 0, p.length >> 2);
    const c = (data.byteOffset & 3) === 0 ? data : data.slice();
    const cw = new Uint32Array(c.buffer, c.byteOffset, (data.length - 16) >> 2);
    for (let i = 0; i < cw.length; i++) pw[i + 4] ^= cw[i];
    return unpad(p);
  }
  const out = consume && (data.byteOffset & 3) === 0 ? data : data.slice();
  ecbBlocks(k, out, true);
  return unpad(out);
}

/**
 * AES-ECB decryption of several messages under one key (the gateway's short form values).
 * With a native engine: one call over all their blocks, which ECB leaves independent, instead
 * of a cipher per message (4-6x less CPU on node:crypto for an app-secret call's ~9 values).
 * Otherwise `ecbDecrypt` each. Every message is unpadded whatever the others give; throws
 * DecryptError if any fails. `datas` are the caller's to overwrite (freshly decoded).
 */
export async function ecbDecryptAll(k: EcbKey, datas: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const n = native();
  if (!n?.ecbBlocks || datas.length < 2) return Promise.all(datas.map((d) => ecbDecrypt(k, d, true)));
  let total = 0;
  for (const d of datas) {
    if (d.length === 0 || d.length % 16 !== 0) throw new DecryptError();
    total += d.length;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const d of datas) {
    all.set(d, at);
    at += d.length;
  }
  const plain = n.ecbBlocks(true, k.raw, all);
  const out: Uint8Array[] = [];
  let bad = false;
  at = 0;
  for (const d of datas) {
    try {
      out.push(unpad(plain.subarray(at, at + d.length)));
    } catch {
      bad = true;
    }
    at += d.length;
  }
  if (bad) throw new DecryptError();
  return out;
}

/** Encrypt with a raw key. CBC needs a 16-byte IV; GCM makes a random one unless given. */
export async function aesEncrypt(cipher: CipherName, key: Uint8Array, plaintext: Uint8Array, iv?: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  const n = native();
  if (cipher === 'AES-ECB') return ecbEncrypt(ecbKey(key), plaintext);
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
  if (cipher === 'AES-ECB') return ecbDecrypt(ecbKey(key), data);
  if (data.length === 0 || data.length % 16 !== 0) throw new DecryptError();
  const n = native();
  const s = subtleFor(key);
  // Loaded outside the try: a chunk that fails to load is not a decryption failure.
  const engine = cipher === 'AES-CBC' && !s && !n ? await pure() : undefined;
  try {
    if (n) return n.aes('cbc', true, key, data, iv!);
    if (s) return new Uint8Array(await s.decrypt({ name: 'AES-CBC', iv: buf(iv!) }, await importRaw(s, 'AES-CBC', key), buf(data)));
    return engine!.cbc(key, iv!).decrypt(data);
  } catch {
    throw new DecryptError();
  }
}
