import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { deflateSync, Inflate, strFromU8, strToU8, unzipSync, Zip, ZipDeflate, zipSync, type Zippable } from 'fflate';
import { verifyPackage } from '../../src/package/verify.js';
import { loadPackage } from '../../src/package/load.js';
import { readZipEntries, readZipEntry } from '../../src/package/zip.js';
import { signPackage, signPackageDetached } from '../../src/server/package-sign.js';
import { runCli, type CliIo } from '../../src/server/cli.js';
import { RpcError } from '../../src/errors.js';
import { toBase64 } from '../../src/codec/base64.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { failure } from '../helpers/servers.js';
import { byLocalHeaders, certFor, PRIVATE, PUBLIC } from '../helpers/zip.js';

const OTHER = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const FILES: Record<string, Uint8Array> = {
  '12345678.tar': new Uint8Array(randomBytes(4096)),
  'index.html': strToU8('<!doctype html><title>offline</title>'),
  'js/app.js': strToU8('console.log("offline package")'),
};

let dir = '';
const tmp = (name: string) => join(dir, name);

/** node:fs io that keeps the CLI's output for assertions instead of printing it. */
function captureIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    readFile: async (p) => new Uint8Array(await fsp.readFile(p)),
    writeFile: (p, d, o = {}) => fsp.writeFile(p, d, { mode: o.mode ?? 0o644, flag: o.exclusive ? 'wx' : 'w' }),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
  };
}


async function expectInvalid(p: Promise<unknown>, file: string): Promise<void> {
  const e = await failure(p);
  expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
  expect(e.details?.file).toBe(file);
  expect(e.message).toContain(file);
}

/** Re-zip a signed package after `edit` changed its entries (CERT.json kept as is unless edited). */
function rezip(signed: Uint8Array, edit: (entries: Record<string, Uint8Array>) => void): Uint8Array {
  const entries = unzipSync(signed);
  edit(entries);
  return zipSync(entries);
}

function editCert(entries: Record<string, Uint8Array>, edit: (cert: Record<string, string>) => void): void {
  const cert = JSON.parse(new TextDecoder().decode(entries['CERT.json'])) as Record<string, string>;
  edit(cert);
  entries['CERT.json'] = strToU8(JSON.stringify(cert));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-package-'));
  writeFileSync(tmp('in.zip'), zipSync(FILES));
  writeFileSync(tmp('private.pem'), PRIVATE);
  writeFileSync(tmp('public.pem'), PUBLIC);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sealed-rpc CLI (runCli)', () => {
  it('sign-package writes a CERT.json package that verifyPackage accepts, returning every file but CERT.json', async () => {
    // Default io: the same node:fs path bin/sealed-rpc.js uses.
    const code = await runCli(['sign-package', tmp('in.zip'), '--key', tmp('private.pem'), '-o', tmp('out.amr')]);
    expect(code).toBe(0);
    const amr = new Uint8Array(readFileSync(tmp('out.amr')));
    expect(Object.keys(unzipSync(amr)).sort()).toEqual([...Object.keys(FILES), 'CERT.json'].sort());
    const { files } = await verifyPackage(amr, { publicKey: PUBLIC });
    expect(files).toEqual(FILES);
  });

  it('sign-package --hash SHA-1 makes the legacy layout: verifies as SHA-1, not as SHA-256', async () => {
    const io = captureIo();
    expect(await runCli(['sign-package', tmp('in.zip'), '--key', tmp('private.pem'), '-o', tmp('sha1.amr'), '--hash', 'SHA-1'], io)).toBe(0);
    expect(io.out.join('')).toContain('SHA-1');
    const amr = new Uint8Array(readFileSync(tmp('sha1.amr')));
    expect((await verifyPackage(amr, { publicKey: PUBLIC, hash: 'SHA-1' })).files).toEqual(FILES);
    await expectInvalid(verifyPackage(amr, { publicKey: PUBLIC }), Object.keys(FILES)[0]);
  });

  it('sign-package --detached writes a raw signature over the whole file that verifies as the detached layout', async () => {
    const io = captureIo();
    expect(await runCli(['sign-package', tmp('in.zip'), '--key', tmp('private.pem'), '-o', tmp('in.sig'), '--detached'], io)).toBe(0);
    const signature = new Uint8Array(readFileSync(tmp('in.sig')));
    expect(signature).toHaveLength(256);
    const zip = new Uint8Array(readFileSync(tmp('in.zip')));
    expect((await verifyPackage(zip, { publicKey: PUBLIC, signature })).files).toEqual(FILES);
  });

  it('verify-package exits 0 for a good package and 1 naming the file for a tampered one', async () => {
    const io = captureIo();
    expect(await runCli(['verify-package', tmp('out.amr'), '--pub', tmp('public.pem')], io)).toBe(0);
    const tampered = rezip(new Uint8Array(readFileSync(tmp('out.amr'))), (e) => void (e['index.html'][0] ^= 1));
    writeFileSync(tmp('tampered.amr'), tampered);
    expect(await runCli(['verify-package', tmp('tampered.amr'), '--pub', tmp('public.pem')], io)).toBe(1);
    expect(io.err.join('')).toMatch(/PACKAGE_SIGNATURE_INVALID.*index\.html/);
  });

  it('verify-package --require a,b: exits 0 when those files are in the package, 1 naming the one that is not', async () => {
    const io = captureIo();
    expect(await runCli(['verify-package', tmp('out.amr'), '--pub', tmp('public.pem'), '--require', '12345678.tar,index.html'], io)).toBe(0);
    expect(await runCli(['verify-package', tmp('out.amr'), '--pub', tmp('public.pem'), '--require=index.html,other.tar'], io)).toBe(1);
    expect(io.err.join('')).toMatch(/PACKAGE_SIGNATURE_INVALID.*other\.tar/);
  });

  it('keygen-rsa writes a PKCS#8/SPKI pair that signs and verifies, and never overwrites an existing key', async () => {
    const io = captureIo();
    const args = ['keygen-rsa', '-o', tmp('gen.pem'), '--pub', tmp('gen.pub.pem')];
    expect(await runCli(args, io)).toBe(0);
    const priv = readFileSync(tmp('gen.pem'), 'utf8');
    expect(priv).toContain('-----BEGIN PRIVATE KEY-----');
    const amr = await signPackage(FILES, priv);
    expect((await verifyPackage(amr, { publicKey: readFileSync(tmp('gen.pub.pem'), 'utf8') })).files).toEqual(FILES);
    expect(await runCli(args, io)).toBe(1);
    expect(readFileSync(tmp('gen.pem'), 'utf8')).toBe(priv);
  });

  it('usage mistakes exit 2 with the usage text; a bad key file exits 1 with BAD_CONFIG and no key bytes', async () => {
    const io = captureIo();
    expect(await runCli(['sign-package', tmp('in.zip'), '-o', tmp('x.amr')], io)).toBe(2);
    expect(io.err.join('')).toContain('--key is required');
    expect(await runCli(['sign-package', tmp('in.zip'), '--key', tmp('private.pem'), '-o', tmp('x.amr'), '--hash', 'MD5'], io)).toBe(2);
    expect(await runCli(['frobnicate'], io)).toBe(2);
    io.err.length = 0;
    expect(await runCli(['sign-package', tmp('in.zip'), '--key', tmp('public.pem'), '-o', tmp('x.amr')], io)).toBe(1);
    expect(io.err.join('')).toContain('BAD_CONFIG: --key');
    expect(io.err.join('')).not.toContain('MIIB');
  });
});

