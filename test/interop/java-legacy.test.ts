/**
 * The legacy dialects against Java reference back ends (test/interop/java/*.java, JDK only,
 * written as those back ends are: Cipher.getInstance("AES"), KeyGenerator + SHA1PRNG,
 * MessageDigest, Collections.sort, com.sun.net.httpserver). Compiled and started here;
 * without a JDK these tests fail (CI installs one), they never skip.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, fetchTransport, memoryStore, type Transport, type WireRequest, type WireResponse } from '../../src/index.js';
import { appSecret, type AppSecretOptions } from '../../src/profiles/app-secret.js';
import { sortedSign, type SortedSignOptions } from '../../src/profiles/sorted-sign.js';
import { decodeBytes, encodeBytes } from '../../src/codec/text.js';
import { toHex } from '../../src/codec/hex.js';
import type { ProfileContext } from '../../src/types.js';
import { compileJava, javaSources, legacyServerProperties, postForm, recordingRandom, startJavaServer, stopJava, type JavaServer } from '../helpers/java.js';
import { failure } from '../helpers/servers.js';

const JAVA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'java');

type AppSecretVariant = { dialect: 'app-secret'; options: AppSecretOptions; issuedSecret: string };
type SortedSignVariant = { dialect: 'sorted-sign'; options: SortedSignOptions };

/** One Java back end per variant, mounted under /<name>; the client gets the same options. */
const APP_SECRET: Record<string, AppSecretVariant> = {
  'as-ecb-utf8-base64-md5': { dialect: 'app-secret', options: { publicSecret: 'pubSecret-16byte', cipher: 'AES-ECB', keyFrom: 'utf8', encoding: 'base64', digest: 'md5' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'as-cbc-ivkey-hex-sha1': { dialect: 'app-secret', options: { publicSecret: '000102030405060708090a0b0c0d0e0f', cipher: 'AES-CBC', iv: 'key', keyFrom: 'hex', encoding: 'hex', digest: 'sha1' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'as-gcm-sha256-b64url-hmac': { dialect: 'app-secret', options: { publicSecret: '公钥 for GCM', cipher: 'AES-GCM', keyFrom: 'sha256', encoding: 'base64url', digest: 'hmac-sha256' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'as-ecb-sha1prng-base64-md5': { dialect: 'app-secret', options: { publicSecret: '公钥passphrase', cipher: 'AES-ECB', keyFrom: 'java-sha1prng', encoding: 'base64', digest: 'md5' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'as-cbc-fixediv-md5key-sha256': { dialect: 'app-secret', options: { publicSecret: 'any length at all', cipher: 'AES-CBC', iv: 'fixed-iv-16bytes', keyFrom: 'md5', encoding: 'base64', digest: 'sha256' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'as-ecb-base64key-base64-md5': { dialect: 'app-secret', options: { publicSecret: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', cipher: 'AES-ECB', keyFrom: 'base64', encoding: 'base64', digest: 'md5' }, issuedSecret: 'AAECAwQFBgcICQoLDA0ODw==' },
};
const SORTED_SIGN: Record<string, SortedSignVariant> = {
  'ss-cbc-default': { dialect: 'sorted-sign', options: { appId: 1, appKey: 'ZVNH8HUW5K3VQZKK' } },
  'ss-gcm-post-hmac': { dialect: 'sorted-sign', options: { appId: 2, appKey: '应用密钥 app key', cipher: 'AES-GCM', keyFrom: 'sha256', encoding: 'base64', digest: 'hmac-sha256', method: 'POST', token: 'tk-1', machineCode: 'mc-1' } },
  'ss-ecb-sha1prng-tskey': { dialect: 'sorted-sign', options: { appId: 'app-3', appKey: 'seed for SHA1PRNG', cipher: 'AES-ECB', keyFrom: 'java-sha1prng', encoding: 'base64url', digest: 'sha256', signRule: 'timestamp-key' } },
  'ss-cbc-fixediv-post-sha1': { dialect: 'sorted-sign', options: { appId: 4, appKey: '0123456789abcdef0123456789abcdef', cipher: 'AES-CBC', iv: 'fixed-iv-16bytes', keyFrom: 'utf8', encoding: 'hex', digest: 'sha1', method: 'POST' } },
};

function properties(): string {
  return legacyServerProperties(Object.fromEntries(Object.entries(APP_SECRET).map(([n, v]) => [n, v.options])), Object.fromEntries(Object.entries(SORTED_SIGN).map(([n, v]) => [n, v.options])));
}

let workDir = '';
let java: JavaServer | undefined;
let base = '';
const javaStderr = () => java?.stderr() ?? '';

beforeAll(async () => {
  workDir = compileJava('sealed-rpc-java-', javaSources(JAVA_DIR));
  const config = join(workDir, 'backends.properties');
  writeFileSync(config, properties(), 'utf8');
  java = await startJavaServer(workDir, 'LegacyServer', [config]);
  base = java.url;
}, 90_000);

afterAll(async () => {
  // The JVM gone before the classes it runs from are deleted.
  await stopJava(java?.proc);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 15_000);

async function javaPost(path: string, form: [string, string][]): Promise<string> {
  return postForm(base + path, form, javaStderr());
}

async function javaStats(variant: string): Promise<Record<string, number>> {
  return (await fetch(`${base}/${variant}/__admin/stats`)).json() as Promise<Record<string, number>>;
}


/** fetchTransport that records paths and may rewrite answers. */
function recording(variant: string, edit?: (res: WireResponse) => WireResponse) {
  const inner = fetchTransport({ baseUrl: `${base}/${variant}` });
  const sent: WireRequest[] = [];
  const transport: Transport = {
    async send(req, o) {
      sent.push(req);
      const res = await inner.send(req, o);
      return edit ? edit(res) : res;
    },
  };
  return { transport, sent };
}

const BIG_16K = '汉字ABC'.repeat(1821); // 16389 bytes of UTF-8
const FIXED_TS = 1712386078465;

describe('byte-exact sealing: ours equals the Java reference for fixed inputs', () => {
  for (const [name, v] of Object.entries(APP_SECRET))
    it(`app-secret ${name}: issuance and call bodies equal the Java app-side code's, byte for byte, with a 16 KB value (IVs injected)`, async () => {
      const profile = appSecret(v.options);
      // Issuance: sealed with the publicSecret, no appId.
      const issuanceRandom = recordingRandom(11);
      let issuanceWire: WireRequest | undefined;
      const ctx = (random: (n: number) => Uint8Array, send?: ProfileContext['send']): ProfileContext => ({ now: () => FIXED_TS, random, parseJson: JSON.parse, send: send ?? (async () => ({ status: 200, headers: {}, body: 'param_error' })) });
      await failure(
        profile.issue!(
          ctx(issuanceRandom.random, async (w) => {
            issuanceWire = w;
            return { status: 200, headers: {}, body: 'param_error' };
          }),
        ),
      );
      const javaIssuance = await javaPost(`/${name}/__ref/seal`, [
        ['ivs', issuanceRandom.draws.map(toHex).join(',')],
        ['p.accessFrom', 'h5'],
      ]);
      expect(issuanceWire!.body).toBe(javaIssuance);

      // A call with Chinese text, characters that form encoding must escape, and a 16 KB value
      // (its inner ciphertext takes the long-value path: carried as bytes, escaped in bulk).
      const callRandom = recordingRandom(11);
      const params = { name: '张三', amount: '12.50', memo: '+/= &?#% 中文', Zed: 'upper case sorts first', big: BIG_16K };
      const sealed = await profile.seal({ operationType: '/api/echo', params, options: {}, memo: {} }, { appId: 'app-42', appSecret: v.issuedSecret }, ctx(callRandom.random));
      const javaCall = await javaPost(`/${name}/__ref/seal`, [
        ['appId', 'app-42'],
        ['appSecret', v.issuedSecret],
        ['ivs', callRandom.draws.map(toHex).join(',')],
        ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
        ['p.accessFrom', 'h5'],
      ]);
      expect(sealed.wire.body).toBe(javaCall);
      if (v.options.cipher === 'AES-GCM') expect(callRandom.draws.length).toBe(6 + 2 * 8); // 6 inner values, then key and value of appId, 6 params, sign
    });

  for (const [name, v] of Object.entries(SORTED_SIGN))
    it(`sorted-sign ${name}: the ${v.options.method ?? 'GET'} request equals the Java reference's, byte for byte (timestamp, safeCode, IV injected)`, async () => {
      const profile = sortedSign(v.options);
      const rec = recordingRandom(11);
      const params = { card: '此处是用户输入的单码', Amount: '9.45', note: 'a=b?c/d+e' };
      const sealed = await profile.seal({ operationType: '/api/echo', params, options: {}, memo: {} }, undefined, { now: () => FIXED_TS, random: rec.random, parseJson: JSON.parse, send: async () => ({ status: 500, headers: {}, body: '' }) });
      // The safeCode, computed independently of safeCodeFromBytes: the first 8 bytes, big-endian, mod 10^13.
      const safeCode = (BigInt('0x' + toHex(rec.draws[0])) % 10n ** 13n).toString().padStart(13, '0');
      expect(sealed.state).toEqual({ safeCode, signature: expect.stringMatching(/^[0-9a-f]+$/) });
      const javaOut = await javaPost(`/${name}/__ref/seal`, [
        ['appId', String(v.options.appId)],
        ['timestamp', String(FIXED_TS)],
        ['safeCode', safeCode],
        ['method', v.options.method ?? 'GET'],
        ['iv', v.options.cipher === 'AES-GCM' ? toHex(rec.draws[1]) : ''],
        ...(v.options.token ? [['token', v.options.token] as [string, string]] : []),
        ...(v.options.machineCode ? [['machineCode', v.options.machineCode] as [string, string]] : []),
        ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
      ]);
      if ((v.options.method ?? 'GET') === 'GET') expect(sealed.wire.path).toBe('/api/echo?' + javaOut);
      else expect(sealed.wire.body).toBe(javaOut);
    });
});

describe('full sessions against the Java back ends', () => {
  for (const [name, v] of Object.entries(APP_SECRET))
    it(`app-secret ${name}: issuance, 50 calls with Chinese text and 16 KB values, server-side expiry -> exactly one re-issuance -> the failed call is resent and succeeds`, async () => {
      const { transport, sent } = recording(name);
      const client = createClient({ profile: appSecret(v.options), transport, store: memoryStore() });
      const renewals: unknown[] = [];
      const retries: string[] = [];
      client.events.on('renewed', (e) => renewals.push(e));
      client.events.on('retry', (e) => retries.push(e.cause));
      const before = await javaStats(name);
      for (let i = 0; i < 50; i++) {
        const params = { i: String(i), text: `第${i}次调用：你好，世界！`, big: BIG_16K };
        expect(await client.call('/api/echo', params)).toEqual({ ...params, accessFrom: 'h5' });
      }
      expect((await javaStats(name)).issuances - before.issuances).toBe(1);
      await javaPost(`/${name}/__admin/expire`, []);
      sent.length = 0;
      expect(await client.call('/api/echo', { after: '过期之后' })).toEqual({ after: '过期之后', accessFrom: 'h5' });
      expect(sent.map((w) => w.path)).toEqual(['/api/echo', '/secret_key/generate.json', '/api/echo']);
      expect((await javaStats(name)).issuances - before.issuances).toBe(2);
      expect(renewals).toHaveLength(1);
      expect(retries).toEqual(['CREDENTIAL_EXPIRED']);
      const fail = await failure(client.call('/api/fail', {}));
      expect(fail).toMatchObject({ code: 'GATEWAY', message: '余额不足', gatewayCode: 'NO_MONEY' });
    });

  for (const [name, v] of Object.entries(SORTED_SIGN))
    it(`sorted-sign ${name}: 50 calls with Chinese text${v.options.method === 'POST' ? ' and 16 KB values' : ''} succeed, each with its safeCode echoed`, async () => {
      const { transport } = recording(name);
      const client = createClient({ profile: sortedSign(v.options), transport, store: memoryStore() });
      for (let i = 0; i < 50; i++) {
        const params = { i: String(i), text: `第${i}次：网络验证`, ...(v.options.method === 'POST' ? { big: BIG_16K } : {}) };
        const expected = { ...params, ...(v.options.token ? { token: v.options.token, machineCode: v.options.machineCode } : {}) };
        expect(await client.call('/api/echo', params)).toEqual(expected);
      }
      expect(await failure(client.call('/api/fail', {}))).toMatchObject({ code: 'GATEWAY', gatewayCode: 2001, message: '卡密已过期' });
    });

  it('app-secret: 100 concurrent calls across a Java-side expiry -> exactly 1 issuance request at the server, all succeed', async () => {
    const name = 'as-ecb-utf8-base64-md5';
    const { transport, sent } = recording(name);
    const client = createClient({ profile: appSecret(APP_SECRET[name].options), transport, store: memoryStore() });
    await client.call('/api/echo', { warm: 'up' });
    await javaPost(`/${name}/__admin/expire`, []);
    const before = await javaStats(name);
    sent.length = 0;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call<{ i: string }>('/api/echo', { i: String(i) })));
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect((await javaStats(name)).issuances - before.issuances).toBe(1);
    expect(sent.filter((w) => w.path === '/secret_key/generate.json')).toHaveLength(1);
  });
});

describe('failures against the Java back ends', () => {
  it('app-secret with a wrong publicSecret -> BAD_REQUEST (param_error) whose hint names publicSecret', async () => {
    const { transport } = recording('as-ecb-utf8-base64-md5');
    const client = createClient({ profile: appSecret({ publicSecret: 'wrongSecret-16by' }), transport, store: memoryStore() });
    const e = await failure(client.call('/api/echo', {}));
    expect(e).toMatchObject({ code: 'BAD_REQUEST', gatewayCode: 'param_error' });
    expect(e.hint).toMatch(/publicSecret/);
    expect(JSON.stringify(e) + e.message + e.hint).not.toMatch(/wrongSecret|pubSecret/);
  });

  it('sorted-sign with a wrong appKey -> BAD_REQUEST (plain 1001) whose hint names appKey', async () => {
    const { transport } = recording('ss-cbc-default');
    // Fixed clock and randomness: the ciphertext is then fixed too. With random ones, about one
    // request in 256 decrypts under the wrong key to valid padding by chance; Java then counts
    // it as read and answers encrypted under its key (RESPONSE_UNREADABLE here), not 1001.
    const client = createClient({
      profile: sortedSign({ appId: 1, appKey: 'WRONGKEY12345678' }),
      transport,
      store: memoryStore(),
      clock: { now: () => FIXED_TS },
      random: recordingRandom(11).random,
    });
    const e = await failure(client.call('/api/echo', {}));
    expect(e).toMatchObject({ code: 'BAD_REQUEST', gatewayCode: 1001 });
    expect(e.hint).toMatch(/appKey/);
    expect(JSON.stringify(e) + e.message + e.hint).not.toMatch(/WRONGKEY|ZVNH8HUW/);
  });

  it('sorted-sign with the device clock 60 s behind -> Java answers 1003, one correction from the decrypted timestamp, then success', async () => {
    const { transport, sent } = recording('ss-cbc-default');
    const client = createClient({ profile: sortedSign(SORTED_SIGN['ss-cbc-default'].options), transport, store: memoryStore(), clock: { now: () => Date.now() - 60_000 } });
    const corrections: number[] = [];
    client.events.on('clock-corrected', (e) => corrections.push(e.offsetMs));
    expect(await client.call('/api/echo', { a: '校时' })).toEqual({ a: '校时' });
    expect(sent).toHaveLength(2);
    expect(corrections).toHaveLength(1);
    expect(Math.abs(corrections[0] - 60_000)).toBeLessThan(2_000);
    expect(await client.call('/api/echo', { a: '2' })).toEqual({ a: '2' });
    expect(sent).toHaveLength(3);
  });

  it('sorted-sign with a repeated safeCode -> Java answers 1004 -> REPLAYED_REQUEST', async () => {
    const { transport } = recording('ss-cbc-default');
    const fill = 0x40 + (Date.now() & 0x3f);
    const client = createClient({ profile: sortedSign(SORTED_SIGN['ss-cbc-default'].options), transport, store: memoryStore(), random: (n) => new Uint8Array(n).fill(fill) });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    expect(await failure(client.call('/api/echo', { a: '2' }))).toMatchObject({ code: 'REPLAYED_REQUEST', gatewayCode: 1004 });
  });

  it('a bit flipped in a Java response -> RESPONSE_UNREADABLE, never data (app-secret ECB and sorted-sign CBC)', async () => {
    const flipOne = (encoding: 'base64' | 'hex') => (res: WireResponse) => {
      if (res.body.startsWith('{') || res.body.length < 20) return res;
      const bytes = decodeBytes(res.body.trim(), encoding);
      bytes[bytes.length >> 1] ^= 0x10;
      return { ...res, body: encodeBytes(bytes, encoding) };
    };
    let armed = false;
    const as = recording('as-ecb-utf8-base64-md5', (res) => (armed ? flipOne('base64')(res) : res));
    const asClient = createClient({ profile: appSecret(APP_SECRET['as-ecb-utf8-base64-md5'].options), transport: as.transport, store: memoryStore() });
    await asClient.call('/api/echo', {});
    armed = true;
    expect((await failure(asClient.call('/api/echo', { text: '篡改测试 tamper test value' }))).code).toBe('RESPONSE_UNREADABLE');
    const ss = recording('ss-cbc-default', flipOne('hex'));
    const ssClient = createClient({ profile: sortedSign(SORTED_SIGN['ss-cbc-default'].options), transport: ss.transport, store: memoryStore() });
    expect((await failure(ssClient.call('/api/echo', { text: '篡改测试 tamper test value' }))).code).toBe('RESPONSE_UNREADABLE');
  });
});
