/**
 * An offline package written by the JDK's own java.util.zip (test/interop/java-package/
 * PackageWriter.java): the zip reader's checks (local headers repeating the directory, data
 * descriptors, entries back to back) must accept what Java build tools write. Without a JDK
 * this fails (CI installs one); it never skips.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPackage } from '../../src/package/verify.js';
import { readZipEntries } from '../../src/package/zip.js';
import { utf8Decode } from '../../src/codec/utf8.js';
import { compileJava } from '../helpers/java.js';
import { PRIVATE, PUBLIC } from '../helpers/zip.js';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'java-package', 'PackageWriter.java');

let dir = '';
let zip: Uint8Array;
beforeAll(() => {
  dir = compileJava('sealed-rpc-java-zip-', [SOURCE]);
  writeFileSync(join(dir, 'key.pem'), PRIVATE);
  const ran = spawnSync('java', ['-Dfile.encoding=UTF-8', '-cp', dir, 'PackageWriter', join(dir, 'key.pem'), join(dir, 'pkg.zip')], { encoding: 'utf8', timeout: 60_000 });
  if (ran.status !== 0) throw new Error(`PackageWriter failed:\n${ran.stderr}`);
  zip = new Uint8Array(readFileSync(join(dir, 'pkg.zip')));
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an offline package written by java.util.zip.ZipOutputStream', () => {
  it('verifies with every file (deflated with data descriptors, stored, UTF-8 names), the directory entry left out', async () => {
    const entries = readZipEntries(zip);
    expect(entries.map((e) => e.name)).toEqual(['js/', 'index.html', 'js/app.js', '页面/首页.html', 'img/logo.bin', 'CERT.json']);
    // What makes it a test of the descriptor path: Java wrote the deflated entries' sizes after their data.
    const flags = (name: string) => new DataView(zip.buffer, zip.byteOffset).getUint16(entries.find((e) => e.name === name)!.headerStart + 6, true);
    expect(flags('index.html') & 0x8).toBe(0x8);
    expect(flags('img/logo.bin') & 0x8).toBe(0);
    const { files } = await verifyPackage(zip, { publicKey: PUBLIC });
    expect(Object.keys(files).sort()).toEqual(['img/logo.bin', 'index.html', 'js/app.js', '页面/首页.html']);
    expect(utf8Decode(files['页面/首页.html'])).toBe('<p>首页</p>');
    expect(utf8Decode(files['js/app.js'])).toBe("console.log('离线包');\n".repeat(100));
    expect(files['img/logo.bin'][1]).toBe(7);
  });

  it('one byte changed inside a signed file is refused naming that file', async () => {
    const e = readZipEntries(zip).find((x) => x.name === 'img/logo.bin')!;
    const bad = zip.slice();
    bad[e.dataStart + 10] ^= 1;
    await expect(verifyPackage(bad, { publicKey: PUBLIC })).rejects.toMatchObject({ code: 'PACKAGE_SIGNATURE_INVALID', details: { file: 'img/logo.bin' } });
  });
});
