/**
 * RSA PKCS#1 v1.5 signatures (PROTOCOLS.md §5 offline packages, §6 push service).
 * WebCrypto only: there is no pure-JS RSA path, so where `crypto.subtle` is missing
 * every operation fails with the typed CRYPTO_UNAVAILABLE error from requireSubtle.
 *
 * Keys are PEM: SPKI `PUBLIC KEY` and PKCS#8 `PRIVATE KEY` import directly; PKCS#1
 * `RSA PUBLIC KEY` / `RSA PRIVATE KEY` (what `openssl rsa -traditional` and many Java
 * consoles hand out) are wrapped into SPKI / PKCS#8 here, because WebCrypto only
 * imports the wrapped forms.
 */
import { RpcError, badConfig } from '../errors.js';
import { fromBase64, toBase64 } from '../codec/base64.js';
import { concatBytes } from '../codec/bytes.js';
import { derToPem } from '../codec/pem.js';
import { utf8Encode } from '../codec/utf8.js';
import { buf, requireSubtle } from './provider.js';

export type RsaHash = 'SHA-1' | 'SHA-256';

const ALG = 'RSASSA-PKCS1-v1_5';

// ---- minimal DER writing: just what the two wrappers need ----

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function der(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), derLength(content.length), content);
}

/** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
const RSA_ALG_ID = Uint8Array.of(
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
);

/** SubjectPublicKeyInfo { algId, BIT STRING (0 unused bits) { RSAPublicKey } }. */
function pkcs1PublicToSpki(rsaPublicKey: Uint8Array): Uint8Array {
  const bitString = der(0x03, concatBytes(Uint8Array.of(0), rsaPublicKey));
  return der(0x30, concatBytes(RSA_ALG_ID, bitString));
}

/** PrivateKeyInfo { version 0, algId, OCTET STRING { RSAPrivateKey } }. */
function pkcs1PrivateToPkcs8(rsaPrivateKey: Uint8Array): Uint8Array {
  const version = Uint8Array.of(0x02, 0x01, 0x00);
  return der(0x30, concatBytes(version, RSA_ALG_ID, der(0x04, rsaPrivateKey)));
}

// ---- PEM ----

type KeyKind = 'public' | 'private';

/** Skip one DER header and return the offset of its content (or -1). */
function derContentStart(b: Uint8Array, at: number): number {
  if (at + 2 > b.length) return -1;
  const l = b[at + 1];
  if (l < 0x80) return at + 2;
  const n = l & 0x7f;
  return n >= 1 && n <= 4 && at + 2 + n <= b.length ? at + 2 + n : -1;
}

/**
 * For bare base64 keys (what Java consoles print: PEM without the armour), tell the
 * wrapped form from PKCS#1 by the first element inside the outer SEQUENCE:
 * SPKI starts with a SEQUENCE (the algId), RSAPublicKey with INTEGER n;
 * PKCS#8 has INTEGER 0 then a SEQUENCE, RSAPrivateKey has INTEGER 0 then INTEGER n.
 */
function isPkcs1(derBytes: Uint8Array, kind: KeyKind): boolean {
  if (derBytes[0] !== 0x30) return false;
  const first = derContentStart(derBytes, 0);
  if (first < 0) return false;
  if (kind === 'public') return derBytes[first] === 0x02;
  const second = derContentStart(derBytes, first);
  if (second < 0 || derBytes[first] !== 0x02) return false;
  const afterVersion = second + derBytes[first + 1];
  return derBytes[afterVersion] === 0x02;
}

