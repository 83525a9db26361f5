/**
 * Digests. MD5 and SHA-1 only exist for the legacy dialects (WebCrypto has no MD5) and come
 * from legacy-hash.ts; SHA-256 and HMAC use WebCrypto where it exists, @noble otherwise.
 */
import { md5 as jsMd5, sha1 as jsSha1 } from './legacy-hash.js';
import { concatBytes } from '../codec/bytes.js';
import { toHex } from '../codec/hex.js';
import { utf8Encode } from '../codec/utf8.js';
import { buf, native, pure, subtle } from './provider.js';

export type Digest = 'md5' | 'sha1' | 'sha256' | 'hmac-sha256';

/** MD5 of `data`, or of its parts as if joined. */
export function md5(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const n = native();
  if (!n) return jsMd5(data);
  return n.digest('md5', data instanceof Uint8Array ? data : concatBytes(...data));
}

export function sha1(data: Uint8Array): Uint8Array {
  const n = native();
  return n ? n.digest('sha1', data) : jsSha1(data);
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  const n = native();
  if (n) return n.digest('sha256', data);
  const s = subtle();
  if (s) return new Uint8Array(await s.digest('SHA-256', buf(data)));
  return (await pure()).sha256(data);
}

/** HMAC keys are imported once per key and reused (keyed by the key's bytes). */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
const HMAC_CACHE_MAX = 64;

function hmacKey(s: SubtleCrypto, key: Uint8Array): Promise<CryptoKey> {
  const id = toHex(key);
  let k = hmacKeys.get(id);
  if (!k) {
    if (hmacKeys.size >= HMAC_CACHE_MAX) hmacKeys.delete(hmacKeys.keys().next().value as string);
    k = s.importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacKeys.set(id, k);
  }
  return k;
}

/** HMAC-SHA256. WebCrypto refuses a zero-length key; RFC 2104 allows it, so that one goes to noble. */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const n = native();
  if (n) return n.hmacSha256(key, data);
  const s = subtle();
  if (s && key.length > 0) return new Uint8Array(await s.sign('HMAC', await hmacKey(s, key), buf(data)));
  const { hmac, sha256: nobleSha256 } = await pure();
  return hmac(nobleSha256, key, data);
}

/**
 * The legacy dialects' signature: lower-case hex of `digest(message)` (text is taken as
 * UTF-8), or for `hmac-sha256` the HMAC keyed with the UTF-8 bytes of `secret`.
 */
export async function digestHex(kind: Digest, message: string | Uint8Array | readonly Uint8Array[], secret?: string): Promise<string> {
  const bytes = typeof message === 'string' ? utf8Encode(message) : message;
  // Parts (bytes as if joined): MD5 reads them one by one; the others take them joined.
  const joined = () => (bytes instanceof Uint8Array ? bytes : concatBytes(...bytes));
  switch (kind) {
    case 'md5':
      return toHex(md5(bytes));
    case 'sha1':
      return toHex(sha1(joined()));
    case 'sha256':
      return toHex(await sha256(joined()));
    case 'hmac-sha256':
      if (secret === undefined) throw new TypeError('hmac-sha256 needs a secret');
      return toHex(await hmacSha256(utf8Encode(secret), joined()));
  }
}