describe.each(['SHA-1', 'SHA-256'] as const)('verifyPackage, CERT.json layout signed with %s', (hash) => {
  let signed: Uint8Array;
  beforeAll(async () => {
    signed = await signPackage(zipSync(FILES), PRIVATE, { hash });
  });
  const verify = (bytes: Uint8Array, publicKey = PUBLIC) => verifyPackage(bytes, { publicKey, hash });

  it('the intact package verifies and returns exactly the signed files', async () => {
    expect((await verify(signed)).files).toEqual(FILES);
  });

  it('a tampered file is refused, naming it', async () => {
    await expectInvalid(verify(rezip(signed, (e) => void (e['js/app.js'][3] ^= 0x20))), 'js/app.js');
  });

  it('a file missing from CERT.json (unsigned) is refused, naming it', async () => {
    await expectInvalid(verify(rezip(signed, (e) => editCert(e, (c) => delete c['index.html']))), 'index.html');
  });

  it('an extra unsigned file added to the zip is refused, naming it', async () => {
    await expectInvalid(verify(rezip(signed, (e) => void (e['evil.js'] = strToU8('steal()')))), 'evil.js');
  });

  it('a file listed in CERT.json but missing from the zip is refused, naming it', async () => {
    await expectInvalid(verify(rezip(signed, (e) => delete e['12345678.tar'])), '12345678.tar');
  });

  it('a signature moved to another file is refused, naming the file', async () => {
    const moved = rezip(signed, (e) => editCert(e, (c) => void (c['index.html'] = c['js/app.js'])));
    await expectInvalid(verify(moved), 'index.html');
  });

  it('a CERT.json entry that is not base64 is refused, naming the file', async () => {
    await expectInvalid(verify(rezip(signed, (e) => editCert(e, (c) => void (c['index.html'] = '%%%')))), 'index.html');
  });

  it('a package without CERT.json, or with CERT.json that is not a JSON object, is refused naming CERT.json', async () => {
    await expectInvalid(verify(rezip(signed, (e) => delete e['CERT.json'])), 'CERT.json');
    await expectInvalid(verify(rezip(signed, (e) => void (e['CERT.json'] = strToU8('["x"]')))), 'CERT.json');
    await expectInvalid(verify(rezip(signed, (e) => void (e['CERT.json'] = Uint8Array.of(0xff, 0xfe)))), 'CERT.json');
  });

  it('a truncated zip is refused as (zip)', async () => {
    await expectInvalid(verify(signed.slice(0, signed.length - 30)), '(zip)');
    await expectInvalid(verify(signed.slice(0, signed.length >> 1)), '(zip)');
    await expectInvalid(verify(new Uint8Array(0)), '(zip)');
  });

  it('a package checked with the wrong public key is refused, naming a signed file', async () => {
    const e = await failure(verify(signed, OTHER.publicKey));
    expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(Object.keys(FILES)).toContain(e.details?.file);
  });
});

describe('verifyPackage, hostile zips and options', () => {
  it('a zip with two entries of one name is refused, naming it (other unzippers may pick the other copy)', async () => {
    // Stored (level 0) so the names can be patched in place: "b.js" becomes a second "a.js".
    const a = strToU8('good()');
    const cert = { 'a.js': toBase64(new Uint8Array(0)) }; // signatures do not matter: refused before
    const zip: Zippable = { 'a.js': [a, { level: 0 }], 'b.js': [strToU8('evil()'), { level: 0 }], 'CERT.json': [strToU8(JSON.stringify(cert)), { level: 0 }] };
    const bytes = zipSync(zip);
    const text = Buffer.from(bytes).toString('latin1').replaceAll('b.js', 'a.js');
    await expectInvalid(verifyPackage(new Uint8Array(Buffer.from(text, 'latin1')), { publicKey: PUBLIC }), 'a.js');
  });

  it('a signed entry whose path escapes the package folder (zip-slip) is refused, naming it', async () => {
    // (Signed by hand: signPackage itself refuses such a name.)
    const evil = { '../../evil.sh': strToU8('rm -rf ~') };
    const signed = zipSync({ ...evil, 'CERT.json': certFor(evil) });
    await expectInvalid(verifyPackage(signed, { publicKey: PUBLIC }), '../../evil.sh');
  });

  it('a bad public key or hash option is BAD_CONFIG naming the option, not a package failure', async () => {
    const signed = await signPackage(FILES, PRIVATE);
    const e1 = await failure(verifyPackage(signed, { publicKey: 'not a key' }));
    expect([e1.code, e1.details?.option]).toEqual(['BAD_CONFIG', 'publicKey']);
    const e2 = await failure(verifyPackage(signed, { publicKey: PUBLIC, hash: 'MD5' as 'SHA-1' }));
    expect([e2.code, e2.details?.option]).toEqual(['BAD_CONFIG', 'hash']);
  });

  it('re-signing a signed package replaces CERT.json (only real files get entries)', async () => {
    const once = await signPackage(FILES, PRIVATE);
    const twice = await signPackage(once, OTHER.privateKey);
    const cert = JSON.parse(new TextDecoder().decode(unzipSync(twice)['CERT.json'])) as Record<string, string>;
    expect(Object.keys(cert).sort()).toEqual(Object.keys(FILES).sort());
    expect((await verifyPackage(twice, { publicKey: OTHER.publicKey })).files).toEqual(FILES);
  });
});

