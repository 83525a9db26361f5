/**
 * @internal A zip read for verification: the central directory is walked without inflating
 * anything, so every bound (names, sizes, overlap) is checked first, and each deflated entry
 * is then inflated in steps that stop as soon as it yields more than it declared. fflate's
 * unzipSync cannot do that last part: it inflates a whole entry into a buffer of the
 * declared size and keeps decoding past its end, so a 260 KB bomb declaring 1 byte costs a
 * second of main-thread time per entry that names it. Lives with fflate in what is loaded on
 * demand (unzip.ts; the IIFE's sealed-rpc.unzip.iife.js), so pages that never verify a
 * package do not carry it.
 */
import { Inflate } from 'fflate';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated (nothing else is accepted). */
  method: number;
  compressedSize: number;
  size: number;
  /** Where the entry's local header starts, and where its data starts (after that header). */
  headerStart: number;
  dataStart: number;
}

/** Thrown for anything that is not a zip this reader accepts; verify.ts reports it as `(zip)`. */
export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
/** General purpose flags: bit 0 encrypted, bit 3 sizes in a data descriptor after the data, bit 11 UTF-8 name. */
const ENCRYPTED = 0x1;
const DESCRIBED = 0x8;
const UTF8_NAME = 0x800;
const MAX32 = 0xffffffff;
/** Compressed input per inflate step: one step can yield at most ~1032× this (DEFLATE's limit) before the bound is checked. */
const INFLATE_STEP = 16 * 1024;
const utf8Names = new TextDecoder();

function fail(problem: string): never {
  throw new ZipFormatError(problem);
}

/**
 * The entries of the central directory, in its order. Refuses truncated, overlapping or
 * out-of-range parts, and any byte a reader going by the local headers (Java's
 * ZipInputStream, fflate's Unzip, many containers) would read differently: each local header
 * must repeat its directory record's name, method and flags, and the entries must follow one
 * another from the first byte to the directory, so no unlisted (unsigned) entry hides between them.
 */
