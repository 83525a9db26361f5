/**
 * @internal The AES block cipher (FIPS-197), for ECB, which WebCrypto does not offer.
 *
 * Why our own and not noble's block function: noble merges its T-tables into 64K-entry
 * ones (1 MB for both directions), which miss the CPU cache as soon as other code runs
 * between calls. Here the classic four 256-entry tables per direction (4 KB each) stay in L1.
 * Alone in a loop it is 1.05–1.3× noble's speed; in the bench, with other code in between,
 * the app-secret round got 1.6–2.2× faster and the gateway's app-secret throughput ~1.5×
 * (README, "Performance and size"); it is 4.7 KB min+gz smaller, and no megabyte is
 * allocated at first use in a web view. Like noble's, table lookups depend on key and data
 * (cache timing; see the README's threat model). Checked against FIPS-197, OpenSSL and
 * noble (test/crypto/legacy-primitives.test.ts, test/browser/ecb-large.test.ts).
 *
 * Blocks are Int32 words in little-endian byte order (a view over the bytes on a
 * little-endian engine; aes.ts swaps on a big-endian one).
 */

const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
/** Encryption T-tables: TE[x], TE[256 + x], TE[512 + x], TE[768 + x] = T0..T3. */
const TE = new Int32Array(1024);
/** Decryption (inverse) T-tables, same layout. */
const TD = new Int32Array(1024);
let built = false;

const xtime = (x: number) => ((x << 1) ^ (x & 0x80 ? 0x11b : 0)) & 0xff;
function gmul(a: number, b: number): number {
  let r = 0;
  for (; b; b >>= 1, a = xtime(a)) if (b & 1) r ^= a;
  return r;
}
const rotl = (v: number, n: number) => (v << n) | (v >>> (32 - n));
const rotl8 = (x: number, n: number) => ((x << n) | (x >>> (8 - n))) & 0xff;

// Built at first use: ~256 iterations, and nothing at all for a bundle that never runs ECB.
function buildTables(): void {
  built = true;
  // The S-box from the multiplicative inverse (p walks GF(2^8) by 3, q by its inverse 1/3).
  let p = 1;
  let q = 1;
  do {
    p ^= xtime(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    SBOX[p] = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) INV_SBOX[SBOX[i]] = i;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i];
    const e = gmul(s, 2) | (s << 8) | (s << 16) | (gmul(s, 3) << 24);
    const v = INV_SBOX[i];
    const d = gmul(v, 14) | (gmul(v, 9) << 8) | (gmul(v, 13) << 16) | (gmul(v, 11) << 24);
    for (let t = 0; t < 4; t++) {
      TE[256 * t + i] = rotl(e, 8 * t);
      TD[256 * t + i] = rotl(d, 8 * t);
    }
  }
}

/** The encryption key schedule of a 16-, 24- or 32-byte key, as little-endian words. */
export function expandKey(key: Uint8Array): Int32Array {
  if (!built) buildTables();
  const S = SBOX;
  const nk = key.length >> 2;
  const n = 4 * (nk + 7);
  const w = new Int32Array(n);
  for (let i = 0; i < nk; i++) w[i] = key[4 * i] | (key[4 * i + 1] << 8) | (key[4 * i + 2] << 16) | (key[4 * i + 3] << 24);
  for (let i = nk, rcon = 1; i < n; i++) {
    let t = w[i - 1];
    if (i % nk === 0) {
      // RotWord, SubWord, Rcon (in the first byte, which is the low one here).
      t = (S[(t >>> 8) & 255] | (S[(t >>> 16) & 255] << 8) | (S[t >>> 24] << 16) | (S[t & 255] << 24)) ^ rcon;
      rcon = xtime(rcon);
    } else if (nk > 6 && i % nk === 4) {
      t = S[t & 255] | (S[(t >>> 8) & 255] << 8) | (S[(t >>> 16) & 255] << 16) | (S[t >>> 24] << 24);
    }
    w[i] = w[i - nk] ^ t;
  }
  return w;
}

/** The decryption schedule for the equivalent inverse cipher: round keys reversed, InvMixColumns on the inner ones. */
export function decryptionKey(w: Int32Array): Int32Array {
  if (!built) buildTables(); // w came from expandKey, which built them; cheap to be sure
  const S = SBOX;
  const T = TD;
  const rounds = (w.length >> 2) - 1;
  const d = new Int32Array(w.length);
  for (let r = 0; r <= rounds; r++) {
    for (let c = 0; c < 4; c++) {
      const x = w[4 * (rounds - r) + c];
      // TD = InvMixColumns ∘ InvSubBytes, so feeding it S[x] leaves InvMixColumns alone.
      d[4 * r + c] = r === 0 || r === rounds ? x : T[S[x & 255]] ^ T[256 | S[(x >>> 8) & 255]] ^ T[512 | S[(x >>> 16) & 255]] ^ T[768 | S[x >>> 24]];
    }
  }
  return d;
}