describe('verifyPackage, detached layout', () => {
  let zip: Uint8Array;
  let sig: Uint8Array;
  beforeAll(async () => {
    zip = zipSync(FILES);
    sig = await signPackageDetached(zip, PRIVATE, 'SHA-256');
  });

  it('raw bytes, standard base64 and base64url signatures all verify and return the files', async () => {
    for (const signature of [sig, toBase64(sig), toBase64(sig).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')]) {
      expect((await verifyPackage(zip, { publicKey: PUBLIC, signature })).files).toEqual(FILES);
    }
  });

  it('a SHA-1 detached signature verifies with hash SHA-1 only', async () => {
    const sig1 = await signPackageDetached(zip, PRIVATE, 'SHA-1');
    expect((await verifyPackage(zip, { publicKey: PUBLIC, signature: sig1, hash: 'SHA-1' })).files).toEqual(FILES);
    await expectInvalid(verifyPackage(zip, { publicKey: PUBLIC, signature: sig1 }), '(package)');
  });

  it('one changed byte of the file, a wrong key, or a garbage signature is refused as (package)', async () => {
    const changed = zip.slice();
    changed[changed.length - 5] ^= 1;
    await expectInvalid(verifyPackage(changed, { publicKey: PUBLIC, signature: sig }), '(package)');
    await expectInvalid(verifyPackage(zip, { publicKey: OTHER.publicKey, signature: sig }), '(package)');
    await expectInvalid(verifyPackage(zip, { publicKey: PUBLIC, signature: 'not base64!' }), '(package)');
  });

  it('an authentic but unreadable file is refused as (zip)', async () => {
    const junk = new Uint8Array(randomBytes(1000));
    const junkSig = await signPackageDetached(junk, PRIVATE);
    await expectInvalid(verifyPackage(junk, { publicKey: PUBLIC, signature: junkSig }), '(zip)');
  });
});

describe('loadPackage over real HTTP (node:http on 127.0.0.1)', () => {
  const BIG = { 'big.tar': new Uint8Array(randomBytes(5 * 1024 * 1024)), 'index.html': FILES['index.html'] };
  let server: Server;
  let base = '';
  let big: Uint8Array;
  let bad: Uint8Array;
  let small: Uint8Array;
  let smallSig: Uint8Array;
  const sockets = new Set<Socket>();
  const FALLBACK = 'https://m.example.com/app/index.html';
  const chunkedServer = { finished: false };

  beforeAll(async () => {
    big = await signPackage(BIG, PRIVATE);
    expect(big.length).toBeGreaterThan(5 * 1024 * 1024); // random bytes do not compress
    bad = rezip(await signPackage(FILES, PRIVATE), (e) => void (e['index.html'][0] ^= 1));
    small = zipSync(FILES);
    smallSig = await signPackageDetached(small, PRIVATE);
    server = createServer((req, res) => {
      const send = (body: Uint8Array) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      };
      switch (req.url) {
        case '/big.amr':
          return send(big);
        case '/bad.amr':
          return send(bad);
        case '/small.zip':
          return send(small);
        case '/small.sig':
          return send(smallSig);
        case '/small.sig.txt':
          return send(strToU8(toBase64(smallSig) + '\n'));
        case '/chunked.amr': {
          // No Content-Length: the size is only known by reading. 64 KiB every 5 ms.
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          let at = 0;
          chunkedServer.finished = false;
          const tick = () => {
            if (res.destroyed) return;
            if (at >= big.length) return void ((chunkedServer.finished = true), res.end());
            res.write(big.subarray(at, (at += 65536)));
            setTimeout(tick, 5);
          };
          return tick();
        }
        case '/slow.amr': {
          // 64 KiB every 20 ms: ~1.7 s for the whole file, so an abort lands mid-way.
          res.writeHead(200, { 'content-length': big.length });
          let at = 0;
          const tick = () => {
            if (res.destroyed || at >= big.length) return void res.end();
            res.write(big.subarray(at, (at += 65536)));
            setTimeout(tick, 20);
          };
          return tick();
        }
        default:
          res.writeHead(404).end('not found');
      }
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it('a 5 MB package downloads with progress reaching loaded === total (100 %) and verifies', async () => {
    const progress: [number, number][] = [];
    const r = await loadPackage(`${base}/big.amr`, {
      publicKey: PUBLIC,
      fallbackUrl: FALLBACK,
      onProgress: (loaded, total) => progress.push([loaded, total]),
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    // Buffer.equals: vitest's deep equality walks 5 M elements one by one.
    expect(Buffer.from(r.files['big.tar']).equals(BIG['big.tar'])).toBe(true);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toEqual([big.length, big.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    expect(progress.every(([, total]) => total === big.length)).toBe(true);
  });

  it('a tampered package resolves ok:false with the fallback URL and PACKAGE_SIGNATURE_INVALID naming the file', async () => {
    const r = await loadPackage(`${base}/bad.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.fallbackUrl).toBe(FALLBACK);
    expect(r.error.code, String(r.error.cause)).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(r.error.details?.file).toBe('index.html');
    expect('files' in r).toBe(false);
  });

  it('an HTTP 404 resolves ok:false with HTTP_STATUS 404 and the fallback URL', async () => {
    const r = await loadPackage(`${base}/nope.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK });
    expect(r).toMatchObject({ ok: false, fallbackUrl: FALLBACK, error: { code: 'HTTP_STATUS', status: 404 } });
  });

  it('a refused connection resolves ok:false with NETWORK', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await loadPackage(`http://127.0.0.1:${port}/x.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK });
    expect(r).toMatchObject({ ok: false, fallbackUrl: FALLBACK, error: { code: 'NETWORK' } });
  });

  it('aborting mid-download resolves ok:false with ABORTED, long before the slow download would end', async () => {
    const ac = new AbortController();
    let lastLoaded = 0;
    const r = await loadPackage(`${base}/slow.amr`, {
      publicKey: PUBLIC,
      fallbackUrl: FALLBACK,
      signal: ac.signal,
      onProgress: (loaded) => {
        lastLoaded = loaded;
        if (loaded >= 256 * 1024) ac.abort();
      },
    });
    expect(r).toMatchObject({ ok: false, fallbackUrl: FALLBACK, error: { code: 'ABORTED' } });
    expect(lastLoaded).toBeGreaterThanOrEqual(256 * 1024);
    expect(lastLoaded).toBeLessThan(big.length);
  }, 10_000);

  it('an already-aborted signal resolves ABORTED without downloading', async () => {
    let called = false;
    const r = await loadPackage(`${base}/big.amr`, {
      publicKey: PUBLIC,
      fallbackUrl: FALLBACK,
      signal: AbortSignal.abort(),
      fetch: (async () => {
        called = true;
        throw new Error('unreachable');
      }) as typeof fetch,
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'ABORTED' } });
    expect(called).toBe(false);
  });

  it('the detached layout loads with signatureUrl serving raw bytes or base64 text', async () => {
    for (const sigPath of ['/small.sig', '/small.sig.txt']) {
      const r = await loadPackage(`${base}/small.zip`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, signatureUrl: base + sigPath });
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.files).toEqual(FILES);
    }
    const wrong = await loadPackage(`${base}/small.zip`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, signatureUrl: `${base}/small.zip` });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(package)' } } });
    const missing = await loadPackage(`${base}/small.zip`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, signatureUrl: `${base}/none.sig` });
    expect(missing).toMatchObject({ ok: false, error: { code: 'HTTP_STATUS' } });
  });

  it('a download past maxDownloadBytes is refused as (package) and not read further: declared by Content-Length (nothing read) or found while reading (stopped there)', async () => {
    const MAX = 1024 * 1024;
    const seen: number[] = [];
    const declared = await loadPackage(`${base}/big.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: MAX, onProgress: (n) => seen.push(n) });
    expect(declared).toMatchObject({ ok: false, fallbackUrl: FALLBACK, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(package)' } } });
    expect(seen).toEqual([]);
    const found = await loadPackage(`${base}/chunked.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: MAX, onProgress: (n) => seen.push(n) });
    expect(found).toMatchObject({ ok: false, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(package)' } } });
    expect(Math.max(...seen)).toBeLessThanOrEqual(MAX);
    expect(chunkedServer.finished).toBe(false);
    // Within the bound the same streamed package loads.
    const ok = await loadPackage(`${base}/chunked.amr`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: big.length });
    expect(ok.ok).toBe(true);
    // A "signature" file past 64 KiB is not a signature: refused as (signature) before the package is fetched.
    const sig = await loadPackage(`${base}/small.zip`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, signatureUrl: `${base}/big.amr` });
    expect(sig).toMatchObject({ ok: false, error: { code: 'PACKAGE_SIGNATURE_INVALID', details: { file: '(signature)' } } });
    const bad = await loadPackage(`${base}/small.zip`, { publicKey: PUBLIC, fallbackUrl: FALLBACK, maxDownloadBytes: 0 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option: 'maxDownloadBytes' } } });
  }, 20_000);

  it('a throwing onProgress callback does not break the load', async () => {
    const r = await loadPackage(`${base}/small.zip`, {
      publicKey: PUBLIC,
      fallbackUrl: FALLBACK,
      signature: smallSig,
      onProgress: () => {
        throw new Error('UI bug');
      },
    });
    expect(r.ok).toBe(true);
  });
});

describe('zip bombs are refused before anything is inflated', () => {
  it('a signed package that unpacks past maxUnpackedBytes -> PACKAGE_SIGNATURE_INVALID naming (zip), quickly; within the bound it verifies', async () => {
    // 64 MiB of zeros deflates to ~64 KB: small to download, huge to unpack.
    const bomb = await signPackage({ ...FILES, 'zeros.bin': new Uint8Array(64 * 1024 * 1024) }, PRIVATE);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const err = await failure(verifyPackage(bomb, { publicKey: PUBLIC, maxUnpackedBytes: 8 * 1024 * 1024 }));
    expect(err.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(err.details?.file).toBe('(zip)');
    expect(err.message).toMatch(/maxUnpackedBytes/);
    const ok = await verifyPackage(bomb, { publicKey: PUBLIC, maxUnpackedBytes: 80 * 1024 * 1024 });
    expect(ok.files['zeros.bin'].length).toBe(64 * 1024 * 1024);
  });

  it('the entry past the bound is never inflated: a bomb whose compressed data is corrupt is still refused for its size, not for the corruption', async () => {
    // Why this shape of proof: fflate's inflate is an ESM export (vi.spyOn cannot replace it)
    // and time says nothing about whether work was done. Instead, break zeros.bin's deflate
    // stream right after its local header (first block type set to the reserved 11), leaving
    // the zip's directories intact. Inflating that entry fails ("invalid block type"), which
    // verifyPackage reports naming the entry. So a refusal that names maxUnpackedBytes
    // is only possible if zeros.bin was never inflated; the control below shows the same bytes
    // do fail as corrupt once the bound lets them through.
    const bomb = await signPackage({ ...FILES, 'zeros.bin': new Uint8Array(64 * 1024 * 1024) }, PRIVATE);
    const corrupt = bomb.slice();
    const name = new TextEncoder().encode('zeros.bin');
    const view = new DataView(corrupt.buffer, corrupt.byteOffset, corrupt.byteLength);
    let dataAt = -1;
    for (let i = 0; i + 30 + name.length <= corrupt.length; i++) {
      if (view.getUint32(i, true) !== 0x04034b50) continue; // local file header
      const nameLen = view.getUint16(i + 26, true);
      if (nameLen !== name.length || !name.every((b, j) => corrupt[i + 30 + j] === b)) continue;
      expect(view.getUint16(i + 8, true)).toBe(8); // deflated
      dataAt = i + 30 + nameLen + view.getUint16(i + 28, true);
      break;
    }
    expect(dataAt).toBeGreaterThan(0);
    corrupt[dataAt] = 0b111; // BFINAL=1, BTYPE=11: a reserved block type, invalid deflate
    // Control: let it through the bound and it fails as corrupt (inflating it throws).
    const control = await failure(verifyPackage(corrupt, { publicKey: PUBLIC, maxUnpackedBytes: 80 * 1024 * 1024 }));
    expect(control.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(control.details?.file).toBe('zeros.bin');
    expect(control.message).toMatch(/does not inflate/);
    expect(control.message).not.toMatch(/maxUnpackedBytes/);
    // Under the bound: refused for its declared size, so its data was never read.
    const err = await failure(verifyPackage(corrupt, { publicKey: PUBLIC, maxUnpackedBytes: 8 * 1024 * 1024 }));
    expect(err.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(err.details?.file).toBe('(zip)');
    expect(err.message).toMatch(/maxUnpackedBytes/);
    expect(err.message).not.toMatch(/not a readable zip/);
  });

  it('a maxUnpackedBytes that is not a positive whole number -> BAD_CONFIG naming it', async () => {
    const pkg = await signPackage(FILES, PRIVATE);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      const err = await failure(verifyPackage(pkg, { publicKey: PUBLIC, maxUnpackedBytes: bad }));
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.message).toContain('maxUnpackedBytes');
    }
  });
});

/**
 * A zip written byte by byte, for shapes no zip tool makes: directory records that lie about
 * sizes, several records over one entry's data, zip64 records, names in the legacy charset.
 */
interface HandEntry {
  name: string | Uint8Array;
  /** The bytes as they sit in the zip (deflated ones already deflated). */
  data: Uint8Array;
  method?: 0 | 8;
  /** The declared unpacked size (default data.length). */
  size?: number;
  /** Flag bit 11: the name is UTF-8 (default true). */
  utf8?: boolean;
  /** A local entry no directory record lists (what a reader by local headers still extracts). */
  unlisted?: boolean;
  /** The name its local header gives (default: the directory's). */
  localName?: string;
}

function handZip(entries: HandEntry[], opts: { aliases?: { name: string; of: number; size?: number }[]; zip64?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const at: number[] = [];
  let offset = 0;
  const nameBytes = (n: string | Uint8Array) => (typeof n === 'string' ? strToU8(n) : n);
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  for (const e of entries) {
    const name = nameBytes(e.localName ?? e.name);
    const h = new Uint8Array(30 + name.length);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, 20, true);
    v.setUint16(6, e.utf8 === false ? 0 : 0x800, true);
    v.setUint16(8, e.method ?? 0, true);
    v.setUint32(18, e.data.length, true);
    v.setUint32(22, e.size ?? e.data.length, true);
    v.setUint16(26, name.length, true);
    h.set(name, 30);
    at.push(offset);
    push(h);
    push(e.data);
  }
  const records = [
    ...entries.flatMap((e, i) => (e.unlisted ? [] : [{ name: nameBytes(e.name), e, of: i, size: e.size ?? e.data.length }])),
    ...(opts.aliases ?? []).map((a) => ({ name: nameBytes(a.name), e: entries[a.of], of: a.of, size: a.size ?? entries[a.of].data.length })),
  ];
  const cdStart = offset;
  for (const r of records) {
    const extra = opts.zip64 ? 4 + 24 : 0;
    const h = new Uint8Array(46 + r.name.length + extra);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, 45, true);
    v.setUint16(8, r.e.utf8 === false ? 0 : 0x800, true);
    v.setUint16(10, r.e.method ?? 0, true);
    v.setUint32(20, opts.zip64 ? 0xffffffff : r.e.data.length, true);
    v.setUint32(24, opts.zip64 ? 0xffffffff : r.size, true);
    v.setUint16(28, r.name.length, true);
    v.setUint16(30, extra, true);
    v.setUint32(42, opts.zip64 ? 0xffffffff : at[r.of], true);
    h.set(r.name, 46);
    if (opts.zip64) {
      const x = 46 + r.name.length;
      v.setUint16(x, 1, true);
      v.setUint16(x + 2, 24, true);
      v.setBigUint64(x + 4, BigInt(r.size), true); // in the order the format fixes: size, compressed size, offset
      v.setBigUint64(x + 12, BigInt(r.e.data.length), true);
      v.setBigUint64(x + 20, BigInt(at[r.of]), true);
    }
    push(h);
  }
  const cdLength = offset - cdStart;
  if (opts.zip64) {
    const z = new Uint8Array(56 + 20);
    const v = new DataView(z.buffer);
    v.setUint32(0, 0x06064b50, true);
    v.setBigUint64(4, 44n, true);
    v.setBigUint64(24, BigInt(records.length), true);
    v.setBigUint64(32, BigInt(records.length), true);
    v.setBigUint64(40, BigInt(cdLength), true);
    v.setBigUint64(48, BigInt(cdStart), true);
    v.setUint32(56, 0x07064b50, true); // locator
    v.setBigUint64(56 + 8, BigInt(offset), true);
    v.setUint32(56 + 16, 1, true);
    push(z);
  }
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, opts.zip64 ? 0xffff : records.length, true);
  v.setUint16(10, opts.zip64 ? 0xffff : records.length, true);
  v.setUint32(12, opts.zip64 ? 0xffffffff : cdLength, true);
  v.setUint32(16, opts.zip64 ? 0xffffffff : cdStart, true);
  push(end);
  return concatBytes(...parts);
}

/** CERT.json for the given files, signed the way signPackage signs (SHA-256, base64). */
describe('verifyPackage reads the zip the way it is signed (hostile directories)', () => {
  it('1 000 directory records over one stored 1 MiB entry are refused (their names are not its local header\'s), naming (zip), not counted against maxUnpackedBytes first', async () => {
    const big = new Uint8Array(1024 * 1024);
    const zip = handZip([{ name: 'CERT.json', data: certFor({ a: big }) }, { name: 'a', data: big }], {
      aliases: Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}`, of: 1 })),
    });
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC, maxUnpackedBytes: 1024 }));
    expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(e.details?.file).toBe('(zip)');
    expect(e.message).toMatch(/f0: its local header disagrees with the directory/);
  });

  it('a stored entry declaring 0 unpacked bytes over 1 MiB of data is refused (its sizes disagree), so maxUnpackedBytes counts what is really there', async () => {
    const big = new Uint8Array(1024 * 1024);
    const lying = handZip([{ name: 'CERT.json', data: certFor({ a: big }) }, { name: 'a', data: big, size: 0 }]);
    const e = await failure(verifyPackage(lying, { publicKey: PUBLIC, maxUnpackedBytes: 1024 }));
    expect(e.details?.file).toBe('(zip)');
    expect(e.message).toMatch(/a: a stored entry whose sizes disagree/);
    // Told the truth, the same entry is over the bound; within it, it verifies.
    const honest = handZip([{ name: 'CERT.json', data: certFor({ a: big }) }, { name: 'a', data: big }]);
    expect((await failure(verifyPackage(honest, { publicKey: PUBLIC, maxUnpackedBytes: 1024 }))).message).toMatch(/maxUnpackedBytes/);
    expect((await verifyPackage(honest, { publicKey: PUBLIC })).files.a).toEqual(big);
  });

  it('a deflated entry that inflates past its declared size is refused naming it, after inflating one 16 KB step of its input, not all of it', async () => {
    const zeros = new Uint8Array(64 * 1024 * 1024);
    const deflated = deflateSync(zeros);
    expect(deflated.length).toBeGreaterThan(40 * 1024); // several steps of input
    const zip = handZip([{ name: 'CERT.json', data: certFor({ 'bomb.bin': new Uint8Array(1) }) }, { name: 'bomb.bin', data: deflated, method: 8, size: 1 }]);
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('bomb.bin');
    expect(e.message).toMatch(/does not inflate to the 1 bytes/);
    // How much input was inflated before the refusal: count what reaches fflate's stream.
    let pushed = 0;
    class Counting extends Inflate {
      override push(chunk: Uint8Array, final?: boolean): void {
        pushed += chunk.length;
        super.push(chunk, final);
      }
    }
    const [, entry] = readZipEntries(zip);
    expect(readZipEntry(zip, entry, Counting)).toBeNull();
    expect(pushed).toBe(16 * 1024);
    // The same stream declared at its true size inflates whole.
    pushed = 0;
    expect(readZipEntry(zip, { ...entry, size: zeros.length }, Counting)?.length).toBe(zeros.length);
    expect(pushed).toBe(deflated.length);
  });

  it('a deflated entry that inflates to fewer bytes than declared is refused naming it', async () => {
    const data = strToU8('short');
    const zip = handZip([{ name: 'CERT.json', data: certFor({ 's.txt': data }) }, { name: 's.txt', data: deflateSync(data), method: 8, size: 6 }]);
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('s.txt');
    expect(e.message).toMatch(/does not inflate to the 6 bytes/);
  });

  it('a zip64 directory (sizes and offsets in the zip64 extra field) verifies like the plain one; a legacy-charset name is read byte per character', async () => {
    const files = { 'index.html': strToU8('<h1>zip64</h1>'), 'app.js': strToU8('console.log(1)'.repeat(50)) };
    const latin1Name = Uint8Array.of(0x63, 0x61, 0x66, 0xe9); // "café" in ISO-8859-1
    const latin1Data = strToU8('legacy name');
    const all = { ...files, 'café': latin1Data };
    const entries: HandEntry[] = [
      { name: 'CERT.json', data: certFor(all) },
      { name: 'index.html', data: files['index.html'] },
      { name: 'app.js', data: deflateSync(files['app.js']), method: 8, size: files['app.js'].length },
      { name: latin1Name, data: latin1Data, utf8: false },
    ];
    for (const zip64 of [false, true]) {
      const zip = handZip(entries, { zip64 });
      expect((await verifyPackage(zip, { publicKey: PUBLIC })).files).toEqual(all);
    }
    // A zip64 field that declares room for one value where three are all ones: the others are never read from past it.
    const short = handZip(entries, { zip64: true });
    const v = new DataView(short.buffer);
    const cd = Number(v.getBigUint64(short.length - 22 - 20 - 56 + 48, true));
    v.setUint16(cd + 46 + 'CERT.json'.length + 2, 8, true); // the first record's zip64 field length: 24 -> 8
    const e = await failure(verifyPackage(short, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('(zip)');
    expect(e.message).toMatch(/zip64 field too short/);
  });

  it('a zip whose directory points outside the file, at no local header, or uses another compression method is refused as (zip)', async () => {
    const good = handZip([{ name: 'CERT.json', data: certFor({ a: strToU8('a') }) }, { name: 'a', data: strToU8('a') }]);
    const v = (z: Uint8Array) => new DataView(z.buffer, z.byteOffset, z.byteLength);
    const cd = v(good).getUint32(good.length - 22 + 16, true);
    const second = cd + 46 + 'CERT.json'.length; // the second directory record
    const cases: [string, (z: Uint8Array) => void, RegExp][] = [
      ['offset past the end', (z) => v(z).setUint32(second + 42, z.length + 10, true), /truncated|no local header/],
      ['offset at no local header', (z) => v(z).setUint32(second + 42, 1, true), /no local header/],
      ['size past the end', (z) => (v(z).setUint32(second + 20, 1e6, true), v(z).setUint32(second + 24, 1e6, true)), /beyond the end/],
      ['method 12 (bzip2)', (z) => v(z).setUint16(second + 10, 12, true), /compression method 12/],
    ];
    for (const [, edit, message] of cases) {
      const z = good.slice();
      edit(z);
      const e = await failure(verifyPackage(z, { publicKey: PUBLIC }));
      expect(e.details?.file).toBe('(zip)');
      expect(e.message).toMatch(message);
    }
    expect((await verifyPackage(good, { publicKey: PUBLIC })).files.a).toEqual(strToU8('a'));
  });

  const page = strToU8('<h1>signed page</h1>');
  const evil = strToU8('<script>steal()</script>');

  it('an unsigned local entry the directory does not list (which readers by local headers extract first) is refused as (zip)', async () => {
    for (const at of ['first', 'between'] as const) {
      const hidden: HandEntry = { name: 'index.html', data: evil, unlisted: true };
      const listed: HandEntry[] = [{ name: 'index.html', data: page }, { name: 'CERT.json', data: certFor({ 'index.html': page }) }];
      const zip = handZip(at === 'first' ? [hidden, ...listed] : [listed[0], hidden, listed[1]]);
      if (at === 'first') expect(byLocalHeaders(zip)['index.html']).toBe('<script>steal()</script>'); // what such a reader would show
      const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
      expect(e.details?.file).toBe('(zip)');
      expect(e.message).toMatch(/index\.html: bytes before it that the directory does not list|CERT\.json: bytes before it/);
    }
    // Bytes between the last entry and the directory are refused too.
    const listed = handZip([{ name: 'index.html', data: page }, { name: 'CERT.json', data: certFor({ 'index.html': page }) }, { name: 'x.html', data: evil, unlisted: true }]);
    expect((await failure(verifyPackage(listed, { publicKey: PUBLIC }))).message).toMatch(/bytes before the central directory that it does not list/);
  });

  it('a directory record whose name is not its local header\'s (../../evil.html under index.html) is refused as (zip)', async () => {
    const zip = handZip([{ name: 'index.html', localName: '../../evil.html', data: page }, { name: 'CERT.json', data: certFor({ 'index.html': page }) }]);
    expect(Object.keys(byLocalHeaders(zip))).toContain('../../evil.html');
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC }));
    expect(e.details?.file).toBe('(zip)');
    expect(e.message).toMatch(/index\.html: its local header disagrees with the directory \(name, method or flags\)/);
  });

  it('a local header whose sizes or method are not the directory\'s, or an encrypted entry, is refused as (zip)', async () => {
    const good = handZip([{ name: 'CERT.json', data: certFor({ a: strToU8('abc') }) }, { name: 'a', data: strToU8('abc') }]);
    const v = (z: Uint8Array) => new DataView(z.buffer, z.byteOffset, z.byteLength);
    const second = 30 + 'CERT.json'.length + certFor({ a: strToU8('abc') }).length; // the second local header
    const cases: [(z: Uint8Array) => void, RegExp][] = [
      [(z) => v(z).setUint32(second + 18, 2, true), /a: its local header disagrees with the directory \(sizes\)/],
      [(z) => v(z).setUint16(second + 8, 8, true), /a: its local header disagrees with the directory \(name, method or flags\)/],
      [(z) => v(z).setUint16(second + 6, 0x801, true), /a: encrypted entries are not supported/],
    ];
    for (const [edit, message] of cases) {
      const z = good.slice();
      edit(z);
      const e = await failure(verifyPackage(z, { publicKey: PUBLIC }));
      expect(e.details?.file).toBe('(zip)');
      expect(e.message).toMatch(message);
    }
    expect((await verifyPackage(good, { publicKey: PUBLIC })).files.a).toEqual(strToU8('abc'));
  });

  it('packages written with data descriptors (Java ZipOutputStream, fflate Zip) still verify; a descriptor whose sizes are not the directory\'s is refused', async () => {
    const parts: Uint8Array[] = [];
    const z = new Zip((err, d) => {
      if (err) throw err;
      parts.push(d);
    });
    const add = (name: string, data: Uint8Array) => {
      const f = new ZipDeflate(name, { level: 6 });
      z.add(f);
      f.push(data, true);
    };
    const body = strToU8('<p>hi</p>'.repeat(50));
    add('index.html', body);
    add('CERT.json', certFor({ 'index.html': body }));
    z.end();
    const zip = concatBytes(...parts);
    const [first] = readZipEntries(zip);
    expect(zip[first.headerStart + 6] & 0x8).toBe(0x8); // written with a data descriptor
    expect((await verifyPackage(zip, { publicKey: PUBLIC })).files['index.html']).toEqual(body);
    // The descriptor (signature, CRC-32, then the sizes) saying another compressed size:
    const bad = zip.slice();
    new DataView(bad.buffer).setUint32(first.dataStart + first.compressedSize + 8, first.compressedSize + 1, true);
    const e = await failure(verifyPackage(bad, { publicKey: PUBLIC }));
    expect(e.message).toMatch(/index\.html: its data descriptor disagrees with the directory/);
  });
});