export function readZipEntries(d: Uint8Array): ZipEntry[] {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const u16 = (at: number): number => (at + 2 <= d.length ? v.getUint16(at, true) : fail('truncated'));
  const u32 = (at: number): number => (at + 4 <= d.length ? v.getUint32(at, true) : fail('truncated'));
  const u64 = (at: number): number => {
    const n = u32(at) + u32(at + 4) * 2 ** 32;
    return Number.isSafeInteger(n) ? n : fail('a zip64 size out of range');
  };
  // The end record is in the last 22 + 65535 (comment) bytes.
  let e = d.length - 22;
  const lowest = Math.max(0, d.length - 22 - 0xffff);
  while (e >= lowest && u32(e) !== EOCD) e--;
  if (e < lowest) fail('no end of central directory');
  // The end record's comment runs to the last byte (else this "end record" is inside a comment).
  if (e + 22 + u16(e + 20) !== d.length) fail('bytes after the end of central directory');
  // Every count, size and disk number the end records give must agree: readers that go by
  // another one (fflate: the entries on this disk; Python: the directory size) would find
  // records, and files, this reader does not.
  const plain = [u16(e + 4), u16(e + 6), u16(e + 8), u16(e + 10), u32(e + 12), u32(e + 16)];
  let [count, directorySize, at] = plain.slice(3);
  /** Where the directory must end: the zip64 end record, else the end record. */
  let directoryEnd = e;
  const zip64 = e >= 20 && u32(e - 20) === EOCD64_LOCATOR;
  if (zip64) {
    const z = u64(e - 12);
    if (u32(z) !== EOCD64 || z + 12 + u64(z + 4) !== e - 20) fail('a broken zip64 end record');
    if (u32(z + 16) !== 0 || u32(z + 20) !== 0 || u64(z + 24) !== u64(z + 32)) fail('a zip64 end record whose fields disagree');
    count = u64(z + 32);
    directorySize = u64(z + 40);
    at = u64(z + 48);
    directoryEnd = z;
  }
  // Each field of the plain record: its value, or all ones where a zip64 record holds it.
  const values = [0, 0, count, count, directorySize, at];
  const ones = [0xffff, 0xffff, 0xffff, 0xffff, MAX32, MAX32];
  if (plain.some((field, i) => field !== values[i] && !(zip64 && field === ones[i]))) fail('end of central directory fields that disagree');
  if (at + directorySize !== directoryEnd) fail('a central directory whose size disagrees with where it ends');
  const directoryStart = at;
  const entries: ZipEntry[] = [];
  const locals: { entry: ZipEntry; flags: number; extraStart: number }[] = [];
  for (let i = 0; i < count; i++) {
    if (u32(at) !== CENTRAL) fail('a broken central directory');
    const flags = u16(at + 8);
    const method = u16(at + 10);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    let headerStart = u32(at + 42);
    const nameStart = at + 46;
    const extraStart = nameStart + nameLength;
    if (extraStart + extraLength > d.length) fail('truncated');
    const nameBytes = d.subarray(nameStart, extraStart);
    // Bit 11: UTF-8 name; otherwise each byte is one character (as fflate reads it).
    const name = flags & UTF8_NAME ? utf8Names.decode(nameBytes) : String.fromCharCode(...nameBytes);
    if (size === MAX32 || compressedSize === MAX32 || headerStart === MAX32) {
      // zip64 extra field (id 1): the 64-bit values of exactly those fields that are all ones, in this order.
      let x = extraStart;
      while (x + 4 <= extraStart + extraLength && u16(x) !== 1) x += 4 + u16(x + 2);
      if (x + 4 > extraStart + extraLength) fail('a zip64 entry without its sizes');
      const fieldEnd = Math.min(x + 4 + u16(x + 2), extraStart + extraLength);
      let f = x + 4;
      // Each value read only from inside the field (never from the next field or the comment).
      const next = (): number => (f + 8 <= fieldEnd ? ((f += 8), u64(f - 8)) : fail('a zip64 field too short for its sizes'));
      if (size === MAX32) size = next();
      if (compressedSize === MAX32) compressedSize = next();
      if (headerStart === MAX32) headerStart = next();
    }
    if (method !== 0 && method !== 8) fail(`${name}: compression method ${method} is not supported`);
    // Unix (3) and macOS (19) file types, which extractors honour: a regular file or a directory only, never a symlink.
    const madeOn = u16(at + 4) >>> 8;
    const type = (u32(at + 38) >>> 16) & 0o170000;
    if ((madeOn === 3 || madeOn === 19) && type !== 0 && type !== 0o100000 && type !== 0o040000) fail(`${name}: not a regular file or directory (a symlink?)`);
    if (method === 0 && compressedSize !== size) fail(`${name}: a stored entry whose sizes disagree`);
    if (u32(headerStart) !== LOCAL) fail(`${name}: no local header where the directory says`);
    const localFlags = u16(headerStart + 6);
    if ((flags | localFlags) & ENCRYPTED) fail(`${name}: encrypted entries are not supported`);
    const localNameLength = u16(headerStart + 26);
    const localName = d.subarray(headerStart + 30, headerStart + 30 + localNameLength);
    if (
      u16(headerStart + 8) !== method ||
      (localFlags & (DESCRIBED | UTF8_NAME)) !== (flags & (DESCRIBED | UTF8_NAME)) ||
      localNameLength !== nameLength ||
      localName.some((b, i) => b !== nameBytes[i])
    ) {
      fail(`${name}: its local header disagrees with the directory (name, method or flags)`);
    }
    const dataStart = headerStart + 30 + localNameLength + u16(headerStart + 28);
    if (dataStart + compressedSize > d.length) fail(`${name}: data beyond the end of the file`);
    entries.push({ name, method, compressedSize, size, headerStart, dataStart });
    locals.push({ entry: entries[entries.length - 1], flags: localFlags, extraStart: headerStart + 30 + localNameLength });
    at = extraStart + extraLength + u16(at + 32);
  }
  if (at !== directoryEnd) fail('bytes after the central directory that it does not list');
  // Each entry's bytes belong to it alone (two names over one region would let one small file
  // inflate many times). Checked before the local extra fields are read, so each byte of them is read once.
  locals.sort((a, b) => a.entry.headerStart - b.entry.headerStart);
  for (let i = 1; i < locals.length; i++) {
    const [prev, { entry }] = [locals[i - 1].entry, locals[i]];
    if (entry.headerStart < prev.dataStart + prev.compressedSize) fail(`${entry.name}: overlaps ${prev.name}`);
  }
  // Every byte before the directory belongs to a listed entry: its local header, data and data descriptor.
  let next = 0; // where the next entry must start
  for (const { entry, flags, extraStart } of locals) {
    const { name, compressedSize, size, headerStart, dataStart } = entry;
    // The local zip64 field: the 64-bit values of the local sizes that are all ones (uncompressed first).
    const localSizes = [u32(headerStart + 22), u32(headerStart + 18)];
    const zip64 = findZip64Field(extraStart, dataStart);
    if (!(flags & DESCRIBED)) {
      // Without a data descriptor the local header carries the sizes too, as readers by local headers take them.
      let f = zip64?.start ?? 0;
      const wide = (): number => (zip64 && f + 8 <= zip64.end ? ((f += 8), u64(f - 8)) : fail(`${name}: a zip64 local header without its sizes`));
      const [localSize, localCompressed] = localSizes.map((n) => (n === MAX32 ? wide() : n));
      if (localSize !== size || localCompressed !== compressedSize) fail(`${name}: its local header disagrees with the directory (sizes)`);
    }
    // (A data descriptor's sizes are 64-bit exactly when the local header has a zip64 field: APPNOTE 4.3.9.2.)
    const end = flags & DESCRIBED ? descriptorEnd(dataStart + compressedSize, zip64 !== undefined, compressedSize, size, name) : dataStart + compressedSize;
    if (headerStart < next) fail(`${name}: overlaps the entry before it`);
    if (headerStart > next) fail(`${name}: bytes before it that the directory does not list`);
    next = end;
  }
  if (directoryStart !== next) fail('bytes before the central directory that it does not list');
  return entries;

  /** Where the zip64 field (id 1) of the extra fields in [from, to) holds its values, if there is one. */
  function findZip64Field(from: number, to: number): { start: number; end: number } | undefined {
    for (let x = from; x + 4 <= to; x += 4 + u16(x + 2)) if (u16(x) === 1) return { start: x + 4, end: Math.min(x + 4 + u16(x + 2), to) };
    return undefined;
  }

  /** Where an entry's data descriptor ends; its sizes (after an optional signature and the CRC-32) must be the directory's. */
  function descriptorEnd(at: number, wide: boolean, compressedSize: number, size: number, name: string): number {
    const sizesAt = at + (at + 4 <= d.length && u32(at) === DESCRIPTOR ? 4 : 0) + 4;
    const read = wide ? u64 : u32;
    const width = wide ? 8 : 4;
    if (read(sizesAt) !== compressedSize || read(sizesAt + width) !== size) fail(`${name}: its data descriptor disagrees with the directory`);
    return sizesAt + 2 * width;
  }
}

