/**
 * MD5 (RFC 1321) and SHA-1 (FIPS 180-4), only for the legacy dialects (WebCrypto has no
 * MD5, and its SHA-1 is async): signs, `keyFrom: "md5"` and `"java-sha1prng"`. Written out
 * here rather than taken from @noble/hashes because the MD5 sign runs over the whole sealed
 * body (this unrolled form over 32-bit words is ~4x faster on large inputs) and because the
 * two together are ~1.5 KB min+gz smaller than noble's, which then stays out of every
 * bundle a page with `crypto.subtle` loads (measured: README, "Performance and size").
 * Checked against RFC 1321's suite, FIPS 180 examples, primitives.json and node:crypto on
 * random inputs (test/crypto/legacy-primitives.test.ts).
 */

// Words are read little-endian, as MD5 defines them; a big-endian engine swaps them first.
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const bswap = (x: number) => ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x & 0xff00) << 8) | (x << 24)) | 0;

/**
 * The end of a message as 32-bit words, padded the MD-style way: `tail` (the bytes after the
 * last whole 64-byte block already hashed, or the whole message), 0x80, zeros, then the
 * message's bit length in 64 bits (little-endian words for MD5, big-endian for SHA-1), a
 * multiple of 64 bytes.
 */
function padded(tail: Uint8Array, littleEndian: boolean, messageLength: number): Int32Array {
  const n = tail.length;
  const total = (((n + 8) >>> 6) + 1) * 64;
  const bytes = new Uint8Array(total);
  bytes.set(tail);
  bytes[n] = 0x80;
  const w = new Int32Array(bytes.buffer);
  if (LE !== littleEndian) for (let i = 0; i < w.length; i++) w[i] = bswap(w[i]);
  const lo = messageLength << 3;
  const hi = Math.floor(messageLength / 0x20000000);
  w[(total >> 2) - 2] = littleEndian ? lo : hi;
  w[(total >> 2) - 1] = littleEndian ? hi : lo;
  return w;
}

/** `bytes` (a multiple of 4 long) copied into little-endian words. */
function wordsLE(bytes: Uint8Array): Int32Array {
  const w = new Int32Array(bytes.length >> 2);
  new Uint8Array(w.buffer).set(bytes);
  if (!LE) for (let i = 0; i < w.length; i++) w[i] = bswap(w[i]);
  return w;
}

function digestBytes(h: number[], littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(h.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < h.length; i++) v.setInt32(i * 4, h[i], littleEndian);
  return out;
}

/**
 * MD5 of `data`, or of its parts one after another (as if joined: the app-secret sign runs
 * over every sealed value, which then need not be copied into one buffer).
 */
export function md5(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const parts = data instanceof Uint8Array ? [data] : data;
  const h = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  // Whole blocks are read where they are when they can be (MD5's words are little-endian, as
  // the view is on this engine); a block that spans two parts, or sits unaligned, is copied.
  const block = new Uint8Array(64);
  const blockWords = new Int32Array(block.buffer);
  let held = 0;
  let total = 0;
  for (const p of parts) {
    total += p.length;
    let i = 0;
    if (held > 0) {
      i = Math.min(64 - held, p.length);
      block.set(p.subarray(0, i), held);
      held += i;
      if (held < 64) continue;
      md5Blocks(h, LE ? blockWords : wordsLE(block));
      held = 0;
    }
    const whole = (p.length - i) & ~63;
    if (whole > 0) {
      const at = p.byteOffset + i;
      md5Blocks(h, LE && (at & 3) === 0 ? new Int32Array(p.buffer, at, whole >> 2) : wordsLE(p.subarray(i, i + whole)));
      i += whole;
    }
    block.set(p.subarray(i), 0);
    held = p.length - i;
  }
  md5Blocks(h, padded(block.subarray(0, held), true, total));
  return digestBytes([h[0], h[1], h[2], h[3]], true);
}

