/**
 * Offline packages and push-service signatures, checked against the vendor's public documents
 * (mPaaS H5 container / MDS offline packages, mPaaS Message Push Service key management).
 * Each test quotes the line it pins (URL, the line, a translation where it is Chinese).
 * No point was found where the SDK contradicts them: these pin the documented behaviour, with
 * keys made by the documented openssl commands. Where the documents differ from PROTOCOLS.md
 * (normative: the `<appId>.tar` layout, a signature per file), nothing is pinned here.
 */
import { spawnSync } from 'node:child_process';
import { createSign, createVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRsaSha256 } from '../../src/crypto/rsa.js';
import { verifyPushCallback } from '../../src/server/push.js';
import { signPackage } from '../../src/server/package-sign.js';
import { verifyPackage } from '../../src/package/verify.js';
import { loadPackage } from '../../src/package/load.js';

let dir = '';
const keys: Record<string, string> = {};
function openssl(...args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (this test needs openssl on PATH): ${r.stderr ?? r.error}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sealed-rpc-vendor-docs-'));
  const f = (n: string) => join(dir, n);
  // Offline packages, https://help.aliyun.com/document_detail/64580.html (配置 H5 离线包, 密钥管理):
  //   "生成私钥: openssl genrsa -out private_key.pem 2048
  //    生成公钥: openssl rsa -in private_key.pem -outform PEM -pubout -out public.pem"
  // (OpenSSL 3 writes PKCS#8 here; OpenSSL 1.1.1, still named by the push docs, PKCS#1: -traditional.)
  openssl('genrsa', '-out', f('pkg.pem'), '2048');
  openssl('genrsa', '-traditional', '-out', f('pkg1.pem'), '2048');
  openssl('rsa', '-in', f('pkg.pem'), '-outform', 'PEM', '-pubout', '-out', f('pkg.pub.pem'));
  openssl('rsa', '-in', f('pkg1.pem'), '-outform', 'PEM', '-pubout', '-out', f('pkg1.pub.pem'));
  // Push, https://help.aliyun.com/document_detail/134470.html (密钥管理):
  //   "openssl genpkey -algorithm RSA -out private_key.pem -pkeyopt rsa_keygen_bits:2048"
  //   "openssl rsa -pubout -in private_key.pem -out public_key.pem"
  openssl('genpkey', '-algorithm', 'RSA', '-out', f('push.pem'), '-pkeyopt', 'rsa_keygen_bits:2048');
  openssl('rsa', '-pubout', '-in', f('push.pem'), '-out', f('push.pub.pem'));
  for (const n of ['pkg.pem', 'pkg1.pem', 'pkg.pub.pem', 'pkg1.pub.pem', 'push.pem', 'push.pub.pem']) keys[n] = readFileSync(f(n), 'utf8');
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The key as the push console shows it (RSA 算法公钥: 系统自动填写): the base64 body, no armour, no spaces. */
const bare = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

describe('push service (MPS) signatures, as the key-management page documents them', () => {
  // https://help.aliyun.com/en/document_detail/134470.html:
  //   "Use the SHA-256 signature algorithm. Convert the signature result to a base64 string.
  //    In the base64 string, replace + with - and / with _ to obtain the final signature."
  it('signRsaSha256 is SHA-256 RSA, base64 with + -> - and / -> _ (nothing else changed): the callback sample\'s reverse replacement and a plain SHA256withRSA verify accept it', async () => {
    for (let i = 0; i < 24; i++) {
      const body = JSON.stringify({ msgId: `console_${i}`, statusDesc: '已送达', pushSuccess: true });
      const sign = await signRsaSha256(body, keys['push.pem']);
      expect(sign).not.toMatch(/[+/\s]/);
      expect(sign.length).toBe(344); // RSA-2048: 256 bytes, base64 with its padding kept
      // The page's Java sample: sign = sign.replace('-','+'); sign = sign.replace('_','/'); SignUtil.check(callbackJson, sign, pubKey, "UTF-8")
      const javaSide = sign.replace(/-/g, '+').replace(/_/g, '/');
      expect(createVerify('SHA256').update(Buffer.from(body, 'utf8')).verify(keys['push.pub.pem'], Buffer.from(javaSide, 'base64'))).toBe(true);
    }
  });

  // https://help.aliyun.com/document_detail/134470.html (推送回调接口配置):
  //   "MPS 对 POST 请求体以私钥进行签名,将签名后的内容作为 sign 参数进行回调。"
  //   (MPS signs the POST request body with its private key and sends the result as the `sign` parameter.)
  //   "RSA 算法公钥: 系统自动填写 … 用户服务端获取 POST 请求体和 sign 参数后,使用公钥验证是否为 MPS 请求"
  //   (the console fills in the public key; the server takes the POST body and `sign` and verifies them with it)
  it('verifyPushCallback checks `sign` over the raw POST body with the console\'s public key (bare base64 as copied, or PEM), in the URL-safe form and the standard one', async () => {
    const body = '{"extInfo":{"osType":"ios"},"msgId":"console_1584853300103","pushSuccess":true,"statusCode":"2","statusDesc":"Acked","targetId":"da64bc9d"}';
    const std = createSign('SHA256').update(body, 'utf8').sign(keys['push.pem']).toString('base64');
    const mps = std.replace(/\+/g, '-').replace(/\//g, '_');
    expect(await verifyPushCallback(body, mps, bare(keys['push.pub.pem']))).toBe(true);
    expect(await verifyPushCallback(body, std, bare(keys['push.pub.pem']))).toBe(true);
    expect(await verifyPushCallback(new TextEncoder().encode(body), mps, keys['push.pub.pem'])).toBe(true);
    // Not the body that was signed (re-serialised JSON, one byte more): refused.
    expect(await verifyPushCallback(JSON.stringify(JSON.parse(body), null, 1), mps, bare(keys['push.pub.pem']))).toBe(false);
    expect(await verifyPushCallback(`${body} `, mps, bare(keys['push.pub.pem']))).toBe(false);
  });
});

describe('offline packages, as the H5 container documents them', () => {
  // https://help.aliyun.com/document_detail/64580.html: "此处上传的文件是利用 OpenSSL 生成的 RSA 私钥,
  //   用来对离线包进行加签,在客户端利用对应的公钥进行签名验证。"
  //   (the uploaded file is an RSA private key made with OpenSSL; it signs the offline packages, and the
  //   client verifies them with the matching public key)
  // https://help.aliyun.com/en/document_detail/59594.html: "An offline package is a compressed file in .amr
  //   format. Rename the .amr extension to .zip and decompress it …" "First-level folder: The ID of a
  //   general resource plan, such as 20150901."
  it('a package signed with an `openssl genrsa` key (PKCS#8 or PKCS#1) verifies with its `openssl rsa -pubout` key, SHA-1 and SHA-256, in the documented folder layout', async () => {
    const files = { '20150901/www/index.html': strToU8('<!doctype html><p>offline'), '20150901/www/js/app.js': strToU8('void 0') };
    for (const [priv, pub] of [['pkg.pem', 'pkg.pub.pem'], ['pkg1.pem', 'pkg1.pub.pem']]) {
      for (const hash of ['SHA-1', 'SHA-256'] as const) {
        const amr = await signPackage(zipSync(files), keys[priv], { hash });
        const { files: got } = await verifyPackage(amr, { publicKey: keys[pub], hash });
        expect(Object.keys(got).sort()).toEqual(Object.keys(files).sort());
      }
    }
  });

  // https://help.aliyun.com/en/document_detail/151808.html (Offline package and gateway FAQ):
  //   "Offline package signature verification is performed locally and does not require a network connection."
  //   "Verification runs after download but before decompression. If it fails, the package does not load
  //    and the application falls back to the online page."
  // https://help.aliyun.com/document_detail/159080.html (如何排查离线包验签失败的问题):
  //   "控制台关闭 & 客户端开启:验签必然失败。" (console off, i.e. the package is unsigned, & client on: verification always fails)
  //   "控制台开启 & 客户端开启:验签可能失败,失败的原因可能是验签密钥不匹配。" (… may fail because the keys do not match)
  //   "验签失败并不会直接导致 H5 应用不可用,但会导致 H5 容器无法从本地获取到 H5 应用的资源,所有流量都会 fallback 到线上"
  //   (a failed verification does not make the app unusable: nothing is taken from the package, everything falls back online)
  it('an unsigned package, or one signed with another key, is not used: loadPackage resolves ok:false with the online fallback URL, no files', async () => {
    const unsigned = zipSync({ '20150901/www/index.html': strToU8('x') });
    const otherKey = await signPackage(zipSync({ '20150901/www/index.html': strToU8('x') }), keys['push.pem']);
    for (const bytes of [unsigned, otherKey]) {
      const r = await loadPackage('https://cdn.example/20150901_1.0.0.6.amr', {
        publicKey: keys['pkg.pub.pem'],
        fallbackUrl: 'https://m.example.com/www/index.html',
        fetch: async () => new Response(bytes as BodyInit),
      });
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.fallbackUrl).toBe('https://m.example.com/www/index.html');
      expect(r.error.code).toBe('PACKAGE_SIGNATURE_INVALID');
      expect('files' in r).toBe(false);
    }
  });

  // https://help.aliyun.com/en/document_detail/2574099.html: "If the offline package signature verification
  //   switch is YES, the corresponding public key must be set here, otherwise the local signature verification
  //   fails and the offline package loading fails."
  it('with no public key the package is not loaded (ok:false, the fallback URL), and verifyPackage refuses before reading it', async () => {
    const amr = await signPackage(zipSync({ 'a.html': strToU8('x') }), keys['pkg.pem']);
    const r = await loadPackage('https://cdn.example/a.amr', { fallbackUrl: 'https://m.example.com/', fetch: async () => new Response(amr as BodyInit) } as never);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.fallbackUrl).toBe('https://m.example.com/');
    await expect(verifyPackage(amr, {} as never)).rejects.toMatchObject({ code: 'BAD_CONFIG' });
  });
});
