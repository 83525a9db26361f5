const encoder = new TextEncoder();
const hasEncodeInto = typeof encoder.encodeInto === 'function'; // Safari < 14.1 web views lack it
// ignoreBOM: a leading U+FEFF stays in the text (as Java's new String(bytes, UTF_8) keeps it),
// so a body with a BOM is not taken for the same text without one.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8Encode(s: string): Uint8Array {
  // ASCII (most wire text: JSON of ASCII, base64, hex) fits in s.length bytes: encodeInto writes
  // it in one pass, ~5x faster than encode() in Chromium on large strings. Any non-ASCII
  // character takes more bytes than UTF-16 units, so `read < length` exactly when there is one.
  if (s.length >= 128 && hasEncodeInto) {
    const out = new Uint8Array(s.length);
    if (encoder.encodeInto(s, out).read === s.length) return out;
  } else if (s.length < 128) {
    // Short ASCII (keys, short values: ~30 per app-secret call): a loop beats the encoder's call cost.
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) return encoder.encode(s);
      out[i] = c;
    }
    return out;
  }
  return encoder.encode(s);
}

/**
 * Write `s` at the start of `out` when it is ASCII (then its UTF-8 is its char codes) and
 * fits; false otherwise, with `out` left in an unspecified state. Lets a caller encode
 * straight into a buffer it sized (e.g. with room for padding) instead of copying.
 */
export function asciiInto(s: string, out: Uint8Array): boolean {
  if (s.length > out.length) return false;
  if (s.length >= 128 && hasEncodeInto) {
    // ASCII exactly when every unit was read and each took one byte.
    const r = encoder.encodeInto(s, out);
    return r.read === s.length && r.written === s.length;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return false;
    out[i] = c;
  }
  return true;
}

/**
 * The bytes of several ASCII texts, as views into one buffer (one allocation, not one per
 * text: in Chromium each fresh buffer costs more than the few KB copied into it); undefined
 * when one of them is not ASCII.
 */
export function asciiViews(texts: readonly string[]): Uint8Array[] | undefined {
  let total = 0;
  for (const t of texts) total += t.length;
  const buf = new Uint8Array(total);
  const out: Uint8Array[] = [];
  let o = 0;
  for (const t of texts) {
    const view = buf.subarray(o, o + t.length);
    if (!asciiInto(t, view)) return undefined;
    out.push(view);
    o += t.length;
  }
  return out;
}

/** The UTF-8 length of `s` as utf8Encode writes it (a lone surrogate as U+FFFD, 3 bytes), without encoding it. */
export function utf8ByteLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c <= 0xdbff && c >= 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for its 2 units
      i++;
    } else n += 2;
  }
  return n;
}

/** Strict: invalid UTF-8 throws (a tampered ciphertext must not turn into replacement characters). */
export function utf8Decode(b: Uint8Array): string {
  return decoder.decode(b);
}
