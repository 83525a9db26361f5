/**
 * Offline packages (PROTOCOLS.md §5): verified before anything inside is used.
 *
 * Two layouts:
 * - CERT.json: the zip holds the files and `CERT.json`, a JSON object mapping each file
 *   name to a base64 RSA PKCS#1 v1.5 signature over that file's bytes (SHA-1 in the
 *   container's legacy format, SHA-256 for packages we sign). Every file must be
 *   listed and verify; nothing listed may be missing.
 * - detached: one signature over the whole package file, given by the caller.
 *
 * Any failure is `RpcError('PACKAGE_SIGNATURE_INVALID')` with `details.file` naming the
 * culprit (`(zip)` for an unreadable archive, `(package)` for a detached signature).
 * Files are returned only once everything verified.
 */
import { loadUnzip } from './unzip.js';
import type { ZipEntry } from './zip.js';
import { RpcError, badConfig, refuseUnknownOptions } from '../errors.js';
import { utf8Decode } from '../codec/utf8.js';
import { decodeSignatureText, importRsaKey, verifyRsa, type RsaHash } from '../crypto/rsa.js';

export const CERT_FILE = 'CERT.json';

export interface VerifyPackageOptions {
  /** PEM public key (SPKI or PKCS#1) matching the private key that signed the package. */
  publicKey: string;
  /** Digest of the signatures; default 'SHA-256' ('SHA-1' for the container's legacy packages). */
  hash?: RsaHash;
  /**
   * Detached signature over the whole package file (the other layout): raw bytes, base64 /
   * base64url text, or the bytes of a signature file holding either (wrapped text is fine).
   * When given, CERT.json is not required.
   */
  signature?: string | Uint8Array;
  /** Refuse a zip whose entries declare more than this many unpacked bytes in all (default 128 MiB): a zip bomb is refused before anything is inflated, and no entry may inflate past what it declared. */
  maxUnpackedBytes?: number;
  /**
   * Files the package must hold (e.g. `['<appId>.tar']`). CERT.json signs each file's bytes,
   * not its name or the set of files, so a package with a signed file left out (its
   * CERT.json line with it) still verifies; naming the files the page needs refuses that.
   */
  requiredFiles?: readonly string[];
}

/** Default bound on a package's unpacked size. */
const DEFAULT_MAX_UNPACKED_BYTES = 128 * 1024 * 1024;

export interface VerifiedPackage {
  /**
   * Every file of the package by its path in the zip (directory entries left out). CERT.json is
   * left out in the CERT.json layout; with a detached `signature` it is just another file, and is here.
   */
  files: Record<string, Uint8Array>;
}

/**
 * A detached signature as given: base64 text (standard or URL-safe), or the bytes of a
 * signature file, which may be raw (`openssl dgst -sign`) or base64 text. Bytes that are
 * all base64 characters and whitespace are read as text (a raw RSA signature never is).
 */
