/** Detached signature files as teams keep them: raw bytes, or base64 text (wrapped or not). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/server/cli.js';
import { signPackageDetached } from '../../src/server/package-sign.js';
import { verifyPackage } from '../../src/package/verify.js';

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
