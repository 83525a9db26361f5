/**
 * The first hour of a developer shipping offline packages: the usual mistakes, made for real
 * (openssl keys and signatures, real tar / tar.gz files, HTTP on 127.0.0.1, the built CLI as a
 * child process), each pinned to an error that names its cause. Every test here failed before
 * its mend: the error was true but pointed elsewhere (tampering, base64, the gateway, a library
 * option name) or named nothing at all.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcError } from '../../src/errors.js';
import { verifyPackage } from '../../src/package/verify.js';
import { loadPackage } from '../../src/package/load.js';
import { listen, type Running } from '../helpers/servers.js';

const CLI = new URL('../../bin/sealed-rpc.js', import.meta.url).pathname;
let dir = '';
const f = (n: string) => join(dir, n);
let priv = '';
let pub = '';
const files = { '12345678.tar': strToU8('the resources, as a tar'), 'index.html': strToU8('<title>offline</title>') };

function run(cmd: string, args: string[], cwd = dir) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return r;
}
function openssl(...args: string[]): string {
  const r = run('openssl', args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** Sign each file with `openssl dgst` (the external truth) and zip it with a CERT.json whose names `name` makes. */
function opensslPackage(digest: '-sha1' | '-sha256', name = (n: string) => n, encode = (sig: Buffer) => sig.toString('base64')): Uint8Array {
  const cert: Record<string, string> = {};
  for (const [n, data] of Object.entries(files)) {
    writeFileSync(f('data.bin'), data);
    openssl('dgst', digest, '-sign', f('priv.pem'), '-out', f('data.sig'), f('data.bin'));
    cert[name(n)] = encode(readFileSync(f('data.sig')));
  }
  return zipSync({ ...files, 'CERT.json': strToU8(JSON.stringify(cert)) });
}
async function refusal(p: Promise<unknown>): Promise<RpcError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RpcError);
  return e as RpcError;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-first-hour-'));
  openssl('genrsa', '-out', f('priv.pem'), '2048');
  openssl('rsa', '-in', f('priv.pem'), '-pubout', '-out', f('pub.pem'));
  priv = readFileSync(f('priv.pem'), 'utf8');
  pub = readFileSync(f('pub.pem'), 'utf8');
}, 60_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('keys as developers have them', () => {
  it('a public key file PATH given as publicKey is BAD_CONFIG saying it is a path (it said "the PEM body is not valid base64")', async () => {
    const pkg = opensslPackage('-sha256');
    for (const path of [f('pub.pem'), './keys/public.pem', 'C:\\keys\\public.pem']) {
      const e = await refusal(verifyPackage(pkg, { publicKey: path }));
      expect(e.code).toBe('BAD_CONFIG');
      expect(e.message).toMatch(/^publicKey: a file path, not a key/);
    }
  });

  it('a PEM kept in JSON or a .env file with its line breaks escaped ("\\n" as text) verifies (it was "not valid base64")', async () => {
    const escaped = JSON.stringify(pub).slice(1, -1);
    expect(escaped).toContain('\\n');
    const { files: got } = await verifyPackage(opensslPackage('-sha256'), { publicKey: escaped });
    expect(Object.keys(got).sort()).toEqual(['12345678.tar', 'index.html']);
  });

  it('an X.509 certificate (BEGIN CERTIFICATE, what consoles hand out) is BAD_CONFIG telling how to take its key, and that key verifies', async () => {
    openssl('req', '-new', '-x509', '-key', f('priv.pem'), '-subj', '/CN=offline', '-days', '2', '-out', f('cert.pem'));
    const pkg = opensslPackage('-sha256');
    const e = await refusal(verifyPackage(pkg, { publicKey: readFileSync(f('cert.pem'), 'utf8') }));
    expect(e.code).toBe('BAD_CONFIG');
    expect(e.message).toContain('got "CERTIFICATE"');
    expect(e.message).toContain('openssl x509 -pubkey -noout');
    // The remedy the message gives works.
    const extracted = openssl('x509', '-pubkey', '-noout', '-in', f('cert.pem'));
    await expect(verifyPackage(pkg, { publicKey: extracted })).resolves.toBeTruthy();
  });
});