function detachedSignature(sig: string | Uint8Array): Uint8Array | null {
  if (typeof sig === 'string') return decodeSignatureText(sig.replace(/\s+/g, '')); // (wrapped text read with readFile or res.text())
  for (const b of sig) {
    const text =
      (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
      b === 0x2b || b === 0x2f || b === 0x2d || b === 0x5f || b === 0x3d ||
      b === 0x09 || b === 0x0a || b === 0x0d || b === 0x20; // whitespace: wrapped or indented text
    if (!text) return sig;
  }
  // Text files wrap base64 (openssl base64 does at 64 columns): drop the whitespace.
  return decodeSignatureText(utf8Decode(sig).replace(/\s+/g, ''));
}

function invalid(file: string, problem: string, cause?: unknown, hint?: string): RpcError {
  return new RpcError('PACKAGE_SIGNATURE_INVALID', `offline package: ${file}: ${problem}`, {
    details: { file },
    ...(cause === undefined ? {} : { cause }),
    ...(hint === undefined ? {} : { hint }),
  });
}

/** What bytes that are no zip are, by their first bytes: the usual wrong download or archive, else the reader's word. */
function notZip(b: Uint8Array, reason: string, cause: unknown): RpcError {
  const at = (i: number, s: string) => [...s].every((c, j) => b[i + j] === c.charCodeAt(0));
  let i = 0;
  while (i < b.length && i < 64 && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  // An SPA's index.html or a CDN's error page answered with 200 at the package URL.
  if (b[i] === 0x3c) return invalid('(zip)', 'an HTML page, not a zip', cause, 'An HTML page answered, not the package: check the package URL.');
  if (at(0, '\x1f\x8b')) return invalid('(zip)', 'a gzip file (.tar.gz?), not a zip', cause);
  if (at(257, 'ustar')) return invalid('(zip)', 'a tar file, not a zip', cause);
  return invalid('(zip)', `not a readable zip (${reason})`, cause);
}

/** @internal Names a consumer could not write safely under its package folder (zip-slip); the signer refuses them too. */
export function unsafePath(name: string): boolean {
  return name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..');
}

/**
 * Every entry's bytes, after the whole directory passed its checks (names, sizes, overlap,
 * the declared total). The reader is loaded first (on demand in the IIFE build: a failed
 * load is its own RpcError, not a bad package).
 */
async function unzip(bytes: Uint8Array, maxUnpackedBytes: number): Promise<Map<string, Uint8Array>> {
  const { readZipEntries, readZipEntry } = await loadUnzip();
  let entries: ZipEntry[];
  try {
    entries = readZipEntries(bytes);
  } catch (e) {
    // (By name: in the IIFE build the class lives in the on-demand file.)
    throw notZip(bytes, e instanceof Error && e.name === 'ZipFormatError' ? e.message : 'truncated or corrupt', e);
  }
  let declared = 0;
  for (const entry of entries) declared += entry.size;
  if (declared > maxUnpackedBytes) throw invalid('(zip)', `unpacks to more than maxUnpackedBytes (${maxUnpackedBytes} bytes)`);
  const files = new Map<string, Uint8Array>();
  for (const entry of entries) {
    // Two entries with one name: other unzip tools may pick the other one, so refuse.
    if (files.has(entry.name)) throw invalid(entry.name, 'appears twice in the zip');
    let data: Uint8Array | null;
    try {
      data = readZipEntry(bytes, entry);
    } catch (e) {
      // A declared size no buffer can hold (RangeError), under a raised maxUnpackedBytes.
      throw invalid(entry.name, `declares ${entry.size} bytes, more than can be unpacked here`, e);
    }
    if (data === null) throw invalid(entry.name, `does not inflate to the ${entry.size} bytes the zip declares, or has bytes after its DEFLATE stream (corrupt, a zip bomb, or something hidden after it)`);
    files.set(entry.name, data);
  }
  return files;
}

/** The entries that are files (directory entries carry no bytes and are not signed). */
function fileEntries(entries: Map<string, Uint8Array>): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const [name, data] of entries) {
    // Directory entries too: an extractor trusting a verified package would make them.
    if (unsafePath(name)) throw invalid(name, 'unsafe path in the zip');
    if (name.endsWith('/') && data.length === 0) continue;
    files[name] = data;
  }
  return files;
}

function readCert(data: Uint8Array | undefined, names: string[]): Record<string, string> {
  if (data === undefined) {
    // A zip of the folder rather than of its contents: everything is one level down.
    const nested = names.find((n) => n.endsWith(`/${CERT_FILE}`));
    throw invalid(CERT_FILE, nested === undefined ? 'missing: the package is not signed' : `not at the top of the zip but at ${nested}: zip the folder's contents, not the folder`);
  }
  let cert: unknown;
  try {
    cert = JSON.parse(utf8Decode(data).replace(/^\uFEFF/, '')); // (Windows editors save a BOM)
  } catch (e) {
    throw invalid(CERT_FILE, 'not valid UTF-8 JSON', e);
  }
  if (cert === null || typeof cert !== 'object' || Array.isArray(cert)) throw invalid(CERT_FILE, 'not a JSON object');
  for (const [name, sig] of Object.entries(cert)) {
    if (typeof sig !== 'string') throw invalid(name, `${CERT_FILE} entry is not a string`);
  }
  return cert as Record<string, string>;
}

/** @internal The options, checked (loadPackage checks them before it downloads anything). */
export function verifyOptions(opts: VerifyPackageOptions): { hash: RsaHash; maxUnpackedBytes: number; requiredFiles: readonly string[] } {
  if (!opts || typeof opts.publicKey !== 'string') throw badConfig('publicKey', 'expected a PEM public key');
  refuseUnknownOptions(opts, ['publicKey', 'hash', 'signature', 'maxUnpackedBytes', 'requiredFiles'], 'verifyPackage');
  const hash = opts.hash ?? 'SHA-256';
  if (hash !== 'SHA-1' && hash !== 'SHA-256') throw badConfig('hash', `expected "SHA-1" or "SHA-256", got ${JSON.stringify(hash)}`);
  const maxUnpackedBytes = opts.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES;
  if (!(Number.isSafeInteger(maxUnpackedBytes) && maxUnpackedBytes > 0)) throw badConfig('maxUnpackedBytes', 'must be a positive whole number of bytes');
  const sig = opts.signature;
  if (!(sig === undefined || typeof sig === 'string' || sig instanceof Uint8Array)) throw badConfig('signature', 'expected base64 text or the bytes of a signature file');
  // '.' and ':' are in no base64: the signature's URL or file name where the signature belongs.
  if (typeof sig === 'string' && /[.:]/.test(sig)) throw badConfig('signature', "a URL or file name, not base64: loadPackage takes a URL as signatureUrl");
  const requiredFiles = opts.requiredFiles ?? [];
  if (!Array.isArray(requiredFiles) || !requiredFiles.every((n) => typeof n === 'string' && n !== '' && n !== CERT_FILE)) {
    throw badConfig('requiredFiles', `expected an array of file names in the package (not ${CERT_FILE})`);
  }
  return { hash, maxUnpackedBytes, requiredFiles };
}

