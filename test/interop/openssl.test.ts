// RSA interop with the OpenSSL CLI, the tool the push service's docs tell users to make
// keys with (seed 003). CI installs openssl; a missing binary is a failure, not a skip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { signRsa, signRsaSha256, verifyRsa, verifyRsaSha256 } from '../../src/crypto/rsa.js';
import { verifyPackage } from '../../src/package/verify.js';
import { fromBase64, toBase64 } from '../../src/codec/base64.js';
import { RpcError } from '../../src/errors.js';

let dir = '';
const path = (name: string) => join(dir, name);
const read = (name: string) => readFileSync(path(name), 'utf8');
function openssl(...args: string[]): Buffer {
  return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

const BODY = '{"msgId":"console_1584853300103","pushSuccess":true,"statusDesc":"已送达"}';

beforeAll(() => {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('the openssl CLI is required for test/interop/openssl.test.ts (apt-get install openssl); it was not found on PATH');
  }
  dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-openssl-'));
  // The push service's documented commands, plus the PKCS#1 ("traditional") forms.
  openssl('genpkey', '-algorithm', 'RSA', '-out', 'private_key.pem', '-pkeyopt', 'rsa_keygen_bits:2048');
  openssl('rsa', '-pubout', '-in', 'private_key.pem', '-out', 'public_key.pem');
  openssl('rsa', '-in', 'private_key.pem', '-traditional', '-out', 'private_pkcs1.pem');
  openssl('rsa', '-in', 'private_key.pem', '-RSAPublicKey_out', '-out', 'public_pkcs1.pem');
  writeFileSync(path('body.json'), BODY);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('OpenSSL -> SDK', () => {
  it('openssl makes PKCS#8 / SPKI and PKCS#1 PEMs with the labels the SDK expects', () => {
    expect(read('private_key.pem')).toContain('-----BEGIN PRIVATE KEY-----');
    expect(read('public_key.pem')).toContain('-----BEGIN PUBLIC KEY-----');
    expect(read('private_pkcs1.pem')).toContain('-----BEGIN RSA PRIVATE KEY-----');
    expect(read('public_pkcs1.pem')).toContain('-----BEGIN RSA PUBLIC KEY-----');
  });

  it('a signature by `openssl dgst -sha256 -sign` verifies with SPKI and PKCS#1 public keys, in all three text forms', async () => {
    const sig = new Uint8Array(openssl('dgst', '-sha256', '-sign', 'private_key.pem', 'body.json'));
    expect(sig).toHaveLength(256);
    const std = toBase64(sig);
    const mps = std.replace(/\+/g, '-').replace(/\//g, '_');
    const unpadded = mps.replace(/=+$/, '');
    for (const pub of [read('public_key.pem'), read('public_pkcs1.pem')]) {
      for (const form of [std, mps, unpadded]) expect(await verifyRsaSha256(BODY, form, pub)).toBe(true);
      expect(await verifyRsaSha256(BODY + ' ', std, pub)).toBe(false);
    }
  });

  it('a signature by `openssl dgst -sha1 -sign` with the PKCS#1 private key verifies with verifyRsa SHA-1', async () => {
    const sig = new Uint8Array(openssl('dgst', '-sha1', '-sign', 'private_pkcs1.pem', 'body.json'));
    expect(await verifyRsa(BODY, sig, read('public_key.pem'), 'SHA-1')).toBe(true);
    expect(await verifyRsa(BODY, sig, read('public_key.pem'), 'SHA-256')).toBe(false);
  });

  it('the SDK signs byte-identically to openssl with the same key (PKCS#1 v1.5 is deterministic)', async () => {
    const ours = await signRsa(BODY, read('private_pkcs1.pem'), 'SHA-256');
    const theirs = new Uint8Array(openssl('dgst', '-sha256', '-sign', 'private_key.pem', 'body.json'));
    expect(ours).toEqual(theirs);
  });

  it('a CERT.json package whose entries openssl signed (SHA-1, like the container console) verifies', async () => {
    const tar = new Uint8Array(2000).map((_, i) => (i * 7) & 255);
    writeFileSync(path('12345678.tar'), tar);
    const sig = new Uint8Array(openssl('dgst', '-sha1', '-sign', 'private_key.pem', '12345678.tar'));
    const cert = new TextEncoder().encode(JSON.stringify({ '12345678.tar': toBase64(sig) }));
    const amr = zipSync({ '12345678.tar': tar, 'CERT.json': cert });
    const { files } = await verifyPackage(amr, { publicKey: read('public_key.pem'), hash: 'SHA-1' });
    expect(files['12345678.tar']).toEqual(tar);
    const err = (await verifyPackage(amr, { publicKey: read('public_key.pem') }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('PACKAGE_SIGNATURE_INVALID'); // SHA-1 signatures do not pass as SHA-256
  });
});

describe('SDK -> OpenSSL', () => {
  function opensslVerify(digest: string, pubFile: string, sig: Uint8Array): { status: number | null; out: string } {
    writeFileSync(path('sig.bin'), sig);
    const r = spawnSync('openssl', ['dgst', digest, '-verify', pubFile, '-signature', 'sig.bin', 'body.json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it('signRsaSha256 (PKCS#8 key) output, decoded from the URL-safe form, passes `openssl dgst -sha256 -verify`', async () => {
    const mps = await signRsaSha256(BODY, read('private_key.pem'));
    const r = opensslVerify('-sha256', 'public_key.pem', fromBase64(mps.replace(/-/g, '+').replace(/_/g, '/')));
    expect(r.out).toContain('Verified OK');
    expect(r.status).toBe(0);
  });

  it('signRsa SHA-256 with the PKCS#1 private key passes openssl; a flipped bit does not', async () => {
    const sig = await signRsa(BODY, read('private_pkcs1.pem'), 'SHA-256');
    expect(opensslVerify('-sha256', 'public_key.pem', sig).status).toBe(0);
    sig[10] ^= 1;
    const bad = opensslVerify('-sha256', 'public_key.pem', sig);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toContain('Verification failure');
  });

  it('signRsa SHA-1 passes `openssl dgst -sha1 -verify`', async () => {
    const sig = await signRsa(BODY, read('private_key.pem'), 'SHA-1');
    expect(opensslVerify('-sha1', 'public_key.pem', sig).status).toBe(0);
  });
});