/** The MD5 compression function over whole 64-byte blocks of words, into the state `h`. */
function md5Blocks(h: Int32Array, w: Int32Array): void {
  let h0 = h[0];
  let h1 = h[1];
  let h2 = h[2];
  let h3 = h[3];
  for (let o = 0; o < w.length; o += 16) {
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    a = (a + ((b & c) | (~b & d)) + w[o + 0] + -680876936) | 0;
    a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + ((a & b) | (~a & c)) + w[o + 1] + -389564586) | 0;
    d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + ((d & a) | (~d & b)) + w[o + 2] + 606105819) | 0;
    c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + ((c & d) | (~c & a)) + w[o + 3] + -1044525330) | 0;
    b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + ((b & c) | (~b & d)) + w[o + 4] + -176418897) | 0;
    a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + ((a & b) | (~a & c)) + w[o + 5] + 1200080426) | 0;
    d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + ((d & a) | (~d & b)) + w[o + 6] + -1473231341) | 0;
    c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + ((c & d) | (~c & a)) + w[o + 7] + -45705983) | 0;
    b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + ((b & c) | (~b & d)) + w[o + 8] + 1770035416) | 0;
    a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + ((a & b) | (~a & c)) + w[o + 9] + -1958414417) | 0;
    d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + ((d & a) | (~d & b)) + w[o + 10] + -42063) | 0;
    c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + ((c & d) | (~c & a)) + w[o + 11] + -1990404162) | 0;
    b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + ((b & c) | (~b & d)) + w[o + 12] + 1804603682) | 0;
    a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + ((a & b) | (~a & c)) + w[o + 13] + -40341101) | 0;
    d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + ((d & a) | (~d & b)) + w[o + 14] + -1502002290) | 0;
    c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + ((c & d) | (~c & a)) + w[o + 15] + 1236535329) | 0;
    b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + ((d & b) | (~d & c)) + w[o + 1] + -165796510) | 0;
    a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + ((c & a) | (~c & b)) + w[o + 6] + -1069501632) | 0;
    d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + ((b & d) | (~b & a)) + w[o + 11] + 643717713) | 0;
    c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + ((a & c) | (~a & d)) + w[o + 0] + -373897302) | 0;
    b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + ((d & b) | (~d & c)) + w[o + 5] + -701558691) | 0;
    a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + ((c & a) | (~c & b)) + w[o + 10] + 38016083) | 0;
    d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + ((b & d) | (~b & a)) + w[o + 15] + -660478335) | 0;
    c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + ((a & c) | (~a & d)) + w[o + 4] + -405537848) | 0;
    b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + ((d & b) | (~d & c)) + w[o + 9] + 568446438) | 0;
    a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + ((c & a) | (~c & b)) + w[o + 14] + -1019803690) | 0;
    d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + ((b & d) | (~b & a)) + w[o + 3] + -187363961) | 0;
    c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + ((a & c) | (~a & d)) + w[o + 8] + 1163531501) | 0;
    b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + ((d & b) | (~d & c)) + w[o + 13] + -1444681467) | 0;
    a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + ((c & a) | (~c & b)) + w[o + 2] + -51403784) | 0;
    d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + ((b & d) | (~b & a)) + w[o + 7] + 1735328473) | 0;
    c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + ((a & c) | (~a & d)) + w[o + 12] + -1926607734) | 0;
    b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + (b ^ c ^ d) + w[o + 5] + -378558) | 0;
    a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + w[o + 8] + -2022574463) | 0;
    d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + w[o + 11] + 1839030562) | 0;
    c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + w[o + 14] + -35309556) | 0;
    b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + w[o + 1] + -1530992060) | 0;
    a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + w[o + 4] + 1272893353) | 0;
    d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + w[o + 7] + -155497632) | 0;
    c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + w[o + 10] + -1094730640) | 0;
    b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + w[o + 13] + 681279174) | 0;
    a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + w[o + 0] + -358537222) | 0;
    d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + w[o + 3] + -722521979) | 0;
    c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + w[o + 6] + 76029189) | 0;
    b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + w[o + 9] + -640364487) | 0;
    a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + w[o + 12] + -421815835) | 0;
    d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + w[o + 15] + 530742520) | 0;
    c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + w[o + 2] + -995338651) | 0;
    b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (c ^ (b | ~d)) + w[o + 0] + -198630844) | 0;
    a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + w[o + 7] + 1126891415) | 0;
    d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + w[o + 14] + -1416354905) | 0;
    c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + w[o + 5] + -57434055) | 0;
    b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + w[o + 12] + 1700485571) | 0;
    a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + w[o + 3] + -1894986606) | 0;
    d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + w[o + 10] + -1051523) | 0;
    c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + w[o + 1] + -2054922799) | 0;
    b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + w[o + 8] + 1873313359) | 0;
    a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + w[o + 15] + -30611744) | 0;
    d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + w[o + 6] + -1560198380) | 0;
    c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + w[o + 13] + 1309151649) | 0;
    b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + w[o + 4] + -145523070) | 0;
    a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + w[o + 11] + -1120210379) | 0;
    d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + w[o + 2] + 718787259) | 0;
    c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + w[o + 9] + -343485551) | 0;
    b = ((b << 21) | (b >>> 11)) + c | 0;
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
}

export function sha1(data: Uint8Array): Uint8Array {
  const w = padded(data, false, data.length);
  const x = new Int32Array(80);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let o = 0; o < w.length; o += 16) {
    for (let t = 0; t < 16; t++) x[t] = w[o + t];
    for (let t = 16; t < 80; t++) {
      const v = x[t - 3] ^ x[t - 8] ^ x[t - 14] ^ x[t - 16];
      x[t] = (v << 1) | (v >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      const f = t < 20 ? ((b & c) | (~b & d)) + 0x5a827999 : t < 40 ? (b ^ c ^ d) + 0x6ed9eba1 : t < 60 ? ((b & c) | (b & d) | (c & d)) - 0x70e44324 : (b ^ c ^ d) - 0x359d3e2a;
      const tmp = (((a << 5) | (a >>> 27)) + f + e + x[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  return digestBytes([h0, h1, h2, h3, h4], false);
}