/** One name written another way (`./a`, `a\\b`, another case): a console's or a Windows tool's slip, worth naming. */
function sameName(a: string, b: string): boolean {
  const norm = (n: string) => n.replace(/\\/g, '/').replace(/^(\.\/)+/, '').toLowerCase();
  return norm(a) === norm(b);
}

/** A detached signature as the text it was given in ('' for raw bytes), to tell a hex one. */
function signatureText(given: string | Uint8Array): string {
  if (typeof given === 'string') return given;
  try {
    return utf8Decode(given);
  } catch {
    return '';
  }
}

/** Why a signature failed, where the usual mistakes can be told apart; never accepts anything. */
async function whyBad(data: Uint8Array, text: string, sig: Uint8Array | null, publicKey: string, hash: RsaHash): Promise<string> {
  // Hex (openssl dgst -hex) is base64 too, decoding to the wrong bytes.
  if (/^[0-9a-fA-F]{128,}$/.test(text.replace(/\s+/g, ''))) return 'it is hex; base64 or the raw bytes are expected';
  const other: RsaHash = hash === 'SHA-256' ? 'SHA-1' : 'SHA-256';
  if (sig && (await verifyRsa(data, sig, publicKey, other, 'publicKey'))) return `it was made with ${other}: set hash (--hash) to ${other}`;
  return 'tampered, or signed with another key or hash';
}

function checkRequired(files: Record<string, Uint8Array>, requiredFiles: readonly string[]): void {
  for (const name of requiredFiles) {
    if (!Object.hasOwn(files, name)) throw invalid(name, 'required (requiredFiles) but not in the package');
  }
}

/**
 * Verify an offline package and return its files. Throws PACKAGE_SIGNATURE_INVALID
 * naming the file for any missing, bad, extra or unreadable part; BAD_CONFIG for a bad
 * key or option; CRYPTO_UNAVAILABLE where WebCrypto is missing (no pure-JS RSA).
 */
export async function verifyPackage(bytes: Uint8Array, opts: VerifyPackageOptions): Promise<VerifiedPackage> {
  const { hash, maxUnpackedBytes, requiredFiles } = verifyOptions(opts);
  // Import before looking at the package: a key mistake is a config error, not a bad package.
  await importRsaKey(opts.publicKey, 'public', hash, 'publicKey');
  if (!(bytes instanceof Uint8Array)) throw invalid('(package)', 'expected the package bytes as a Uint8Array');

  if (opts.signature !== undefined) {
    const sig = detachedSignature(opts.signature);
    if (!sig || !(await verifyRsa(bytes, sig, opts.publicKey, hash, 'publicKey'))) {
      throw invalid('(package)', `the detached signature does not verify (${await whyBad(bytes, signatureText(opts.signature), sig, opts.publicKey, hash)})`);
    }
    // The whole file is authentic; a CERT.json inside, if any, is just another file.
    const files = fileEntries(await unzip(bytes, maxUnpackedBytes));
    checkRequired(files, requiredFiles);
    return { files: { ...files } };
  }

  const files = fileEntries(await unzip(bytes, maxUnpackedBytes));
  const cert = readCert(files[CERT_FILE], Object.keys(files));
  delete files[CERT_FILE];

  const names = Object.keys(files);
  // A CERT.json listing nothing signs nothing: "verified" must mean some signature was checked.
  if (names.length === 0) throw invalid(CERT_FILE, 'lists no files: nothing in the package is signed');
  checkRequired(files, requiredFiles);
  for (const name of names) {
    if (!Object.hasOwn(cert, name)) {
      const near = Object.keys(cert).find((k) => sameName(k, name));
      throw invalid(name, `not listed in ${CERT_FILE} (unsigned file)${near === undefined ? '' : `; it lists ${JSON.stringify(near)}: names must be the zip's exactly`}`);
    }
  }
  for (const name of Object.keys(cert)) {
    if (!Object.hasOwn(files, name)) throw invalid(name, `listed in ${CERT_FILE} but missing from the zip`);
  }
  const results = await Promise.all(
    names.map(async (name) => {
      const sig = decodeSignatureText(cert[name]);
      return sig !== null && (await verifyRsa(files[name], sig, opts.publicKey, hash, 'publicKey'));
    }),
  );
  const bad = names.find((_, i) => !results[i]);
  if (bad !== undefined) throw invalid(bad, `signature does not verify (${await whyBad(files[bad], cert[bad], decodeSignatureText(cert[bad]), opts.publicKey, hash)})`);
  return { files: { ...files } };
}
