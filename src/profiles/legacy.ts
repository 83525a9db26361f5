/**
 * The "Common options" every legacy dialect shares (PROTOCOLS.md): cipher, iv, keyFrom,
 * encoding, digest. Validation happens once, at profile construction, so a config mistake
 * fails early and names the option; no message here ever holds a secret.
 */
import { decodeBytes, encodeBytes, type Encoding } from '../codec/text.js';
import { utf8Decode, utf8Encode } from '../codec/utf8.js';
import { aesDecrypt, aesEncrypt, DecryptError, ecbDecrypt, ecbEncryptTo, ecbKey, type CipherName, type EcbKey } from '../crypto/aes.js';
import { digestHex, type Digest } from '../crypto/digest.js';
import { deriveAesKey, isAesKeyLength, KEY_FROM, spelledKey, type KeyFrom } from '../crypto/kdf.js';
import { randomBytes } from '../crypto/provider.js';
import { RpcError, badConfig } from '../errors.js';
import type { RandomBytes, WireResponse } from '../types.js';

export type { CipherName, Digest, Encoding, KeyFrom };

export const CIPHERS: readonly CipherName[] = ['AES-ECB', 'AES-CBC', 'AES-GCM'];
export const ENCODINGS: readonly Encoding[] = ['base64', 'hex', 'base64url'];
export const DIGESTS: readonly Digest[] = ['md5', 'sha1', 'sha256', 'hmac-sha256'];

/** @internal The names of LegacyOptions, for each dialect's list of the options it reads. */
export const LEGACY_OPTIONS = ['cipher', 'iv', 'keyFrom', 'encoding', 'digest'];

/** The options every legacy dialect takes, because real back ends differ on them. */
export interface LegacyOptions {
  cipher?: CipherName;
  /** CBC only: 16 fixed bytes (Uint8Array, or a string of 16 UTF-8 bytes), or `"key"` (the first 16 key bytes). */
  iv?: Uint8Array | string;
  keyFrom?: KeyFrom;
  encoding?: Encoding;
  digest?: Digest;
}