/**
 * Encrypt whole blocks in place (`x.length` a multiple of 4) under an expandKey schedule.
 * Two blocks per pass (the second is the first again when the count is odd): their lookups
 * are independent, so the CPU overlaps them (~1.15× the one-block loop in Chromium).
 */
export function encryptBlocks(w: Int32Array, x: Int32Array): void {
  const T = TE;
  const S = SBOX;
  const rounds = (w.length >> 2) - 1;
  for (let o = 0; o < x.length; o += 8) {
    const p = o + 4 < x.length ? o + 4 : o;
    let s0 = x[o] ^ w[0];
    let s1 = x[o + 1] ^ w[1];
    let s2 = x[o + 2] ^ w[2];
    let s3 = x[o + 3] ^ w[3];
    let u0 = x[p] ^ w[0];
    let u1 = x[p + 1] ^ w[1];
    let u2 = x[p + 2] ^ w[2];
    let u3 = x[p + 3] ^ w[3];
    let k = 4;
    for (let r = 1; r < rounds; r++, k += 4) {
      const k0 = w[k];
      const k1 = w[k + 1];
      const k2 = w[k + 2];
      const k3 = w[k + 3];
      const t0 = T[s0 & 255] ^ T[256 | ((s1 >>> 8) & 255)] ^ T[512 | ((s2 >>> 16) & 255)] ^ T[768 | (s3 >>> 24)] ^ k0;
      const t1 = T[s1 & 255] ^ T[256 | ((s2 >>> 8) & 255)] ^ T[512 | ((s3 >>> 16) & 255)] ^ T[768 | (s0 >>> 24)] ^ k1;
      const t2 = T[s2 & 255] ^ T[256 | ((s3 >>> 8) & 255)] ^ T[512 | ((s0 >>> 16) & 255)] ^ T[768 | (s1 >>> 24)] ^ k2;
      const t3 = T[s3 & 255] ^ T[256 | ((s0 >>> 8) & 255)] ^ T[512 | ((s1 >>> 16) & 255)] ^ T[768 | (s2 >>> 24)] ^ k3;
      const v0 = T[u0 & 255] ^ T[256 | ((u1 >>> 8) & 255)] ^ T[512 | ((u2 >>> 16) & 255)] ^ T[768 | (u3 >>> 24)] ^ k0;
      const v1 = T[u1 & 255] ^ T[256 | ((u2 >>> 8) & 255)] ^ T[512 | ((u3 >>> 16) & 255)] ^ T[768 | (u0 >>> 24)] ^ k1;
      const v2 = T[u2 & 255] ^ T[256 | ((u3 >>> 8) & 255)] ^ T[512 | ((u0 >>> 16) & 255)] ^ T[768 | (u1 >>> 24)] ^ k2;
      const v3 = T[u3 & 255] ^ T[256 | ((u0 >>> 8) & 255)] ^ T[512 | ((u1 >>> 16) & 255)] ^ T[768 | (u2 >>> 24)] ^ k3;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
      u0 = v0;
      u1 = v1;
      u2 = v2;
      u3 = v3;
    }
    // Last round: SubBytes and ShiftRows, no MixColumns.
    x[o] = (S[s0 & 255] | (S[(s1 >>> 8) & 255] << 8) | (S[(s2 >>> 16) & 255] << 16) | (S[s3 >>> 24] << 24)) ^ w[k];
    x[o + 1] = (S[s1 & 255] | (S[(s2 >>> 8) & 255] << 8) | (S[(s3 >>> 16) & 255] << 16) | (S[s0 >>> 24] << 24)) ^ w[k + 1];
    x[o + 2] = (S[s2 & 255] | (S[(s3 >>> 8) & 255] << 8) | (S[(s0 >>> 16) & 255] << 16) | (S[s1 >>> 24] << 24)) ^ w[k + 2];
    x[o + 3] = (S[s3 & 255] | (S[(s0 >>> 8) & 255] << 8) | (S[(s1 >>> 16) & 255] << 16) | (S[s2 >>> 24] << 24)) ^ w[k + 3];
    x[p] = (S[u0 & 255] | (S[(u1 >>> 8) & 255] << 8) | (S[(u2 >>> 16) & 255] << 16) | (S[u3 >>> 24] << 24)) ^ w[k];
    x[p + 1] = (S[u1 & 255] | (S[(u2 >>> 8) & 255] << 8) | (S[(u3 >>> 16) & 255] << 16) | (S[u0 >>> 24] << 24)) ^ w[k + 1];
    x[p + 2] = (S[u2 & 255] | (S[(u3 >>> 8) & 255] << 8) | (S[(u0 >>> 16) & 255] << 16) | (S[u1 >>> 24] << 24)) ^ w[k + 2];
    x[p + 3] = (S[u3 & 255] | (S[(u0 >>> 8) & 255] << 8) | (S[(u1 >>> 16) & 255] << 16) | (S[u2 >>> 24] << 24)) ^ w[k + 3];
  }
}