describe('zips written by common tools (test/fixtures/zips) pass the structure checks', () => {
  const FIXTURES = new URL('../fixtures/zips/', import.meta.url);
  const want: Record<string, string> = { 'index.html': '<p>hi</p>'.repeat(50), 'empty.txt': '', 'dir/a.js': 'x=1;'.repeat(100) };
  for (const [file, extra] of [
    ['infozip.zip', []],
    ['infozip-fz.zip', []],
    ['python-zipfile.zip', ['页面.html']],
    ['python-zipfile-stream.zip', ['页面.html']],
    ['python-zipfile-stream-zip64.zip', ['页面.html']],
  ] as const) {
    it(`${file}: every entry read, with its bytes`, () => {
      const zip = new Uint8Array(readFileSync(new URL(file, FIXTURES)));
      const entries = readZipEntries(zip);
      const files = Object.fromEntries(entries.filter((e) => !e.name.endsWith('/')).map((e) => [e.name, strFromU8(readZipEntry(zip, e)!)]));
      expect(Object.keys(files).sort()).toEqual([...Object.keys(want), ...extra].sort());
      for (const [name, text] of Object.entries(want)) expect(files[name], name).toBe(text);
      if (extra.length) expect(files['页面.html']).toBe('首页');
    });
  }
});

