/** Shared by the offline-package tests: the test signing key, CERT.json made by hand, and what a reader by local headers extracts. */
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { strFromU8, strToU8, Unzip, UnzipInflate, UnzipPassThrough } from 'fflate';
import { concatBytes } from '../../src/codec/bytes.js';

const vector = (JSON.parse(readFileSync(new URL('../../../shared/vectors/primitives.json', import.meta.url), 'utf8')) as { vectors: { name: string; key: string; privateKeyPemTestOnly: string }[] }).vectors.find(
  (v) => v.name === 'rsa-2048-pkcs1v15-sha256-1',
)!;
/** The RSA-2048 pair of the shared vector rsa-2048-pkcs1v15-sha256-1. */
export const PUBLIC = vector.key;
export const PRIVATE = vector.privateKeyPemTestOnly;

/** CERT.json for `files`, signed with PRIVATE (SHA-256), without signPackage's own checks. */
export function certFor(files: Record<string, Uint8Array>): Uint8Array {
  const cert: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) cert[name] = createSign('sha256').update(data).sign(PRIVATE, 'base64');
  return strToU8(JSON.stringify(cert));
}

/**
 * What a reader going by local headers, front to back (Java's ZipInputStream, fflate's Unzip,
 * many containers), extracts: name -> text, the first copy of a name winning; an entry it cannot
 * finish is left out, and what it extracted before a broken part still counts.
 */
export function byLocalHeaders(zip: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const u = new Unzip((f) => {
    const parts: Uint8Array[] = [];
    f.ondata = (err, d, final) => {
      if (err) return;
      parts.push(d);
      if (final && !(f.name in out)) out[f.name] = strFromU8(concatBytes(...parts));
    };
    f.start();
  });
  u.register(UnzipPassThrough);
  u.register(UnzipInflate);
  try {
    u.push(zip, true);
  } catch {
    /* what was extracted so far is what counts */
  }
  return out;
}
