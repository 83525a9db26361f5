/**
 * P-256 for `modern`: ephemeral ECDH at issuance and ECDSA (IEEE P1363 r||s) for the
 * gateway's signature. WebCrypto where it exists; @noble/curves where `subtle` is missing.
 * Public keys travel as the 65-byte uncompressed point.
 */
import { fromBase64, fromBase64UrlStrict, toBase64Url } from '../codec/base64.js';
import { concatBytes } from '../codec/bytes.js';
import { toHex } from '../codec/hex.js';
import { derToPem } from '../codec/pem.js';
import { buf, keyNeedsSubtle, pureEc, randomBytes, requireSubtle, subtle } from './provider.js';

const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** An ECDH key pair whose private half never leaves this object. */
export interface EcdhPair {
  publicRaw: Uint8Array;
  /** @internal */ priv: CryptoKey | Uint8Array;
}

export async function generateEcdh(): Promise<EcdhPair> {
  const s = subtle();
  if (s) {
    const kp = (await s.generateKey(ECDH, false, ['deriveBits'])) as CryptoKeyPair;
    return { publicRaw: new Uint8Array(await s.exportKey('raw', kp.publicKey)), priv: kp.privateKey };
  }
  const { p256 } = await pureEc();
  const priv = p256.utils.randomSecretKey();
  return { publicRaw: p256.getPublicKey(priv, false), priv };
}

/** @internal For test vectors: an ECDH pair from a fixed private scalar. */
export async function ecdhFromScalar(scalar: Uint8Array): Promise<EcdhPair> {
  const { p256 } = await pureEc();
  const publicRaw = p256.getPublicKey(scalar, false);
  const s = subtle();
  if (!s) return { publicRaw, priv: scalar.slice() };
  const jwk = rawToJwk(publicRaw);
  const priv = await s.importKey('jwk', { ...jwk, d: toBase64Url(scalar) }, ECDH, false, ['deriveBits']);
  return { publicRaw, priv };
}

/** Shared secret Z (32-byte x-coordinate). Throws TypeError if the peer point is not on the curve. */
export async function ecdhDerive(pair: EcdhPair, peerRaw: Uint8Array): Promise<Uint8Array> {
  checkPoint(peerRaw);
  const s = subtle();
  if (s && !(pair.priv instanceof Uint8Array)) {
    let peer: CryptoKey;
    try {
      peer = await s.importKey('raw', buf(peerRaw), ECDH, false, []);
    } catch {
      throw new TypeError('peer key is not a valid P-256 point');
    }
    return new Uint8Array(await s.deriveBits({ name: 'ECDH', public: peer }, pair.priv, 256));
  }
  const priv = pair.priv instanceof Uint8Array ? pair.priv : undefined;
  if (!priv) throw keyNeedsSubtle();
  const { p256 } = await pureEc();
  try {
    return p256.getSharedSecret(priv, peerRaw, true).slice(1);
  } catch {
    throw new TypeError('peer key is not a valid P-256 point');
  }
}

// P-256 (SEC 2 / FIPS 186-4): y^2 = x^3 - 3x + b over GF(p).
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/**
 * Uncompressed point, on the curve; the same check on both engines. Plain BigInt
 * arithmetic, so the WebCrypto path carries no curve library: coordinates must be field
 * elements (< p) and satisfy the curve equation. P-256 has cofactor 1, so such a point is
 * in the prime-order group; the point at infinity has no uncompressed encoding.
 */
export function checkPoint(raw: Uint8Array): void {
  if (raw.length !== 65 || raw[0] !== 4) throw new TypeError('peer key must be a 65-byte uncompressed P-256 point');
  const x = BigInt('0x' + toHex(raw.subarray(1, 33)));
  const y = BigInt('0x' + toHex(raw.subarray(33, 65)));
  const p = P256_P;
  if (x >= p || y >= p || (y * y) % p !== (((((x * x) % p) * x - 3n * x + P256_B) % p) + p) % p) {
    throw new TypeError('peer key is not a valid P-256 point');
  }
}

/** A P-256 ECDSA public key in whatever form it was given, ready to verify. */
export type EcPublicKeyInput = JsonWebKey | string;

export interface EcVerifyKey {
  raw: Uint8Array;
  /** @internal */ key?: Promise<CryptoKey>;
}

