/** Detached signature files as teams keep them: raw bytes, or base64 text (wrapped or not). */
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli, type CliIo } from '../../src/server/cli.js';
import { signPackageDetached } from '../../src/server/package-sign.js';
import { RpcError } from '../../src/errors.js';
import { verifyPackage } from '../../src/package/verify.js';
import { memIo } from '../helpers/cli-io.js';

const vectors = JSON.parse(readFileSync(new URL('../../../shared/vectors/primitives.json', import.meta.url), 'utf8')) as { vectors: { name: string; key: string; privateKeyPemTestOnly: string }[] };
const rsa = vectors.vectors.find((v) => v.name === 'rsa-2048-pkcs1v15-sha256-1')!;
const dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    readFile: async (p) => new Uint8Array(readFileSync(p)),
    writeFile: async (p, d) => writeFileSync(p, d),
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
  };
}

describe('verify-package --signature reads every usual signature file', () => {
  const pkg = zipSync({ 'index.html': strToU8('<title>offline</title>') });
  const pkgPath = join(dir, 'pkg.amr');
  const pubPath = join(dir, 'pub.pem');
  writeFileSync(pkgPath, pkg);
  writeFileSync(pubPath, rsa.key);

  it('raw bytes, one-line base64, 64-column wrapped base64 (also tab-indented with CRLF) and URL-safe base64 all verify (exit 0); a changed package fails (exit 1)', async () => {
    const raw = await signPackageDetached(pkg, rsa.privateKeyPemTestOnly);
    const b64 = Buffer.from(raw).toString('base64');
    const forms: Record<string, Uint8Array | string> = {
      raw,
      base64: b64 + '\n',
      wrapped: b64.replace(/.{64}/g, '$&\n') + '\n',
      urlsafe: b64.replace(/\+/g, '-').replace(/\//g, '_'),
      // Pasted into a config file or a heredoc: tab-indented, CRLF line ends.
      tabbed: b64.replace(/.{64}/g, '\t$&\r\n') + '\r\n',
    };
    for (const [name, content] of Object.entries(forms)) {
      const sigPath = join(dir, `pkg.${name}.sig`);
      writeFileSync(sigPath, content);
      const o = io();
      expect(await runCli(['verify-package', pkgPath, '--pub', pubPath, '--signature', sigPath], o), name).toBe(0);
      // The library call the CLI makes, given the file's bytes, agrees.
      expect(Object.keys((await verifyPackage(pkg, { publicKey: rsa.key, signature: new Uint8Array(readFileSync(sigPath)) })).files)).toEqual(['index.html']);
    }
    const changed = join(dir, 'changed.amr');
    writeFileSync(changed, zipSync({ 'index.html': strToU8('<title>tampered</title>') }));
    const o = io();
    expect(await runCli(['verify-package', changed, '--pub', pubPath, '--signature', join(dir, 'pkg.wrapped.sig')], o)).toBe(1);
    expect(o.err.join('')).toContain('PACKAGE_SIGNATURE_INVALID');
  });
});

describe('usage text', () => {
  it('no command is a usage error: exit 2, usage on stderr and nothing on stdout; help asked for is exit 0 on stdout', async () => {
    const bare = io();
    expect(await runCli([], bare)).toBe(2);
    expect(bare.out).toEqual([]);
    expect(bare.err.join('')).toMatch(/^usage:\n  sealed-rpc sign-package/);
    for (const flag of ['help', '--help', '-h']) {
      const asked = io();
      expect(await runCli([flag], asked), flag).toBe(0);
      expect(asked.err).toEqual([]);
      expect(asked.out.join('')).toMatch(/^usage:/);
    }
  });
});

/** The CLI over an in-memory disk: `files` is all there is; `exclusive` is honoured. */
describe('option mistakes are usage errors (exit 2) that name the option, before any file is touched', () => {
  it('sign-package -o <the --key file> or -o <the input> is refused (exit 2); the key and the input are left as they were', async () => {
    const zip = zipSync({ 'index.html': strToU8('<p>hi</p>') });
    for (const [args, names] of [
      [['sign-package', 'in.zip', '--key', 'priv.pem', '-o', 'priv.pem', '--detached'], /-o is the --key file/],
      [['sign-package', 'in.zip', '--key', 'priv.pem', '-o', './priv.pem'], /-o is the --key file/],
      [['sign-package', 'in.zip', '--key', 'priv.pem', '-o', 'in.zip'], /-o is the input package/],
    ] as const) {
      const files = new Map<string, Uint8Array | string>([['in.zip', zip], ['priv.pem', rsa.privateKeyPemTestOnly]]);
      const o = memIo(files);
      expect(await runCli([...args], o), args.join(' ')).toBe(2);
      expect(o.err.join('')).toMatch(names);
      expect(files.get('priv.pem')).toBe(rsa.privateKeyPemTestOnly);
      expect(files.get('in.zip')).toBe(zip);
      expect(files.size).toBe(2);
    }
  });

  it('on the real file system, -o naming the --key file or the input through a symlink or a hard link is refused (exit 2) and both are left byte for byte', async () => {
    const sub = mkdtempSync(join(dir, 'links-'));
    const zip = zipSync({ 'index.html': strToU8('<p>hi</p>') });
    const keyPath = join(sub, 'priv.pem');
    const inPath = join(sub, 'in.zip');
    writeFileSync(keyPath, rsa.privateKeyPemTestOnly);
    writeFileSync(inPath, zip);
    symlinkSync(keyPath, join(sub, 'key-link.sig'));
    linkSync(keyPath, join(sub, 'key-hard.sig'));
    symlinkSync(inPath, join(sub, 'in-link.amr'));
    linkSync(inPath, join(sub, 'in-hard.amr'));
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((t) => (err.push(String(t)), true));
    try {
      for (const [out, names, detached] of [
        ['key-link.sig', /-o is the --key file/, true],
        ['key-hard.sig', /-o is the --key file/, false],
        ['in-link.amr', /-o is the input package/, false],
        ['in-hard.amr', /-o is the input package/, true],
      ] as const) {
        err.length = 0;
        const args = ['sign-package', inPath, '--key', keyPath, '-o', join(sub, out), ...(detached ? ['--detached'] : [])];
        expect(await runCli(args), out).toBe(2);
        expect(err.join(''), out).toMatch(names);
      }
    } finally {
      spy.mockRestore();
    }
    expect(readFileSync(keyPath, 'utf8')).toBe(rsa.privateKeyPemTestOnly);
    expect(new Uint8Array(readFileSync(inPath))).toEqual(zip);
    // A new file next to them is written as before.
    const okOut = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await runCli(['sign-package', inPath, '--key', keyPath, '-o', join(sub, 'pkg.sig'), '--detached'])).toBe(0);
    } finally {
      okOut.mockRestore();
    }
    expect((await verifyPackage(zip, { publicKey: rsa.key, signature: new Uint8Array(readFileSync(join(sub, 'pkg.sig'))) })).files['index.html']).toBeDefined();
  });

  it('verify-package with a bad --hash is exit 2 naming --hash, even when the files do not exist', async () => {
    const o = memIo(new Map());
    expect(await runCli(['verify-package', 'pkg.amr', '--pub', 'pub.pem', '--hash', 'MD5'], o)).toBe(2);
    expect(o.err.join('')).toMatch(/--hash must be SHA-1 or SHA-256, got MD5/);
  });

  it('keygen-rsa: --bits that is not a number, or the size given without --bits, is exit 2 and no key is written', async () => {
    for (const [args, names] of [
      [['keygen-rsa', '-o', 'k.pem', '--pub', 'k.pub', '--bits', 'abc'], /--bits must be a whole number/],
      [['keygen-rsa', '-o', 'k.pem', '--pub', 'k.pub', '4096'], /no positional argument, got 4096/],
    ] as const) {
      const files = new Map<string, Uint8Array | string>();
      const o = memIo(files);
      expect(await runCli([...args], o), args.join(' ')).toBe(2);
      expect(o.err.join('')).toMatch(names);
      expect(files.size).toBe(0);
    }
  });

  it('a switch given a value (--detached=false) is exit 2, not read as the switch', async () => {
    const files = new Map<string, Uint8Array | string>([['in.zip', zipSync({ a: strToU8('a') })], ['priv.pem', rsa.privateKeyPemTestOnly]]);
    const o = memIo(files);
    expect(await runCli(['sign-package', 'in.zip', '--key', 'priv.pem', '-o', 'out.sig', '--detached=false'], o)).toBe(2);
    expect(o.err.join('')).toMatch(/--detached takes no value/);
    expect(files.has('out.sig')).toBe(false);
  });
});

describe('signPackageDetached', () => {
  it('a bad hash is a rejected promise (BAD_CONFIG), not a synchronous throw a .catch() would miss', async () => {
    let p: Promise<unknown> | undefined;
    expect(() => (p = signPackageDetached(new Uint8Array(4), rsa.privateKeyPemTestOnly, 'MD5' as never))).not.toThrow();
    const err = (await p!.catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('BAD_CONFIG');
  });
});
