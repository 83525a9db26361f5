/**
 * Zips shaped so that a reader going by local headers (fflate's Unzip, Java's ZipInputStream)
 * would extract an entry verifyPackage never verified, and directories built to make the reader
 * slow: each must be refused as (zip), or naming the entry. (From a review of the reader; the
 * plainer shapes are in package.test.ts.)
 */
import { crc32 } from 'node:zlib';
import { deflateSync, Inflate, strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { verifyPackage } from '../../src/package/verify.js';
import { loadPackage } from '../../src/package/load.js';
import { readZipEntries, readZipEntry, ZipFormatError } from '../../src/package/zip.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { failure } from '../helpers/servers.js';
import { byLocalHeaders, certFor, PUBLIC, rawZip, type Raw } from '../helpers/zip.js';

const crc = (b: Uint8Array) => crc32(b) >>> 0;

/** A local header (+ its data) with exact sizes, no descriptor. */
function localEntry(name: string, data: Uint8Array, opts: { method?: number; size?: number; crc?: number } = {}): Uint8Array {
  const n = strToU8(name);
  const h = new Uint8Array(30 + n.length);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint16(4, 20, true);
  v.setUint16(6, 0x800, true);
  v.setUint16(8, opts.method ?? 0, true);
  v.setUint32(14, opts.crc ?? crc(data), true);
  v.setUint32(18, data.length, true);
  v.setUint32(22, opts.size ?? data.length, true);
  v.setUint16(26, n.length, true);
  h.set(n, 30);
  return concatBytes(h, data);
}

const page = strToU8('<h1>signed page</h1>'.repeat(20));
const evil = strToU8('<script>steal()</script>');

describe('an unsigned entry hidden after the end of a DEFLATE stream', () => {
  it('a zip64 local header whose sizes (in its zip64 field) cover only the DEFLATE stream, an unsigned entry after it: refused as (zip)', async () => {
    const deflated = deflateSync(page);
    const z64 = new Uint8Array(4 + 16);
    const zv = new DataView(z64.buffer);
    zv.setUint16(0, 1, true);
    zv.setUint16(2, 16, true);
    zv.setBigUint64(4, BigInt(page.length), true); // size
    zv.setBigUint64(12, BigInt(deflated.length), true); // compressed size: the stream only
    const cert = certFor({ 'index.html': page });
    const zip = rawZip([
      { name: 'index.html', data: concatBytes(deflated, localEntry('evil.html', evil)), method: 8, size: page.length, crc: crc(page), localSizes: [0xffffffff, 0xffffffff], localExtra: z64 },
      { name: 'CERT.json', data: cert, method: 0, size: cert.length, crc: crc(cert) },
    ]);
    expect(byLocalHeaders(zip)['evil.html']).toBe('<script>steal()</script>'); // what such a reader extracts
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('(zip)');
    expect(e.message).toMatch(/index\.html: its local header disagrees with the directory \(sizes\)/);
  });

  it('an entry with a data descriptor whose data goes on after its DEFLATE stream (a descriptor, then an unsigned entry): refused naming it', async () => {
    const deflated = deflateSync(page);
    const desc = (c: number) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setUint32(0, 0x08074b50, true);
      v.setUint32(4, crc(page), true);
      v.setUint32(8, c, true);
      v.setUint32(12, page.length, true);
      return b;
    };
    const data = concatBytes(deflated, desc(deflated.length), localEntry('evil.html', evil));
    const cert = certFor({ 'index.html': page });
    const zip = rawZip([
      { name: 'index.html', data, method: 8, size: page.length, crc: crc(page), flags: 0x808, after: desc(data.length) },
      { name: 'CERT.json', data: cert, method: 0, size: cert.length, crc: crc(cert) },
    ]);
    expect(byLocalHeaders(zip)['evil.html']).toBe('<script>steal()</script>');
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('index.html');
    expect(e.message).toMatch(/bytes after its DEFLATE stream/);
  });

  it('readZipEntry finds bytes after the stream without fflate\'s internals too (an Inflate that shows only push), and takes a stream that fills its data exactly', () => {
    class PushOnly {
      #inner: Inflate;
      constructor(cb: (chunk: Uint8Array, final: boolean) => void) {
        this.#inner = new Inflate(cb);
      }
      push(chunk: Uint8Array, final?: boolean) {
        this.#inner.push(chunk, final);
      }
    }
    const exact = deflateSync(page);
    for (const [data, ok] of [[exact, true], [concatBytes(exact, Uint8Array.of(0)), false], [concatBytes(exact, strToU8('PK')), false]] as const) {
      const zip = rawZip([{ name: 'a.html', data, method: 8, size: page.length, crc: crc(page) }]);
      const [entry] = readZipEntries(zip);
      for (const inflate of [Inflate, PushOnly as unknown as typeof Inflate]) {
        const out = readZipEntry(zip, entry, inflate);
        expect(out === null ? 'refused' : strFromU8(out), `${data.length - exact.length} extra bytes, ${inflate.name}`).toBe(ok ? strFromU8(page) : 'refused');
      }
    }
  });
});

