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

/** One entry of rawZip: its local header, data and (optionally) what follows, as given. */
export interface Raw {
  name: string;
  /** Bytes between the local header and the descriptor / next header (what the directory counts as compressed data). */
  data: Uint8Array;
  method: 0 | 8;
  size: number;
  crc: number;
  flags?: number;
  localSizes?: [number, number];
  localExtra?: Uint8Array;
  /** Bytes after the data (a data descriptor). */
  after?: Uint8Array;
}

/** A zip built byte by byte (local headers, directory, end record), so tests can shape what a writer never would. */
export function rawZip(entries: Raw[], opts: { prefix?: Uint8Array; comment?: Uint8Array } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array) => (parts.push(b), (offset += b.length));
  if (opts.prefix) push(opts.prefix);
  const at: number[] = [];
  for (const e of entries) {
    const n = strToU8(e.name);
    const extra = e.localExtra ?? new Uint8Array(0);
    const h = new Uint8Array(30 + n.length + extra.length);
    const v = new DataView(h.buffer);
    const flags = e.flags ?? 0x800;
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, flags, true);
    v.setUint16(8, e.method, true);
    v.setUint32(14, flags & 8 ? 0 : e.crc, true);
    v.setUint32(18, e.localSizes ? e.localSizes[0] : flags & 8 ? 0 : e.data.length, true);
    v.setUint32(22, e.localSizes ? e.localSizes[1] : flags & 8 ? 0 : e.size, true);
    v.setUint16(26, n.length, true);
    v.setUint16(28, extra.length, true);
    h.set(n, 30);
    h.set(extra, 30 + n.length);
    at.push(offset);
    push(h);
    push(e.data);
    if (e.after) push(e.after);
  }
  const cd = offset;
  entries.forEach((e, i) => {
    const n = strToU8(e.name);
    const h = new Uint8Array(46 + n.length);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, 45, true);
    v.setUint16(8, e.flags ?? 0x800, true);
    v.setUint16(10, e.method, true);
    v.setUint32(16, e.crc, true);
    v.setUint32(20, e.data.length, true);
    v.setUint32(24, e.size, true);
    v.setUint16(28, n.length, true);
    v.setUint32(42, at[i], true);
    h.set(n, 46);
    push(h);
  });
  const comment = opts.comment ?? new Uint8Array(0);
  const end = new Uint8Array(22 + comment.length);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, offset - cd, true);
  v.setUint32(16, cd, true);
  v.setUint16(20, comment.length, true);
  end.set(comment, 22);
  push(end);
  return concatBytes(...parts);
}
