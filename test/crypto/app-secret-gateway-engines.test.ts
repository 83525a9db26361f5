/**
 * The `app-secret` gateway on whichever engine this project runs: WebCrypto (`node`), pure JS
 * (`no-subtle`), or node:crypto (`node-crypto`, where each ECB layer of a call is decrypted in
 * one native call: ecbDecryptAll). Refusals are checked on requests built with node:crypto
 * itself (OpenSSL), so a layer that failed to open cannot pass for one that did.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../../src/index.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway } from '../../src/server/index.js';
import { native } from '../../src/crypto/provider.js';
import { inProcess } from '../helpers/in-process.js';

const PUBLIC = 'pubSecret-16byte';
const engine = native() ? 'node:crypto' : globalThis.crypto.subtle ? 'WebCrypto' : 'pure JS (no crypto.subtle)';

const cipherFor = (key: string) => {
  const k = Buffer.from(key, 'utf8');
  return createCipheriv(`aes-${k.length * 8}-ecb`, k, null);
};
const ecbB64 = (key: string, text: string) => {
  const c = cipherFor(key);
  return Buffer.concat([c.update(text, 'utf8'), c.final()]).toString('base64');
};
/** One block that decrypts to 0x11 x 16: a padding byte of 17, which no PKCS#7 reader may accept. */
const badPaddingB64 = (key: string) => {
  const c = cipherFor(key).setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.alloc(16, 0x11)), c.final()]).toString('base64');
};
const md5hex = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

function setup() {
  const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC }) }).operation('/api/echo', (p) => p);
  const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway), store: memoryStore() });
  return { gateway, client };
}

/**
 * A call body written with OpenSSL (PROTOCOLS.md §1): inner values under the appSecret, sign =
 * md5 of the values in sorted name order + appSecret, then every name and value under the
 * publicSecret. `inner` / `outer` replace one entry's inner or outer ciphertext.
 */
function opensslBody(cred: { appId: string; appSecret: string }, params: Record<string, string>, edit: { inner?: [string, string]; outer?: [string, string] } = {}) {
  const m: Record<string, string> = { appId: cred.appId };
  for (const [k, v] of Object.entries(params)) m[k] = ecbB64(cred.appSecret, v);
  if (edit.inner) m[edit.inner[0]] = edit.inner[1];
  m.sign = md5hex(Object.keys(m).sort().map((k) => m[k]).join('') + cred.appSecret);
  const pairs = Object.entries(m).map(([k, v]) => [ecbB64(PUBLIC, k), ecbB64(PUBLIC, v)]);
  if (edit.outer) pairs[Object.keys(m).indexOf(edit.outer[0])][1] = edit.outer[1];
  return new URLSearchParams(pairs).toString();
}

describe(`app-secret gateway on ${engine}`, () => {
  it('a call of 20 params (Unicode, empty, 1 KB) opens through both ECB layers and echoes every value', async () => {
    const { client } = setup();
    const params: Record<string, string> = {};
    for (let i = 0; i < 20; i++) params['p' + i] = i === 3 ? '' : i === 7 ? '你好 🌏 héllo' : i === 11 ? 'x'.repeat(1024) : 'v' + i * 7919;
    expect(await client.call('/api/echo', params)).toEqual({ ...params, accessFrom: 'h5' });
  });

  it('an inner value that does not unpad, first, in the middle or last of 20, makes the call param_error; the same body with it intact is answered', async () => {
    const { gateway, client } = setup();
    await client.call('/api/echo', { warm: '1' });
    const cred = client.credentials!.peek()!.value as { appId: string; appSecret: string };
    const params = Object.fromEntries(Array.from({ length: 20 }, (_, i) => ['p' + String(i).padStart(2, '0'), 'value ' + i]));
    const post = async (body: string) => (await gateway.handle(new Request('http://gw.test/api/echo', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }))).text();
    // Control: the OpenSSL-built body is a valid call (so a refusal below is the padding's doing).
    const ok = await post(opensslBody(cred, params));
    const k = Buffer.from(cred.appSecret, 'utf8');
    const d = createDecipheriv(`aes-${k.length * 8}-ecb`, k, null);
    expect(JSON.parse(Buffer.concat([d.update(Buffer.from(ok, 'base64')), d.final()]).toString('utf8'))).toEqual({ success: true, data: params });
    for (const name of ['p00', 'p10', 'p19']) {
      expect(await post(opensslBody(cred, params, { inner: [name, badPaddingB64(cred.appSecret)] })), name).toBe('param_error');
      expect(await post(opensslBody(cred, params, { outer: [name, badPaddingB64(PUBLIC)] })), name + ' (outer layer)').toBe('param_error');
    }
    expect(gateway.stats().rejections.BAD_REQUEST).toBe(6);
  });
});