function rawToJwk(raw: Uint8Array): JsonWebKey {
  return { kty: 'EC', crv: 'P-256', x: toBase64Url(raw.subarray(1, 33)), y: toBase64Url(raw.subarray(33, 65)), ext: true };
}

const SPKI_P256_PREFIX = new Uint8Array([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
  0x07, 0x03, 0x42, 0x00,
]);

/** JWK, SPKI base64 or PEM -> the uncompressed point. Throws TypeError naming the problem. */
export function ecPublicKeyRaw(input: EcPublicKeyInput): Uint8Array {
  let raw: Uint8Array;
  if (typeof input === 'object' && input !== null) {
    if (input.kty !== 'EC' || input.crv !== 'P-256' || !input.x || !input.y) throw new TypeError('JWK must be an EC P-256 public key');
    // A pin that carries the gateway's private half would ship it in every page: refused, not ignored.
    if (input.d !== undefined) throw new TypeError('JWK holds a private key (d); pin the public key only and keep the private key on the gateway');
    // Each coordinate exactly 32 bytes (RFC 7518 §6.2.1): a 31/33 split of the same 64 bytes is another key's text.
    const x = fromBase64UrlStrict(input.x);
    const y = fromBase64UrlStrict(input.y);
    if (x.length !== 32 || y.length !== 32) throw new TypeError('JWK x and y must be 32 bytes each');
    raw = concatBytes(new Uint8Array([4]), x, y);
  } else if (typeof input === 'string') {
    if (input.includes('PRIVATE KEY-----')) throw new TypeError('this PEM is a private key; pin the public key only and keep the private key on the gateway');
    const b64 = input.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
    const der = fromBase64(b64);
    if (der.length !== 91 || !SPKI_P256_PREFIX.every((v, i) => der[i] === v)) throw new TypeError('SPKI must be a P-256 public key');
    raw = der.slice(26);
  } else {
    throw new TypeError('key must be a JWK, SPKI base64 or PEM');
  }
  checkPoint(raw);
  return raw;
}

export function ecVerifyKey(input: EcPublicKeyInput): EcVerifyKey {
  return { raw: ecPublicKeyRaw(input) };
}

/** Verify an IEEE P1363 (r||s, 64 bytes) ECDSA P-256 / SHA-256 signature. Never throws on bad input. */
export async function ecdsaVerify(key: EcVerifyKey, message: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (sig.length !== 64) return false;
  const s = subtle();
  // Loaded outside the try: a chunk that fails to load is an error, not a bad signature.
  const engine = s ? undefined : await pureEc();
  try {
    if (s) {
      key.key ??= s.importKey('jwk', rawToJwk(key.raw), ECDSA, false, ['verify']);
      return await s.verify(ECDSA_SHA256, await key.key, buf(sig), buf(message));
    }
    // WebCrypto accepts high-S signatures; so does this path, so both engines agree.
    const { p256 } = engine!;
    return p256.verify(sig, message, key.raw, { lowS: false, prehash: true, format: 'compact' });
  } catch {
    return false;
  }
}

/** An ECDSA P-256 signing key (the gateway's long-term key). */
export interface EcSignKey {
  publicRaw: Uint8Array;
  /** @internal */ priv: CryptoKey | Uint8Array;
}

/**
 * The private scalar of a PKCS#8 PEM (or of a raw 32-byte scalar), found synchronously so that a
 * gateway refuses a key it cannot sign with at construction, not at its first issuance. Each
 * message says which wrong form it got (they read after the option's name), never the key.
 */