/** Decrypt whole blocks in place under a decryptionKey schedule, two per pass as encryptBlocks does. */
export function decryptBlocks(d: Int32Array, x: Int32Array): void {
  const T = TD;
  const S = INV_SBOX;
  const rounds = (d.length >> 2) - 1;
  for (let o = 0; o < x.length; o += 8) {
    const p = o + 4 < x.length ? o + 4 : o;
    let s0 = x[o] ^ d[0];
    let s1 = x[o + 1] ^ d[1];
    let s2 = x[o + 2] ^ d[2];
    let s3 = x[o + 3] ^ d[3];
    let u0 = x[p] ^ d[0];
    let u1 = x[p + 1] ^ d[1];
    let u2 = x[p + 2] ^ d[2];
    let u3 = x[p + 3] ^ d[3];
    let k = 4;
    for (let r = 1; r < rounds; r++, k += 4) {
      const k0 = d[k];
      const k1 = d[k + 1];
      const k2 = d[k + 2];
      const k3 = d[k + 3];
      // InvShiftRows takes row i from the column i to the left.
      const t0 = T[s0 & 255] ^ T[256 | ((s3 >>> 8) & 255)] ^ T[512 | ((s2 >>> 16) & 255)] ^ T[768 | (s1 >>> 24)] ^ k0;
      const t1 = T[s1 & 255] ^ T[256 | ((s0 >>> 8) & 255)] ^ T[512 | ((s3 >>> 16) & 255)] ^ T[768 | (s2 >>> 24)] ^ k1;
      const t2 = T[s2 & 255] ^ T[256 | ((s1 >>> 8) & 255)] ^ T[512 | ((s0 >>> 16) & 255)] ^ T[768 | (s3 >>> 24)] ^ k2;
      const t3 = T[s3 & 255] ^ T[256 | ((s2 >>> 8) & 255)] ^ T[512 | ((s1 >>> 16) & 255)] ^ T[768 | (s0 >>> 24)] ^ k3;
      const v0 = T[u0 & 255] ^ T[256 | ((u3 >>> 8) & 255)] ^ T[512 | ((u2 >>> 16) & 255)] ^ T[768 | (u1 >>> 24)] ^ k0;
      const v1 = T[u1 & 255] ^ T[256 | ((u0 >>> 8) & 255)] ^ T[512 | ((u3 >>> 16) & 255)] ^ T[768 | (u2 >>> 24)] ^ k1;
      const v2 = T[u2 & 255] ^ T[256 | ((u1 >>> 8) & 255)] ^ T[512 | ((u0 >>> 16) & 255)] ^ T[768 | (u3 >>> 24)] ^ k2;
      const v3 = T[u3 & 255] ^ T[256 | ((u2 >>> 8) & 255)] ^ T[512 | ((u1 >>> 16) & 255)] ^ T[768 | (u0 >>> 24)] ^ k3;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
      u0 = v0;
      u1 = v1;
      u2 = v2;
      u3 = v3;
    }
    x[o] = (S[s0 & 255] | (S[(s3 >>> 8) & 255] << 8) | (S[(s2 >>> 16) & 255] << 16) | (S[s1 >>> 24] << 24)) ^ d[k];
    x[o + 1] = (S[s1 & 255] | (S[(s0 >>> 8) & 255] << 8) | (S[(s3 >>> 16) & 255] << 16) | (S[s2 >>> 24] << 24)) ^ d[k + 1];
    x[o + 2] = (S[s2 & 255] | (S[(s1 >>> 8) & 255] << 8) | (S[(s0 >>> 16) & 255] << 16) | (S[s3 >>> 24] << 24)) ^ d[k + 2];
    x[o + 3] = (S[s3 & 255] | (S[(s2 >>> 8) & 255] << 8) | (S[(s1 >>> 16) & 255] << 16) | (S[s0 >>> 24] << 24)) ^ d[k + 3];
    x[p] = (S[u0 & 255] | (S[(u3 >>> 8) & 255] << 8) | (S[(u2 >>> 16) & 255] << 16) | (S[u1 >>> 24] << 24)) ^ d[k];
    x[p + 1] = (S[u1 & 255] | (S[(u0 >>> 8) & 255] << 8) | (S[(u3 >>> 16) & 255] << 16) | (S[u2 >>> 24] << 24)) ^ d[k + 1];
    x[p + 2] = (S[u2 & 255] | (S[(u1 >>> 8) & 255] << 8) | (S[(u0 >>> 16) & 255] << 16) | (S[u3 >>> 24] << 24)) ^ d[k + 2];
    x[p + 3] = (S[u3 & 255] | (S[(u2 >>> 8) & 255] << 8) | (S[(u1 >>> 16) & 255] << 16) | (S[u0 >>> 24] << 24)) ^ d[k + 3];
  }
}
