import { asciiString, nativeCtor, nativeProto, nodeBuffer } from './ascii.js';

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function codes(alpha: string): Uint8Array {
  const c = new Uint8Array(64);
  for (let i = 0; i < 64; i++) c[i] = alpha.charCodeAt(i);
  return c;
}
function table(alpha: string): Int8Array {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[alpha.charCodeAt(i)] = i;
  return t;
}
const STD_C = codes(STD);
const URL_C = codes(URL);
const STD_T = table(STD);
const URL_T = table(URL);

/** Char codes into one buffer, one string at the end (no per-character concatenation). */
function encode(b: Uint8Array, alpha: Uint8Array, pad: boolean): string {
  const n = b.length;
  const rest = n % 3;
  const full = n - rest;
  const out = new Uint8Array((full / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1));
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const x = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out[o] = alpha[x >>> 18];
    out[o + 1] = alpha[(x >>> 12) & 63];
    out[o + 2] = alpha[(x >>> 6) & 63];
    out[o + 3] = alpha[x & 63];
    o += 4;
  }
  if (rest === 1) {
    const x = b[full];
    out[o] = alpha[x >>> 2];
    out[o + 1] = alpha[(x & 3) << 4];
    if (pad) out[o + 2] = out[o + 3] = 61; // =
  } else if (rest === 2) {
    const x = (b[full] << 8) | b[full + 1];
    out[o] = alpha[x >>> 10];
    out[o + 1] = alpha[(x >>> 4) & 63];
    out[o + 2] = alpha[(x & 15) << 2];
    if (pad) out[o + 3] = 61;
  }
  return asciiString(out);
}

/** Where the text ends once padding is set aside; throws on bad padding or length. */
function dataEnd(s: string, allowPad: boolean): number {
  let end = s.length;
  if (allowPad) {
    while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) end--;
    if (s.length - end > 2) throw new TypeError('base64: bad padding');
    if (end !== s.length && s.length % 4 !== 0) throw new TypeError('base64: bad padding');
  }
  if (end % 4 === 1) throw new TypeError('base64: bad length');
  return end;
}

/**
 * Decode; `strict` refuses padding and non-zero trailing bits (canonical form only),
 * which `modern` requires so that one value has exactly one wire text.
 */
function decode(s: string, t: Int8Array, allowPad: boolean, strict: boolean): Uint8Array {
  const end = dataEnd(s, allowPad);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  const rem = end % 4;
  const full = end - rem;
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const c3 = s.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) > 127) throw new TypeError('base64: invalid character');
    const a = t[c0];
    const b = t[c1];
    const c = t[c2];
    const d = t[c3];
    if ((a | b | c | d) < 0) throw new TypeError('base64: invalid character');
    const x = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = x >>> 16;
    out[o + 1] = (x >>> 8) & 255;
    out[o + 2] = x & 255;
    o += 3;
  }
  if (rem !== 0) {
    let x = 0;
    for (let i = full; i < end; i++) {
      const c = s.charCodeAt(i);
      const v = c < 128 ? t[c] : -1;
      if (v < 0) throw new TypeError('base64: invalid character');
      x = (x << 6) | v;
    }
    if (rem === 2) {
      out[o] = x >>> 4;
      if (strict && (x & 15) !== 0) throw new TypeError('base64: non-canonical');
    } else {
      out[o] = x >>> 10;
      out[o + 1] = (x >>> 2) & 255;
      if (strict && (x & 3) !== 0) throw new TypeError('base64: non-canonical');
    }
  }
  return out;
}

/**
 * The built-in `Uint8Array.fromBase64` where the engine has it, used only when its answer
 * cannot differ from `decode`'s; `undefined` sends the caller to `decode` (which also
 * produces the exact error). The built-in skips ASCII whitespace that `decode` refuses:
 * that always changes the output length (a length of 1 mod 4 is refused up front), so a
 * length mismatch falls back. Padding rules are checked by `dataEnd` first.
 */
function decodeNative(s: string, t: Int8Array, alphabet: 'base64' | 'base64url', allowPad: boolean, strict: boolean): Uint8Array | undefined {
  const from = nativeCtor.fromBase64;
  if (!from || s.length < 64) return undefined;
  let end: number;
  try {
    end = dataEnd(s, allowPad);
  } catch {
    return undefined;
  }
  if (!allowPad && s.charCodeAt(s.length - 1) === 61) return undefined;
  let out: Uint8Array;
  try {
    out = from(s, { alphabet });
  } catch {
    return undefined;
  }
  if (out.length !== Math.floor((end * 3) / 4)) return undefined;
  if (strict && end % 4 !== 0) {
    const last = t[s.charCodeAt(end - 1) & 127];
    if ((end % 4 === 2 ? last & 15 : last & 3) !== 0) return undefined;
  }
  return out;
}

/**
 * @internal The JS encoder behind toBase64/toBase64Url (exported for the tests: where the
 * engine or Node has a native one, toBase64 takes that from 48 bytes up).
 */
export function encodeBase64(b: Uint8Array, url: boolean): string {
  return url ? encode(b, URL_C, false) : encode(b, STD_C, true);
}

export function toBase64(b: Uint8Array): string {
  if (b.length >= 48) {
    if (nativeProto.toBase64) return nativeProto.toBase64.call(b);
    if (nodeBuffer) return nodeBuffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
  }
  return encode(b, STD_C, true);
}
/** Standard base64; padding optional on read. */
export function fromBase64(s: string): Uint8Array {
  return decodeNative(s, STD_T, 'base64', true, false) ?? decode(s, STD_T, true, false);
}
/** base64url written without padding. */
export function toBase64Url(b: Uint8Array): string {
  if (b.length >= 48) {
    if (nativeProto.toBase64) return nativeProto.toBase64.call(b, { alphabet: 'base64url', omitPadding: true });
    if (nodeBuffer) return nodeBuffer.from(b.buffer, b.byteOffset, b.length).toString('base64url'); // unpadded, as here
  }
  return encode(b, URL_C, false);
}
/** base64url read with or without padding. */
export function fromBase64Url(s: string): Uint8Array {
  return decodeNative(s, URL_T, 'base64url', true, false) ?? decode(s, URL_T, true, false);
}
/** base64url, canonical only: no padding, no stray bits (the `modern` wire rule). */
export function fromBase64UrlStrict(s: string): Uint8Array {
  return decodeNative(s, URL_T, 'base64url', false, true) ?? decode(s, URL_T, false, true);
}