/** PEM (or bare base64 DER) -> the DER WebCrypto imports: SPKI or PKCS#8. */
function pemToDer(pem: string, kind: KeyKind, option: string): Uint8Array {
  if (typeof pem !== 'string' || pem.trim() === '') throw badConfig(option, `expected a PEM ${kind} key`);
  pem = pem.replace(/\\r|\\n/g, '\n'); // a PEM kept in JSON or a .env file: line breaks as the two characters \n
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  const label = m ? m[1] : null;
  const body = (m ? m[2] : pem).replace(/\s+/g, '');
  const wanted = kind === 'public' ? ['PUBLIC KEY', 'RSA PUBLIC KEY'] : ['PRIVATE KEY', 'RSA PRIVATE KEY'];
  // Before the label check: "ENCRYPTED PRIVATE KEY" (PKCS#8) needs this answer, not "wrong label".
  if (/ENCRYPTED/.test(pem)) throw badConfig(option, 'encrypted keys are not supported; decrypt it first (openssl pkey)');
  if (label !== null && !wanted.includes(label)) {
    // Name what was found (a label is not secret) so the user sees e.g. a swapped key.
    const cert = label === 'CERTIFICATE' && kind === 'public' ? '; take its key: openssl x509 -pubkey -noout' : ''; // what many consoles hand out
    throw badConfig(option, `expected a PEM "${wanted.join('" or "')}", got "${label}"${cert}`);
  }
  if (label === null && /-----/.test(pem)) throw badConfig(option, 'malformed PEM armour');
  // '.', '\\' and '~' are in no base64: a file's name where its text belongs.
  if (label === null && /[.\\~]/.test(body)) throw badConfig(option, "a file path, not a key: pass the file's text (readFileSync(path, 'utf8'))");
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(body);
  } catch {
    throw badConfig(option, 'the PEM body is not valid base64');
  }
  if (bytes.length < 16 || bytes[0] !== 0x30) throw badConfig(option, 'the PEM body is not a DER key');
  const pkcs1 = label === null ? isPkcs1(bytes, kind) : label.startsWith('RSA ');
  if (!pkcs1) return bytes;
  return kind === 'public' ? pkcs1PublicToSpki(bytes) : pkcs1PrivateToPkcs8(bytes);
}

// ---- key cache ----

/** Imported keys, by kind + hash + PEM text; a bounded FIFO so per-call keys cannot grow it forever. */
const keys = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_MAX = 32;

function checkHash(hash: unknown): RsaHash {
  if (hash !== 'SHA-1' && hash !== 'SHA-256') throw badConfig('hash', `expected "SHA-1" or "SHA-256", got ${JSON.stringify(hash)}`);
  return hash;
}

/** @internal Import (once) a PEM key for RSASSA-PKCS1-v1_5 with `hash`. */
export function importRsaKey(pem: string, kind: KeyKind, hash: RsaHash, option: string): Promise<CryptoKey> {
  const s = requireSubtle(`RSA ${kind === 'public' ? 'verification' : 'signing'}`);
  checkHash(hash);
  const id = `${kind}|${hash}|${pem}`;
  let k = keys.get(id);
  if (!k) {
    const derBytes = pemToDer(pem, kind, option); // throws BAD_CONFIG synchronously, nothing cached
    if (keys.size >= KEY_CACHE_MAX) keys.delete(keys.keys().next().value as string);
    const alg = { name: ALG, hash };
    k = (
      kind === 'public'
        ? s.importKey('spki', buf(derBytes), alg, false, ['verify'])
        : s.importKey('pkcs8', buf(derBytes), alg, false, ['sign'])
    ).catch((e: unknown) => {
      keys.delete(id); // a bad key must not stay cached as a rejection
      throw new RpcError('BAD_CONFIG', `${option}: not an importable RSA ${kind} key`, { details: { option }, cause: e });
    });
    keys.set(id, k);
  }
  return k;
}

/** What is signed: text as UTF-8, or bytes. Anything else (e.g. a body a framework already parsed) would sign other bytes: refused. */
function bytesOf(data: unknown, option = 'data'): Uint8Array {
  if (typeof data === 'string') return utf8Encode(data);
  if (data instanceof Uint8Array) return data;
  // What fetch-API servers have in hand (`await request.arrayBuffer()`), and Node Buffers' siblings.
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw badConfig(option, `expected the raw text (string) or bytes (Uint8Array, ArrayBuffer) that were signed, got ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}; a parsed JSON body is not what was signed`);
}

// ---- signatures ----