export function ecSignScalar(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) {
    if (input.length === 32) return input;
    // readFileSync(path) without an encoding: the PEM's text as bytes.
    if (/^\s*-----BEGIN /.test(String.fromCharCode(...input.subarray(0, 32))))
      throw new TypeError("is the bytes of a PEM file; pass its text (readFileSync(path, 'utf8'))");
    throw new TypeError(`is ${input.length} bytes; a Uint8Array must be the 32-byte private scalar (or pass the PKCS#8 PEM text)`);
  }
  if (typeof input === 'object' && input !== null)
    throw new TypeError(
      (input as JsonWebKey).d === undefined
        ? 'is a public key (a JWK without d); give the private key as a PKCS#8 PEM (clients pin the public one in serverKeys)'
        : 'is a JWK; give the private key as a PKCS#8 PEM (BEGIN PRIVATE KEY), e.g. generateSigningKeyPair().privateKeyPem',
    );
  if (typeof input !== 'string' || input.trim() === '')
    throw new TypeError(`must be a PKCS#8 PEM string (BEGIN PRIVATE KEY), got ${typeof input === 'string' ? 'an empty string' : String(input === null ? null : typeof input)} (an unset environment variable?)`);
  // A PEM kept on one line of a .env file: its newlines arrive as backslash + n.
  if (input.includes('\\n')) throw new TypeError('holds "\\n" as two characters (a PEM kept on one line of a .env file?); turn them into newlines first');
  if (input.includes('PUBLIC KEY-----')) throw new TypeError('is a public key; give the private key (PKCS#8 PEM, BEGIN PRIVATE KEY): clients pin the public one in serverKeys');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(input) && !input.includes('-----BEGIN PRIVATE KEY-----')) {
    // SEC1 ("EC PRIVATE KEY", what `openssl ecparam -genkey` writes) or an encrypted key.
    throw new TypeError('is not a PKCS#8 PEM (BEGIN PRIVATE KEY) but SEC1 (EC PRIVATE KEY, what `openssl ecparam -genkey` writes) or encrypted; convert with `openssl pkcs8 -topk8 -nocrypt -in key.pem`');
  }
  const body = input.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new TypeError("is not a PEM (BEGIN PRIVATE KEY) nor its base64: a file path? pass the file's contents");
  return pkcs8EcScalar(fromBase64(body));
}

/** From a PKCS#8 PEM (or a raw 32-byte scalar). */
export async function ecSignKey(input: string | Uint8Array): Promise<EcSignKey> {
  const scalar = ecSignScalar(input);
  const { p256 } = await pureEc();
  const publicRaw = p256.getPublicKey(scalar, false);
  const s = subtle();
  if (!s) return { publicRaw, priv: scalar.slice() };
  const priv = await s.importKey('jwk', { ...rawToJwk(publicRaw), d: toBase64Url(scalar) }, ECDSA, false, ['sign']);
  return { publicRaw, priv };
}

/** OID 1.2.840.10045.3.1.7 (prime256v1 / P-256), DER-encoded with its tag and length. */
const P256_OID = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

function contains(der: Uint8Array, pattern: number[]): boolean {
  outer: for (let i = 0; i + pattern.length <= der.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (der[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * The 32-byte private scalar inside a P-256 PKCS#8 (RFC 5915 ECPrivateKey: 04 20 <d>).
 * The curve must be named P-256: a key of another 32-byte curve (secp256k1) is refused,
 * never signed with as if it were P-256.
 */
function pkcs8EcScalar(der: Uint8Array): Uint8Array {
  if (!contains(der, P256_OID)) throw new TypeError('is not a P-256 PKCS#8 private key (the curve is not prime256v1)');
  for (let i = 0; i + 34 <= der.length; i++) {
    if (der[i] === 0x02 && der[i + 1] === 0x01 && der[i + 2] === 0x01 && der[i + 3] === 0x04 && der[i + 4] === 0x20) return der.slice(i + 5, i + 37);
  }
  throw new TypeError('is not a P-256 PKCS#8 private key');
}

export async function ecdsaSign(key: EcSignKey, message: Uint8Array): Promise<Uint8Array> {
  const s = subtle();
  if (s && !(key.priv instanceof Uint8Array)) return new Uint8Array(await s.sign(ECDSA_SHA256, key.priv, buf(message)));
  if (!(key.priv instanceof Uint8Array)) throw keyNeedsSubtle();
  const { p256 } = await pureEc();
  return p256.sign(message, key.priv, { prehash: true, format: 'compact', extraEntropy: randomBytes(32) });
}

/**
 * A fresh ECDSA P-256 key for a `modern` gateway: the private key as PKCS#8 PEM (the gateway's
 * `signingKeys`) and the public key as a JWK (what clients pin in `serverKeys`).
 */
export async function generateSigningKeyPair(): Promise<{ privateKeyPem: string; publicJwk: JsonWebKey }> {
  const s = requireSubtle('signing-key generation');
  const pair = (await s.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await s.exportKey('pkcs8', pair.privateKey));
  const { kty, crv, x, y } = await s.exportKey('jwk', pair.publicKey);
  return { privateKeyPem: derToPem(pkcs8, 'PRIVATE KEY'), publicJwk: { kty, crv, x, y } };
}
