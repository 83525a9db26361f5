const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function table(alpha: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alpha.charCodeAt(i)] = i;
  return t;
}
const STD_T = table(STD);
const URL_T = table(URL);

function encode(b: Uint8Array, alpha: string, pad: boolean): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += alpha[n >> 18] + alpha[(n >> 12) & 63] + alpha[(n >> 6) & 63] + alpha[n & 63];
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i] << 16;
    s += alpha[n >> 18] + alpha[(n >> 12) & 63] + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (b[i] << 16) | (b[i + 1] << 8);
    s += alpha[n >> 18] + alpha[(n >> 12) & 63] + alpha[(n >> 6) & 63] + (pad ? '=' : '');
  }
  return s;
}

/**
 * Decode; `strict` refuses padding and non-zero trailing bits (canonical form only),
 * which `modern` requires so that one value has exactly one wire text.
 */
function decode(s: string, t: Int16Array, allowPad: boolean, strict: boolean): Uint8Array {
  let end = s.length;
  if (allowPad) {
    while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) end--;
    if (s.length - end > 2) throw new TypeError('base64: bad padding');
    if (end !== s.length && s.length % 4 !== 0) throw new TypeError('base64: bad padding');
  }
  if (end % 4 === 1) throw new TypeError('base64: bad length');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? t[c] : -1;
    if (v < 0) throw new TypeError('base64: invalid character');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  if (strict && (acc & ((1 << bits) - 1)) !== 0) throw new TypeError('base64: non-canonical');
  return out;
}

export function toBase64(b: Uint8Array): string {
  return encode(b, STD, true);
}
/** Standard base64; padding optional on read. */
export function fromBase64(s: string): Uint8Array {
  return decode(s, STD_T, true, false);
}
/** base64url written without padding. */
export function toBase64Url(b: Uint8Array): string {
  return encode(b, URL, false);
}
/** base64url read with or without padding. */
export function fromBase64Url(s: string): Uint8Array {
  return decode(s, URL_T, true, false);
}
/** base64url, canonical only: no padding, no stray bits (the `modern` wire rule). */
export function fromBase64UrlStrict(s: string): Uint8Array {
  return decode(s, URL_T, false, true);
}