/** PKCS#1 v1.5 signature over `data` (strings are signed as UTF-8). */
export async function signRsa(
  data: string | Uint8Array,
  privateKeyPem: string,
  hash: RsaHash = 'SHA-256',
  option = 'privateKeyPem',
): Promise<Uint8Array> {
  const message = bytesOf(data);
  const key = await importRsaKey(privateKeyPem, 'private', hash, option);
  // New signatures only: verification still takes the 1024-bit keys older push services hold.
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits < 2048) throw badConfig(option, `a ${bits}-bit RSA key is too weak to sign with (at least 2048 bits; sealed-rpc keygen-rsa makes one)`);
  const s = requireSubtle('RSA signing');
  return new Uint8Array(await s.sign(ALG, key, buf(message)));
}

/**
 * Verify a PKCS#1 v1.5 signature. Never throws for a bad or malformed signature
 * (that is `false`); throws only for configuration problems, not forgeries: a bad key, a
 * `hash` other than 'SHA-1' / 'SHA-256', or `data` that is not text or bytes (BAD_CONFIG
 * naming it), or missing WebCrypto (CRYPTO_UNAVAILABLE).
 */
export async function verifyRsa(
  data: string | Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string,
  hash: RsaHash = 'SHA-256',
  option = 'publicKeyPem',
): Promise<boolean> {
  const message = bytesOf(data); // a wrong type is a caller's mistake (BAD_CONFIG), not a `false`
  const key = await importRsaKey(publicKeyPem, 'public', hash, option);
  const s = requireSubtle('RSA verification');
  if (!(signature instanceof Uint8Array) || signature.length === 0) return false;
  try {
    return await s.verify(ALG, key, buf(signature), buf(message));
  } catch {
    return false; // e.g. a signature of the wrong length on some engines
  }
}

/** The push service's form: standard base64, then `+` -> `-`, `/` -> `_`, `=` kept. */
function toMpsBase64(sig: Uint8Array): string {
  return toBase64(sig).replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Read a signature written as standard base64, the push service's URL-safe form with
 * padding, or unpadded base64url; `null` when it is none of them. One alphabet per
 * text: a mix of `+`/`-` or `/`/`_` is not a form anyone writes.
 */
export function decodeSignatureText(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  if (t === '' || (/[+/]/.test(t) && /[-_]/.test(t))) return null;
  const std = t.replace(/-/g, '+').replace(/_/g, '/');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(std);
  } catch {
    return null;
  }
  // Canonical only: text whose last character carries stray low bits decodes to the same
  // bytes as the true text, so one signature would have many accepted spellings.
  const canonical = toBase64(bytes);
  return std === canonical || std === canonical.replace(/=+$/, '') ? bytes : null;
}

/** SHA256withRSA over the UTF-8 body, in the push service's URL-safe base64 (PROTOCOLS.md §6). */
export async function signRsaSha256(data: string | Uint8Array, privateKeyPem: string): Promise<string> {
  return toMpsBase64(await signRsa(data, privateKeyPem, 'SHA-256', 'privateKeyPem'));
}

/** Verify SHA256withRSA; the signature may be standard base64, URL-safe with padding or unpadded base64url. */
export async function verifyRsaSha256(data: string | Uint8Array, signature: string, publicKeyPem: string): Promise<boolean> {
  // Import first so a bad key is reported even when the signature is also bad.
  await importRsaKey(publicKeyPem, 'public', 'SHA-256', 'publicKeyPem');
  const sig = decodeSignatureText(signature);
  if (!sig) return false;
  return verifyRsa(data, sig, publicKeyPem, 'SHA-256', 'publicKeyPem');
}

/** A fresh RSA key pair as PEM (PKCS#8 private, SPKI public), e.g. for `sealed-rpc keygen-rsa`. */
export async function generateRsaKeyPair(bits = 2048): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 8192 || bits % 8 !== 0) {
    throw badConfig('bits', 'expected a multiple of 8 from 2048 to 8192');
  }
  const s = requireSubtle('RSA key generation');
  const pair = (await s.generateKey(
    { name: ALG, modulusLength: bits, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await s.exportKey('pkcs8', pair.privateKey));
  const spki = new Uint8Array(await s.exportKey('spki', pair.publicKey));
  return { privateKeyPem: derToPem(pkcs8, 'PRIVATE KEY'), publicKeyPem: derToPem(spki, 'PUBLIC KEY') };
}