describe('verifyPackage: what "verified" promises', () => {
  it('a package whose CERT.json lists nothing (so nothing is signed) is refused naming CERT.json; loadPackage then reports the fallback', async () => {
    const empty = zipSync({ 'CERT.json': strToU8('{}') });
    await expectInvalid(verifyPackage(empty, { publicKey: PUBLIC }), 'CERT.json');
    const r = await loadPackage('http://127.0.0.1:1/x.amr', {
      publicKey: PUBLIC,
      fallbackUrl: 'https://m.example.com/',
      fetch: (async () => new Response(empty as BodyInit)) as typeof fetch,
    });
    expect(r).toMatchObject({ ok: false, fallbackUrl: 'https://m.example.com/', error: { code: 'PACKAGE_SIGNATURE_INVALID' } });
  });

  it('requiredFiles: a signed file removed together with its CERT.json line is refused naming it; with it present the package verifies', async () => {
    const signed = await signPackage(FILES, PRIVATE);
    const without = rezip(signed, (entries) => {
      delete entries['12345678.tar'];
      editCert(entries, (cert) => delete cert['12345678.tar']);
    });
    // Without requiredFiles this still verifies: CERT.json signs bytes, not the set of files.
    expect(Object.keys((await verifyPackage(without, { publicKey: PUBLIC })).files).sort()).toEqual(['index.html', 'js/app.js']);
    await expectInvalid(verifyPackage(without, { publicKey: PUBLIC, requiredFiles: ['12345678.tar'] }), '12345678.tar');
    const certFiles = (await verifyPackage(signed, { publicKey: PUBLIC, requiredFiles: ['12345678.tar', 'index.html'] })).files;
    expect(certFiles).toEqual(FILES);
    // The detached layout checks them too.
    const zip = zipSync(FILES);
    const signature = await signPackageDetached(zip, PRIVATE);
    await expectInvalid(verifyPackage(zip, { publicKey: PUBLIC, signature, requiredFiles: ['other.tar'] }), 'other.tar');
    // Both layouts hand back an ordinary object (hasOwnProperty and the rest work on it).
    const detachedFiles = (await verifyPackage(zip, { publicKey: PUBLIC, signature, requiredFiles: ['index.html'] })).files;
    for (const files of [certFiles, detachedFiles]) {
      expect(Object.getPrototypeOf(files)).toBe(Object.prototype);
      expect(files.hasOwnProperty('index.html')).toBe(true);
    }
  });

  it('requiredFiles or signature of the wrong type -> BAD_CONFIG naming the option (loadPackage: the same code, not NETWORK, before anything is downloaded)', async () => {
    const signed = await signPackage(FILES, PRIVATE);
    for (const [option, opts] of [
      ['requiredFiles', { requiredFiles: 'index.html' }],
      ['requiredFiles', { requiredFiles: [''] }],
      ['requiredFiles', { requiredFiles: ['CERT.json'] }],
      ['signature', { signature: null }],
      ['signature', { signature: 123 }],
      ['signature', { signature: {} }],
    ] as const) {
      const e = await failure(verifyPackage(signed, { publicKey: PUBLIC, ...(opts as object) }));
      expect(e.code).toBe('BAD_CONFIG');
      expect(e.details?.option).toBe(option);
      let fetched = 0;
      const r = await loadPackage('http://127.0.0.1:1/x.amr', {
        publicKey: PUBLIC,
        fallbackUrl: 'https://m.example.com/',
        fetch: (async () => (fetched++, new Response(signed as BodyInit))) as typeof fetch,
        ...(opts as object),
      });
      expect(r).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option } } });
      expect(fetched).toBe(0);
    }
  });
});