/**
 * The entry's bytes: stored ones as they are, deflated ones inflated step by step and
 * refused (null) as soon as they yield more than `entry.size`, or at the end if fewer.
 */
export function readZipEntry(d: Uint8Array, entry: ZipEntry, inflate: typeof Inflate = Inflate): Uint8Array | null {
  const data = d.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  if (entry.method === 0) return data.slice();
  const out = new Uint8Array(entry.size);
  let written = 0;
  let over = false;
  const stream = new inflate((chunk) => {
    if (over || written + chunk.length > out.length) {
      over = true;
      return;
    }
    out.set(chunk, written);
    written += chunk.length;
  });
  try {
    let i = 0;
    do {
      stream.push(data.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= data.length);
      i += INFLATE_STEP;
    } while (i < data.length && !over);
  } catch {
    return null; // not a valid DEFLATE stream (fflate throws on corrupt or unfinished data)
  }
  if (over || written !== out.length) return null;
  // Bytes after the end of the DEFLATE stream are refused: a reader by local headers stops at
  // that end for an entry with a data descriptor, and would read what follows as the next entry.
  return endsWithStream(stream, data, inflate) ? out : null;
}

/**
 * Whether `data` ends where its DEFLATE stream ends. fflate keeps the input it has not used in
 * `p` (with the stream's last, partial byte while `s.p & 7`); should those internals differ, the
 * answer comes from inflating all but the last byte, which fails exactly when that byte was the stream's.
 */
function endsWithStream(stream: Inflate, data: Uint8Array, inflate: typeof Inflate): boolean {
  const { p, s } = stream as unknown as { p?: unknown; s?: { p?: unknown } };
  if (p instanceof Uint8Array && typeof s?.p === 'number') return p.length - (s.p & 7 ? 1 : 0) === 0;
  try {
    new inflate(() => undefined).push(data.subarray(0, data.length - 1), true);
    return false;
  } catch {
    return true;
  }
}