/** Validated common options; `iv` is set exactly when the cipher is CBC. */
export interface LegacyConfig {
  cipher: CipherName;
  iv?: Uint8Array | 'key';
  keyFrom: KeyFrom;
  encoding: Encoding;
  digest: Digest;
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw badConfig(option, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Validate the common options against a dialect's defaults. Throws BAD_CONFIG naming the option. */
export function resolveLegacyOptions(options: LegacyOptions, defaults: LegacyConfig): LegacyConfig {
  const cipher = oneOf('cipher', options.cipher, CIPHERS, defaults.cipher);
  const keyFrom = oneOf('keyFrom', options.keyFrom, KEY_FROM, defaults.keyFrom);
  const encoding = oneOf('encoding', options.encoding, ENCODINGS, defaults.encoding);
  const digest = oneOf('digest', options.digest, DIGESTS, defaults.digest);
  const config: LegacyConfig = { cipher, keyFrom, encoding, digest };
  if (options.iv !== undefined && cipher !== 'AES-CBC') throw badConfig('iv', `only AES-CBC takes an iv (cipher is ${cipher}; GCM makes a random one per message)`);
  if (cipher === 'AES-CBC') {
    const iv = options.iv ?? defaults.iv;
    if (iv === undefined) throw badConfig('iv', 'AES-CBC needs an iv: 16 bytes, a 16-byte string, or "key"');
    if (iv === 'key') config.iv = 'key';
    else if (iv instanceof Uint8Array) {
      if (iv.length !== 16) throw badConfig('iv', `must be 16 bytes, got ${iv.length}`);
      config.iv = iv.slice();
    } else if (typeof iv === 'string') {
      const bytes = utf8Encode(iv);
      if (bytes.length !== 16) throw badConfig('iv', `a string iv must be 16 UTF-8 bytes (or "key"), got ${bytes.length}`);
      config.iv = bytes;
    } else throw badConfig('iv', 'must be a Uint8Array, a 16-byte string, or "key"');
  }
  return config;
}

/**
 * Check, synchronously, that a secret gives an AES key under `keyFrom`, so a bad secret
 * fails at construction. The message names the option and the length, never the value.
 */
export function checkSecret(option: string, secret: unknown, keyFrom: KeyFrom): string {
  if (typeof secret !== 'string' || secret.length === 0) throw badConfig(option, 'must be a non-empty string');
  let k: Uint8Array | undefined;
  try {
    k = spelledKey(secret, keyFrom);
  } catch {
    throw badConfig(option, `is not valid ${keyFrom} (keyFrom: "${keyFrom}")`);
  }
  // md5, sha256, java-sha1prng (k undefined): any string gives a key.
  if (k && !isAesKeyLength(k.length)) throw badConfig(option, `gives a ${k.length}-byte AES key under keyFrom "${keyFrom}"; it must give 16, 24 or 32 bytes`);
  return secret;
}

/** True when `secret` gives an AES key under `keyFrom` (for secrets that arrive at run time). */
export function secretFits(secret: unknown, keyFrom: KeyFrom): secret is string {
  try {
    checkSecret('secret', secret, keyFrom);
    return true;
  } catch {
    return false;
  }
}

export interface LegacyCipher {
  /**
   * UTF-8 text (or its bytes) -> encoded ciphertext. GCM takes its 12-byte IV from `random`
   * (injectable for tests). `memoize`: the text is public (a name, a ciphertext): a
   * deterministic cipher may keep its ciphertext for the next call.
   */
  encrypt(text: string | Uint8Array, random?: RandomBytes, memoize?: boolean): Promise<string>;
  /** Encoded ciphertext -> UTF-8 text; any decoding, padding, tag or UTF-8 failure is a DecryptError. */
  decrypt(text: string): Promise<string>;
}

// Java's MIME encoders wrap base64 lines; a tolerant reader costs nothing.
const WHITESPACE = /[\s]+/g;

const MEMO_TEXT_MAX = 64;
const MEMO_ENTRIES = 128;

/**
 * The memo's key for a short text: the text itself, or for bytes that are ASCII (an inner
 * ciphertext passed as bytes) the text they spell, so both forms share one entry. Longer
 * texts, and other bytes, are not memoized.
 */
function memoKey(text: string | Uint8Array): string | undefined {
  if (text.length > MEMO_TEXT_MAX) return undefined;
  if (typeof text === 'string') return text;
  for (let i = 0; i < text.length; i++) if (text[i] > 127) return undefined;
  return String.fromCharCode.apply(null, text as unknown as number[]);
}

/** @internal A ciphertext's text as bytes (line breaks ignored); DecryptError when it is not in `encoding`. */
export function ciphertextBytes(text: string, encoding: Encoding): Uint8Array {
  try {
    return decodeBytes(encoding === 'hex' ? text.trim() : text.replace(WHITESPACE, ''), encoding);
  } catch {
    throw new DecryptError();
  }
}

/** @internal Decrypted bytes as text; DecryptError when they are not UTF-8. */
export function plainText(plain: Uint8Array): string {
  try {
    return utf8Decode(plain);
  } catch {
    throw new DecryptError();
  }
}

/** AES under one secret with the dialect's common options. The key is derived once, on first use. */
export function legacyCipher(secret: string, config: LegacyConfig): LegacyCipher {
  type Material = { key: Uint8Array; iv?: Uint8Array; ecb?: EcbKey };
  let ready: Material | undefined;
  let keyPromise: Promise<Material> | undefined;
  const material = () =>
    (keyPromise ??= deriveAesKey(secret, config.keyFrom).then((key) => {
      ready = {
        key,
        iv: config.cipher !== 'AES-CBC' ? undefined : config.iv === 'key' ? key.slice(0, 16) : config.iv,
        ecb: config.cipher === 'AES-ECB' ? ecbKey(key) : undefined,
      };
      return ready;
    }));
  // ECB and CBC (fixed IV) are deterministic: the same short text always gives the same
  // ciphertext, so a caller may ask for short public texts (param names, appId, the inner
  // layer's ciphertexts) to be encrypted once. Never asked for plaintext values, which
  // should not outlive the call in memory.
  const memo = config.cipher === 'AES-GCM' ? undefined : new Map<string, string>();
  return {
    async encrypt(text, random = randomBytes, memoize = false) {
      // Take the GCM IV before any await, so IVs are drawn in call order.
      const gcmIv = config.cipher === 'AES-GCM' ? random(12) : undefined;
      const id = memoize && memo ? memoKey(text) : undefined;
      const known = id === undefined ? undefined : memo!.get(id);
      if (known !== undefined) return known;
      // Once the key exists, ECB runs without another await (~30 of these per app-secret call).
      const { key, iv, ecb } = ready ?? (await material());
      const out = ecb
        ? ecbEncryptTo(ecb, text, (ct) => encodeBytes(ct, config.encoding))
        : encodeBytes(await aesEncrypt(config.cipher, key, typeof text === 'string' ? utf8Encode(text) : text, gcmIv ?? iv), config.encoding);
      if (id !== undefined) {
        if (memo!.size >= MEMO_ENTRIES) memo!.delete(memo!.keys().next().value as string);
        memo!.set(id, out);
      }
      return out;
    },
    async decrypt(text) {
      const { key, iv, ecb } = ready ?? (await material());
      const bytes = ciphertextBytes(text, config.encoding);
      // `bytes` was just decoded and is ours: a small ECB one is decrypted in place.
      return plainText(ecb ? await ecbDecrypt(ecb, bytes, true) : await aesDecrypt(config.cipher, key, bytes, iv));
    },
  };
}

/**
 * A few ciphers by secret, so a renewed credential gets its own key while calls still in
 * flight under the old one can finish. Kept in memory only.
 */
export function cipherCache(config: LegacyConfig, max = 4): (secret: string) => LegacyCipher {
  const cache = new Map<string, LegacyCipher>();
  return (secret) => {
    let c = cache.get(secret);
    if (!c) {
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      c = legacyCipher(secret, config);
      cache.set(secret, c);
    }
    return c;
  };
}

/**
 * The legacy signature: lower-case hex of `digest(message)` (text as UTF-8, parts as if
 * joined); for `hmac-sha256` keyed with the UTF-8 bytes of `secret`.
 */
export function sign(message: string | Uint8Array | readonly Uint8Array[], secret: string, digest: Digest): Promise<string> {
  return digestHex(digest, message, secret);
}

/**
 * Business params as the legacy dialects carry them: strings. Numbers, booleans and bigints
 * are written with String(); `undefined` is left out; anything else is refused before sending.
 */
export function stringParams(params: Record<string, unknown> | string | undefined): [string, string][] {
  const out: [string, string][] = [];
  if (params === undefined || params === null) return out;
  if (typeof params !== 'object' || Array.isArray(params)) throw new RpcError('BAD_REQUEST', 'params must be an object of string values', { hint: 'Pass params as { name: "value" }.' });
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (typeof v === 'string') out.push([k, v]);
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out.push([k, String(v)]);
    else
      throw new RpcError('BAD_REQUEST', `param "${k}" must be a string, number or boolean`, {
        hint: 'Legacy dialects carry string values only; serialize objects yourself (e.g. JSON.stringify).',
        details: { param: k },
      });
  }
  return out;
}

/** A non-200 answer: the legacy gateways use HTTP status only outside the protocol (404, 413, 429, 503). */
export function httpStatusError(res: WireResponse): RpcError {
  if (res.status === 429) return new RpcError('RATE_LIMITED', 'the gateway answered HTTP 429', { status: 429 });
  if (res.status === 503) return new RpcError('GATEWAY_BUSY', 'the gateway answered HTTP 503', { status: 503 });
  return new RpcError('HTTP_STATUS', `the gateway answered HTTP ${res.status}`, { status: res.status });
}

/**
 * A short tag of a secret for store keys, so two configurations never share a credential.
 * The secrets it is used on ship inside the page anyway; the tag only keeps them apart.
 */
export function secretTag(secret: string): string {
  // FNV-1a over the UTF-16 units: synchronous (storeKey is a plain property) and tiny.
  let h = 0x811c9dc5;
  const s = 'sealed-rpc store key\n' + secret;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function validateParseJson(value: unknown): ((text: string) => unknown) | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw badConfig('parseJson', 'must be a function (text) => value');
  return value as (text: string) => unknown;
}

/**
 * @internal A lossless `parseJson` (PROTOCOLS "Numbers in responses") gives protocol numbers as a
 * bigint or a wrapper object (lossless-json's LosslessNumber): read them by their digits, as a string.
 */
export function numberText(v: unknown): unknown {
  if (typeof v !== 'bigint' && (v === null || typeof v !== 'object')) return v;
  // String([0]) is '0': an array is no number, however it prints.
  if (Array.isArray(v)) return undefined;
  try {
    const s = String(v);
    return /^-?[0-9]+$/.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}