describe('signPackage writes only what verifyPackage accepts; inputs as tools give them', () => {
  it('signPackage refuses (BAD_CONFIG naming files) a name verifyPackage would refuse (backslash, .., absolute), instead of writing a package no client can use', async () => {
    for (const name of ['js\\app.js', '../x.html', '/abs.html', 'C:/x.html']) {
      const e = await failure(signPackage({ [name]: strToU8('x'), 'index.html': strToU8('<p>x</p>') }, PRIVATE));
      expect(e.code).toBe('BAD_CONFIG');
      expect(e.details?.option).toBe('files');
      expect(e.message).toContain(name);
      expect(e.message).not.toContain('PRIVATE KEY');
    }
  });

  it('signPackage of a zip with no files (only directories, or only a CERT.json) is BAD_CONFIG, not a package every client refuses', async () => {
    for (const input of [zipSync({ 'assets/': new Uint8Array(0) }), zipSync({ 'CERT.json': strToU8('{}') }), {}]) {
      const e = await failure(signPackage(input, PRIVATE));
      expect(e.code).toBe('BAD_CONFIG');
      expect(e.message).toMatch(/no files to sign/);
    }
  });

  it('a detached signature given as wrapped base64 text (openssl base64, read as a string) verifies as it does given as bytes', async () => {
    const zip = zipSync(FILES);
    const wrapped = toBase64(await signPackageDetached(zip, PRIVATE)).replace(/(.{64})/g, '$1\n') + '\n';
    expect(wrapped.split('\n').length).toBeGreaterThan(3);
    expect(Object.keys((await verifyPackage(zip, { publicKey: PUBLIC, signature: wrapped })).files).sort()).toEqual(Object.keys(FILES).sort());
    expect(Object.keys((await verifyPackage(zip, { publicKey: PUBLIC, signature: strToU8(wrapped) })).files).sort()).toEqual(Object.keys(FILES).sort());
  });

  it('a CERT.json saved with a UTF-8 byte order mark (Windows tools) is read; the package verifies', async () => {
    const page = strToU8('<p>x</p>');
    const cert = concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), certFor({ 'index.html': page }));
    expect((await verifyPackage(zipSync({ 'index.html': page, 'CERT.json': cert }), { publicKey: PUBLIC })).files['index.html']).toEqual(page);
  });
});