describe('signatures as consoles and openssl write them', () => {
  it('a SHA-1 package (openssl dgst -sha1) checked as SHA-256, and the reverse, says which hash to set (it said "tampered, or …")', async () => {
    const e1 = await refusal(verifyPackage(opensslPackage('-sha1'), { publicKey: pub }));
    expect(e1.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(e1.message).toContain('made with SHA-1: set hash (--hash) to SHA-1');
    const e256 = await refusal(verifyPackage(opensslPackage('-sha256'), { publicKey: pub, hash: 'SHA-1' }));
    expect(e256.message).toContain('made with SHA-256');
    // A package signed with another key is still just that.
    openssl('genrsa', '-out', f('other.pem'), '2048');
    const other = openssl('rsa', '-in', f('other.pem'), '-pubout');
    const eo = await refusal(verifyPackage(opensslPackage('-sha1'), { publicKey: other, hash: 'SHA-1' }));
    expect(eo.message).toContain('tampered, or signed with another key or hash');
  }, 30_000);

  it('a CERT.json naming files "./x", "X" or with a backslash: the refusal quotes the name it lists (it said only "unsigned file")', async () => {
    const cases: [(n: string) => string, string][] = [
      [(n) => `./${n}`, '"./12345678.tar"'],
      [(n) => n.toUpperCase(), '"12345678.TAR"'],
    ];
    for (const [name, listed] of cases) {
      const e = await refusal(verifyPackage(opensslPackage('-sha256', name), { publicKey: pub }));
      expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
      expect(e.details?.file).toBe('12345678.tar');
      expect(e.message).toContain(`it lists ${listed}`);
    }
    writeFileSync(f('a.js'), 'a');
    openssl('dgst', '-sha256', '-sign', f('priv.pem'), '-out', f('a.sig'), f('a.js'));
    const pkg = zipSync({ 'www/a.js': strToU8('a'), 'CERT.json': strToU8(JSON.stringify({ 'www\\a.js': readFileSync(f('a.sig')).toString('base64') })) });
    const e = await refusal(verifyPackage(pkg, { publicKey: pub }));
    expect(e.message).toContain('it lists "www\\\\a.js"');
  });

  it('a signature in hex, in CERT.json or detached, is named as hex (it said "tampered, or signed with another key")', async () => {
    const e = await refusal(verifyPackage(opensslPackage('-sha256', undefined, (s) => s.toString('hex')), { publicKey: pub }));
    expect(e.message).toContain('it is hex');
    const pkg = opensslPackage('-sha256');
    writeFileSync(f('pkg.amr'), pkg);
    openssl('dgst', '-sha256', '-sign', f('priv.pem'), '-out', f('pkg.sig'), f('pkg.amr'));
    const hex = readFileSync(f('pkg.sig')).toString('hex');
    for (const signature of [hex, strToU8(`${hex}\n`)]) {
      const d = await refusal(verifyPackage(pkg, { publicKey: pub, signature }));
      expect(d.details?.file).toBe('(package)');
      expect(d.message).toContain('it is hex');
    }
  });
});

describe('loadPackage over real HTTP', () => {
  let server: Running | undefined;
  let base = '';
  const hits: string[] = [];
  let pkg: Uint8Array;
  beforeAll(async () => {
    pkg = opensslPackage('-sha256');
    server = await listen((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/index-for-everything.amr') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>app shell</body></html>');
      else if (req.url === '/pkg.amr') res.end(pkg);
      else res.writeHead(404).end('not found');
    });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('an HTML page served with 200 at the package URL (an SPA fallback) says so and points at the URL, not at tampering', async () => {
    const r = await loadPackage(`${base}/index-for-everything.amr`, { publicKey: pub, fallbackUrl: 'https://m.example.com/' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.fallbackUrl).toBe('https://m.example.com/');
    expect(r.error.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(r.error.message).toContain('an HTML page, not a zip');
    expect(r.error.hint).toContain('check the package URL');
  });

  it('the signature URL given as signature is BAD_CONFIG naming signature, and the signature given as signatureUrl is BAD_CONFIG naming signatureUrl, nothing downloaded', async () => {
    writeFileSync(f('pkg.amr'), pkg);
    openssl('dgst', '-sha256', '-sign', f('priv.pem'), '-out', f('pkg.sig'), f('pkg.amr'));
    const b64 = readFileSync(f('pkg.sig')).toString('base64');
    hits.length = 0;
    const a = await loadPackage(`${base}/pkg.amr`, { publicKey: pub, fallbackUrl: 'F', signature: `${base}/pkg.amr.sig` });
    const b = await loadPackage(`${base}/pkg.amr`, { publicKey: pub, fallbackUrl: 'F', signatureUrl: b64 });
    expect(a.ok || b.ok).toBe(false);
    if (a.ok || b.ok) return;
    expect([a.error.code, a.error.details?.option]).toEqual(['BAD_CONFIG', 'signature']);
    expect([b.error.code, b.error.details?.option]).toEqual(['BAD_CONFIG', 'signatureUrl']);
    expect(hits).toEqual([]);
    // verifyPackage: the same mistake, the same answer.
    const e = await refusal(verifyPackage(pkg, { publicKey: pub, signature: './pkg.amr.sig' }));
    expect([e.code, e.details?.option]).toEqual(['BAD_CONFIG', 'signature']);
  });

  it("a package URL nothing answers (or, in a browser, one without CORS) gets a hint about the package's server, not the gateway's", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r = await loadPackage(`http://127.0.0.1:${port}/pkg.amr`, { publicKey: pub, fallbackUrl: 'F' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('NETWORK');
    expect(r.error.hint).not.toMatch(/gateway/);
    expect(r.error.hint).toMatch(/package URL.*CORS/);
  });
});

describe('archives that are not the zip', () => {
  it('a .tar and a .tar.gz (made by tar) are named as such, not "no end of central directory"', async () => {
    mkdirSync(f('site'), { recursive: true });
    writeFileSync(f('site/index.html'), '<title>offline</title>');
    run('tar', ['-cf', f('site.tar'), '-C', f('site'), 'index.html']);
    run('tar', ['-czf', f('site.tar.gz'), '-C', f('site'), 'index.html']);
    const t = await refusal(verifyPackage(readFileSync(f('site.tar')), { publicKey: pub }));
    expect(t.message).toBe('offline package: (zip): a tar file, not a zip');
    const g = await refusal(verifyPackage(readFileSync(f('site.tar.gz')), { publicKey: pub }));
    expect(g.message).toContain('a gzip file');
  });

  it('a zip of the package folder (CERT.json one level down) says where CERT.json is, not "the package is not signed"', async () => {
    mkdirSync(f('zipped/12345678'), { recursive: true });
    const signed = opensslPackage('-sha256');
    writeFileSync(f('signed.zip'), signed);
    run('unzip', ['-q', '-o', f('signed.zip'), '-d', f('zipped/12345678')]);
    const r = run('zip', ['-q', '-r', f('folder.zip'), '12345678'], f('zipped'));
    if (r.status !== 0) throw new Error(`zip failed: ${r.stderr}`);
    const e = await refusal(verifyPackage(readFileSync(f('folder.zip')), { publicKey: pub }));
    expect(e.details?.file).toBe('CERT.json');
    expect(e.message).toContain('at 12345678/CERT.json');
  });
});

describe('the CLI (built, as a child process)', () => {
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args]);
  beforeAll(() => {
    writeFileSync(f('in.zip'), zipSync(files));
    writeFileSync(f('pkg.amr'), opensslPackage('-sha256'));
    openssl('pkey', '-in', f('pub.pem'), '-pubin', '-outform', 'DER', '-out', f('pub.der'));
    mkdirSync(f('keys'), { recursive: true });
  });

  it('a --key that is a directory, or a --pub in DER, exits 1 naming the flag and the file (it printed "EISDIR: illegal operation on a directory, read" / "The encoded data was not valid for encoding utf-8")', () => {
    const d = cli('sign-package', 'in.zip', '--key', 'keys', '-o', 'out.amr');
    expect(d.status).toBe(1);
    expect(d.stderr).toContain('--key keys: cannot read it (EISDIR)');
    const der = cli('verify-package', 'pkg.amr', '--pub', 'pub.der');
    expect(der.status).toBe(1);
    expect(der.stderr).toContain('--pub pub.der: not a PEM text file');
  });

  it('swapped keys exit 1 naming --key / --pub and the file, not the library options privateKeyPem / publicKey, and print no key', () => {
    const s = cli('sign-package', 'in.zip', '--key', 'pub.pem', '-o', 'out.amr');
    expect(s.status).toBe(1);
    expect(s.stderr).toBe('sealed-rpc: BAD_CONFIG: --key pub.pem: expected a PEM "PRIVATE KEY" or "RSA PRIVATE KEY", got "PUBLIC KEY"\n');
    const v = cli('verify-package', 'pkg.amr', '--pub', 'priv.pem');
    expect(v.status).toBe(1);
    expect(v.stderr).toBe('sealed-rpc: BAD_CONFIG: --pub priv.pem: expected a PEM "PUBLIC KEY" or "RSA PUBLIC KEY", got "PRIVATE KEY"\n');
    const body = priv.split('\n')[1];
    for (const r of [s, v]) expect(r.stderr + r.stdout).not.toContain(body);
  });
});