describe('directories built to make the reader slow', () => {
  it('65 535 directory records over one local header with 64 KB of tiny extra fields are refused as overlapping (ZipFormatError)', () => {
    // The cost is not asserted (timings are not): walking that header's 16 383 extra fields once per
    // record took 2.3 s here; the overlap is now found before any local extra field is walked (~70 ms).
    const extraLength = 65532;
    const local = new Uint8Array(30 + extraLength);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(28, extraLength, true);
    for (let x = 30; x < local.length; x += 4) lv.setUint16(x, 2, true);
    const count = 65535;
    const cd = new Uint8Array(46 * count);
    const cv = new DataView(cd.buffer);
    for (let i = 0; i < count; i++) cv.setUint32(i * 46, 0x02014b50, true); // every offset 0, sizes 0, no name
    const end = new Uint8Array(22);
    const ev = new DataView(end.buffer);
    ev.setUint32(0, 0x06054b50, true);
    ev.setUint16(8, count, true);
    ev.setUint16(10, count, true);
    ev.setUint32(12, cd.length, true);
    ev.setUint32(16, local.length, true);
    expect(() => readZipEntries(concatBytes(local, cd, end))).toThrow(ZipFormatError);
    expect(() => readZipEntries(concatBytes(local, cd, end))).toThrow(/overlaps/);
  });
});

/** A central directory record for a stored entry whose local header is at `offset`. */
function centralRecord(name: string, data: Uint8Array, offset: number, opts: { madeBy?: number; attributes?: number } = {}): Uint8Array {
  const n = strToU8(name);
  const h = new Uint8Array(46 + n.length);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0x02014b50, true);
  v.setUint16(4, opts.madeBy ?? 20, true);
  v.setUint16(6, 20, true);
  v.setUint16(8, 0x800, true);
  v.setUint32(16, crc(data), true);
  v.setUint32(20, data.length, true);
  v.setUint32(24, data.length, true);
  v.setUint16(28, n.length, true);
  v.setUint32(38, opts.attributes ?? 0, true);
  v.setUint32(42, offset, true);
  h.set(n, 46);
  return h;
}

/** The end record: entries on this disk, total entries, directory size and start, then the comment. */
function endRecord(onDisk: number, total: number, size: number, start: number, comment: Uint8Array = new Uint8Array(0)): Uint8Array {
  const end = new Uint8Array(22 + comment.length);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, onDisk, true);
  v.setUint16(10, total, true);
  v.setUint32(12, size, true);
  v.setUint32(16, start, true);
  v.setUint16(20, comment.length, true);
  end.set(comment, 22);
  return end;
}

describe('the end record and the directory must agree on every count and size (readers differ in which they go by)', () => {
  const files = { 'index.html': page };
  const signedEntries = (): Raw[] =>
    Object.entries({ ...files, 'CERT.json': certFor(files) }).map(([name, data]) => ({ name, data, method: 0 as const, size: data.length, crc: crc(data) }));

  it('an unsigned entry listed by a directory record after the counted ones (its local header in the comment) is refused, though fflate extracts it', async () => {
    const signed = rawZip(signedEntries());
    const e = signed.length - 22;
    const v = new DataView(signed.buffer, signed.byteOffset);
    const [count, size, start] = [v.getUint16(e + 10, true), v.getUint32(e + 12, true), v.getUint32(e + 16, true)];
    const extraAt = start + size;
    const localEvil = localEntry('evil.html', evil);
    const extra = centralRecord('evil.html', evil, extraAt + 46 + 'evil.html'.length + 22);
    // Entries on this disk (what fflate reads) and the size (what Python's zipfile reads) include it; the total does not.
    const zip = concatBytes(signed.subarray(0, extraAt), extra, endRecord(count + 1, count, size + extra.length, start, localEvil));
    expect(strFromU8(unzipSync(zip)['evil.html'])).toBe(strFromU8(evil));
    expect((await failure(verifyPackage(zip, { publicKey: PUBLIC }))).message).toMatch(/\(zip\).*fields that disagree/);
    expect(() => readZipEntries(zip)).toThrow(ZipFormatError);
  });

  it('bytes between the directory and the end record, and bytes after the end record, are refused', async () => {
    const signed = rawZip(signedEntries());
    const e = signed.length - 22;
    const v = new DataView(signed.buffer, signed.byteOffset);
    const directoryEnd = v.getUint32(e + 16, true) + v.getUint32(e + 12, true);
    const between = concatBytes(signed.subarray(0, directoryEnd), localEntry('evil.html', evil), signed.subarray(e));
    expect((await failure(verifyPackage(between, { publicKey: PUBLIC }))).message).toMatch(/\(zip\)/);
    const after = concatBytes(signed, strToU8('trailing'));
    expect((await failure(verifyPackage(after, { publicKey: PUBLIC }))).message).toMatch(/\(zip\)/);
    expect(Object.keys((await verifyPackage(signed, { publicKey: PUBLIC })).files)).toEqual(['index.html']); // the same zip, untouched, verifies
  });
});