describe('loadPackage: what it checks before and after the download', () => {
  it('a publicKey that is not a key is BAD_CONFIG before anything is downloaded', async () => {
    let fetched = 0;
    const r = await loadPackage('http://127.0.0.1:1/p.amr', {
      publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      fallbackUrl: 'https://m.example.com/',
      fetch: (async () => (fetched++, new Response(zipSync(FILES) as BodyInit))) as typeof fetch,
    });
    expect(r).toMatchObject({ ok: false, fallbackUrl: 'https://m.example.com/', error: { code: 'BAD_CONFIG', details: { option: 'publicKey' } } });
    expect(fetched).toBe(0);
  });

  it('aborted while the signatures are checked: ABORTED, and no files', async () => {
    const pkg = await signPackage(FILES, PRIVATE);
    const ac = new AbortController();
    const subtle = globalThis.crypto.subtle;
    const verify = subtle.verify;
    // The user leaves while the package is verified: the abort lands inside the first signature check.
    subtle.verify = async function (...args: Parameters<SubtleCrypto['verify']>) {
      ac.abort();
      return verify.apply(subtle, args);
    } as SubtleCrypto['verify'];
    try {
      const r = await loadPackage('http://127.0.0.1:1/p.amr', { publicKey: PUBLIC, fallbackUrl: 'https://m.example.com/', signal: ac.signal, fetch: (async () => new Response(pkg as BodyInit)) as typeof fetch });
      expect(ac.signal.aborted).toBe(true);
      expect(r).toMatchObject({ ok: false, error: { code: 'ABORTED' } });
      expect('files' in r).toBe(false);
    } finally {
      subtle.verify = verify;
    }
  });

  it('loadPackage without options, or without fallbackUrl (plain JS), resolves BAD_CONFIG naming it, not NETWORK', async () => {
    const none = await loadPackage('http://127.0.0.1:1/p.amr', undefined as never);
    expect(none).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option: 'options' } } });
    const noFallback = await loadPackage('http://127.0.0.1:1/p.amr', { publicKey: PUBLIC } as never);
    expect(noFallback).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option: 'fallbackUrl' } } });
  });
});
