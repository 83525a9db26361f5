/**
 * verifyPackage and loadPackage refuse an option they do not read, as every other entry point
 * does: a misspelt `requiredFiles` (the check the README tells pages to rely on against a
 * signed file left out of the package) was dropped without a word and the package "verified";
 * loadPackage also took an `onProgress` or `signatureUrl` of the wrong type without a word.
 */
import { strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadPackage, verifyPackage } from '../../src/index.js';
import { signPackage } from '../../src/server/index.js';
import { failure } from '../helpers/servers.js';
import { PRIVATE, PUBLIC } from '../helpers/zip.js';

const FILES = { 'index.html': strToU8('<!doctype html><title>offline</title>') };

describe('offline packages: an option the function does not read is a mistake, not ignored', () => {
  it("verifyPackage with 'requiredFile' (for requiredFiles) is BAD_CONFIG naming it, not a package that verifies without the check", async () => {
    const pkg = await signPackage(FILES, PRIVATE);
    // The check the typo drops: with the right name, the missing file is refused.
    await expect(verifyPackage(pkg, { publicKey: PUBLIC, requiredFiles: ['12345678.tar'] })).rejects.toMatchObject({ code: 'PACKAGE_SIGNATURE_INVALID' });
    const e = await failure(verifyPackage(pkg, { publicKey: PUBLIC, requiredFile: ['12345678.tar'] } as never));
    expect({ code: e.code, option: e.details?.option }).toEqual({ code: 'BAD_CONFIG', option: 'requiredFile' });
  });

  it("loadPackage with 'requiredFile' or 'maxDownloadByte', or an onProgress that is not a function, or a signatureUrl that is not a string, resolves ok:false BAD_CONFIG naming it, before anything is downloaded", async () => {
    const pkg = await signPackage(FILES, PRIVATE);
    for (const [name, value] of [
      ['requiredFile', ['12345678.tar']],
      ['maxDownloadByte', 10],
      ['onProgress', 'progressBar'],
      ['signatureUrl', 42],
    ] as const) {
      let fetched = 0;
      const r = await loadPackage('https://cdn.example.com/p.amr', {
        publicKey: PUBLIC,
        fallbackUrl: 'https://m.example.com/',
        fetch: (async () => (fetched++, new Response(pkg as BodyInit))) as typeof fetch,
        [name]: value,
      } as never);
      expect(r, name).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option: name } } });
      expect(fetched, name).toBe(0);
    }
  });

  it('loadPackage given both signatureUrl and signature resolves ok:false BAD_CONFIG (it used signatureUrl and ignored the other without a word), before anything is downloaded', async () => {
    let fetched = 0;
    const r = await loadPackage('https://cdn.example.com/p.amr', {
      publicKey: PUBLIC,
      fallbackUrl: 'https://m.example.com/',
      signatureUrl: 'https://cdn.example.com/p.sig',
      signature: new Uint8Array(256),
      fetch: (async () => (fetched++, new Response(''))) as typeof fetch,
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_CONFIG', details: { option: 'signatureUrl' } } });
    expect(!r.ok && r.error.message).toMatch(/not both/);
    expect(fetched).toBe(0);
  });
});
