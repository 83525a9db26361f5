/**
 * Signing offline packages (PROTOCOLS.md §5), the server half of src/package/verify.ts:
 * `signPackage` writes CERT.json (each file name -> base64 PKCS#1 v1.5 signature) into
 * the zip; `signPackageDetached` signs the whole file for the detached layout.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { RpcError, badConfig } from '../errors.js';
import { toBase64 } from '../codec/base64.js';
import { utf8Encode } from '../codec/utf8.js';
import { signRsa, type RsaHash } from '../crypto/rsa.js';
import { CERT_FILE, unsafePath } from '../package/verify.js';


export interface SignPackageOptions {
  /** Default 'SHA-256'; 'SHA-1' for containers that only know the legacy format. */
  hash?: RsaHash;
}

function checkHash(hash: unknown): RsaHash {
  if (hash !== 'SHA-1' && hash !== 'SHA-256') throw badConfig('hash', `expected "SHA-1" or "SHA-256", got ${JSON.stringify(hash)}`);
  return hash;
}

/**
 * Sign every file of a package and return the zip with CERT.json added. Input is a zip
 * or a map of path -> bytes; a CERT.json already there is replaced (re-signing).
 */
export async function signPackage(
  zipOrFiles: Uint8Array | Record<string, Uint8Array>,
  privateKeyPem: string,
  opts: SignPackageOptions = {},
): Promise<Uint8Array> {
  const hash = checkHash(opts.hash ?? 'SHA-256');
  let entries: Record<string, Uint8Array>;
  if (zipOrFiles instanceof Uint8Array) {
    try {
      entries = unzipSync(zipOrFiles);
    } catch (e) {
      throw new RpcError('BAD_CONFIG', 'zip: the input is not a readable zip', { details: { option: 'zip' }, cause: e });
    }
  } else {
    entries = zipOrFiles;
  }
  const names = Object.keys(entries)
    .filter((n) => n !== CERT_FILE && !(n.endsWith('/') && entries[n].length === 0)) // directories are not signed
    .sort();
  const cert: Record<string, string> = {};
  const files: Zippable = {};
  // What every client would refuse is refused here, before a package nobody can use is written.
  if (names.length === 0) throw badConfig('files', 'no files to sign (only directories, or nothing but CERT.json)');
  for (const name of names) {
    if (unsafePath(name)) throw badConfig('files', `${name}: unsafe path (absolute, "..", a drive letter or a backslash), which verifyPackage refuses`);
  }
  // One at a time: each signature is cheap, and the key import is cached after the first.
  for (const name of names) {
    const data = entries[name];
    if (!(data instanceof Uint8Array)) throw badConfig('files', `${name}: expected a Uint8Array`);
    cert[name] = toBase64(await signRsa(data, privateKeyPem, hash, 'privateKeyPem'));
    files[name] = data;
  }
  files[CERT_FILE] = utf8Encode(JSON.stringify(cert, null, 2));
  return zipSync(files);
}

/** Raw PKCS#1 v1.5 signature over the whole package file (the detached layout). */
export async function signPackageDetached(bytes: Uint8Array, privateKeyPem: string, hash: RsaHash = 'SHA-256'): Promise<Uint8Array> {
  return signRsa(bytes, privateKeyPem, checkHash(hash), 'privateKeyPem');
}
