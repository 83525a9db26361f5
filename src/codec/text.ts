import { fromBase64, fromBase64Url, toBase64, toBase64Url } from './base64.js';
import { fromHex, toHex } from './hex.js';

/** How ciphertext is written on the wire in the legacy dialects. */
export type Encoding = 'base64' | 'hex' | 'base64url';

export function encodeBytes(b: Uint8Array, encoding: Encoding): string {
  if (encoding === 'hex') return toHex(b);
  if (encoding === 'base64url') return toBase64Url(b);
  return toBase64(b);
}

export function decodeBytes(s: string, encoding: Encoding): Uint8Array {
  if (encoding === 'hex') return fromHex(s);
  if (encoding === 'base64url') return fromBase64Url(s);
  return fromBase64(s);
}