describe('entries that are not plain files', () => {
  it('a directory entry named ../../outside/ (zip slip) is refused like a file of that name', async () => {
    const zip = zipSync({ 'index.html': page, 'CERT.json': certFor({ 'index.html': page }), '../../outside/': new Uint8Array(0) });
    expect((await failure(verifyPackage(zip, { publicKey: PUBLIC }))).message).toMatch(/\.\.\/\.\.\/outside\/.*unsafe path/);
  });

  it('an entry its directory record marks as a Unix symlink is refused (Info-ZIP unzip would make a link to what its signed bytes name)', async () => {
    const link = strToU8('/etc');
    const files = { 'index.html': page, link };
    const entries = Object.entries({ ...files, 'CERT.json': certFor(files) });
    const locals = entries.map(([name, data]) => localEntry(name, data));
    const offsets = locals.map((_, i) => locals.slice(0, i).reduce((n, b) => n + b.length, 0));
    const start = offsets[offsets.length - 1] + locals[locals.length - 1].length;
    const records = entries.map(([name, data], i) => centralRecord(name, data, offsets[i], name === 'link' ? { madeBy: 0x0314, attributes: (0o120777 << 16) >>> 0 } : {}));
    const size = records.reduce((n, b) => n + b.length, 0);
    const zip = concatBytes(...locals, ...records, endRecord(entries.length, entries.length, size, start));
    expect((await failure(verifyPackage(zip, { publicKey: PUBLIC }))).message).toMatch(/link: not a regular file or directory/);
    // A regular file made on Unix (S_IFREG) is read as before.
    const regular = entries.map(([name, data], i) => centralRecord(name, data, offsets[i], { madeBy: 0x0314, attributes: (0o100644 << 16) >>> 0 }));
    const ok = concatBytes(...locals, ...regular, endRecord(entries.length, entries.length, size, start));
    expect(Object.keys((await verifyPackage(ok, { publicKey: PUBLIC })).files).sort()).toEqual(['index.html', 'link']);
  });
});

describe('a declared size no buffer can hold', () => {
  it('an entry declaring 2^53 - 2 bytes (zip64) under a raised maxUnpackedBytes is PACKAGE_SIGNATURE_INVALID naming it, in verifyPackage and loadPackage (not a RangeError loadPackage called NETWORK)', async () => {
    const name = strToU8('big.bin');
    const data = Uint8Array.of(0x03, 0x00); // an empty DEFLATE stream
    const zip64Sizes = (v: DataView, at: number) => {
      v.setUint16(at, 1, true);
      v.setUint16(at + 2, 16, true);
      v.setBigUint64(at + 4, BigInt(2 ** 53 - 2), true); // uncompressed
      v.setBigUint64(at + 12, BigInt(data.length), true); // compressed
    };
    const local = new Uint8Array(30 + name.length + 20);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(18, 0xffffffff, true);
    lv.setUint32(22, 0xffffffff, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 20, true);
    local.set(name, 30);
    zip64Sizes(lv, 30 + name.length);
    const cd = new Uint8Array(46 + name.length + 20);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(20, 0xffffffff, true);
    cv.setUint32(24, 0xffffffff, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, 20, true);
    cd.set(name, 46);
    zip64Sizes(cv, 46 + name.length);
    const zip = concatBytes(local, data, cd, endRecord(1, 1, cd.length, local.length + data.length));
    const options = { publicKey: PUBLIC, maxUnpackedBytes: Number.MAX_SAFE_INTEGER };
    const e = await failure(verifyPackage(zip, options));
    expect([e.code, e.message]).toEqual(['PACKAGE_SIGNATURE_INVALID', expect.stringMatching(/big\.bin.*more than can be unpacked/)]);
    const r = await loadPackage('https://cdn.example.com/p.amr', { ...options, fallbackUrl: 'https://m.example.com/', fetch: (async () => new Response(zip.slice())) as typeof fetch });
    expect(r.ok ? 'loaded' : r.error.code).toBe('PACKAGE_SIGNATURE_INVALID');
  });
});
