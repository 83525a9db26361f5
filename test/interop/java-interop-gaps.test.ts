/**
 * What java-legacy.test.ts leaves out of "byte for byte with Java servers written the legacy
 * way", checked against the JDK's own javax.crypto / java.security:
 * - `mgs` had no Java check at all: a Java verifier (java-gaps/MgsServer.java) checks the SDK
 *   client's Sign over the exact body bytes and its base-64 Ts, and Java-made mgs requests go
 *   to the SDK gateway.
 * - The other direction for the legacy dialects: requests made by the Java client code of the
 *   seeds (seed 002's app-side code with its HashMap order; seed 004's steps 1–5) against the
 *   SDK's gateway, including line-wrapped (MIME) base64 as old Java encoders wrote it.
 * - Option values no Java test used: AES-192 keys (utf8, hex), `signRule: 'timestamp-key'`
 *   with the seed's MD5 (方式一) and with HMAC, and inputs none used: emoji, empty values, keys
 *   whose UTF-16 order differs from their code-point order.
 * - keyFrom `java-sha1prng` for seeds across SHA-1's padding boundaries, non-ASCII and long.
 * Sources from test/interop/java (the reference back ends) and test/interop/java-gaps, compiled
 * into a temp dir. Without a JDK these tests fail, they never skip.
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, fetchTransport, memoryStore, type Transport, type WireRequest } from '../../src/index.js';
import { appSecret, type AppSecretOptions } from '../../src/profiles/app-secret.js';
import { sortedSign, type SortedSignOptions } from '../../src/profiles/sorted-sign.js';
import { mgs, decodeTs, encodeTs } from '../../src/profiles/mgs.js';
import { deriveAesKey } from '../../src/crypto/kdf.js';
import { toHex } from '../../src/codec/hex.js';
import { fromBase64 } from '../../src/codec/base64.js';
import { utf8Encode } from '../../src/codec/utf8.js';
import * as server from '../../src/server/index.js';
import type { ProfileContext } from '../../src/types.js';
import { compileJava, javaSources, legacyServerProperties, postForm, recordingRandom, JVM, startJavaServer, stopJava, type JavaServer } from '../helpers/java.js';
import { failure, serveGateway } from '../helpers/servers.js';

const HERE = dirname(fileURLToPath(import.meta.url));

let workDir = '';
const started: JavaServer[] = [];
let legacyBase = '';
let mgsBase = '';

/** Start a Java server class from the compiled sources; stopped in afterAll. */
async function startJava(main: string, args: string[]): Promise<string> {
  const server = await startJavaServer(workDir, main, args);
  started.push(server);
  return server.url;
}

/**
 * Run JavaCallers once (asynchronously: the SDK gateway it calls lives in this process).
 * Entries go through a file as hex of their UTF-8, so any text reaches Java untouched.
 */
let inputs = 0;
async function javaCallers(mode: string, entries: [string, string][], base?: string): Promise<string[]> {
  const file = join(workDir, `input-${++inputs}.txt`);
  writeFileSync(file, entries.map(([k, v]) => `${toHex(utf8Encode(k))}=${toHex(utf8Encode(v))}\n`).join(''), 'utf8');
  const args = [...JVM, '-cp', workDir, 'JavaCallers', mode, file, ...(base ? [base] : [])];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile('java', args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 }, (err, out, errOut) => (err ? reject(new Error(`JavaCallers ${mode} failed: ${err.message}\n${errOut}`)) : resolve(out))),
  );
  return stdout.split('\n').filter((l) => l !== '');
}

/** The line of `lines` that starts with `label `, without the label. */
function line(lines: string[], label: string): string {
  const l = lines.find((x) => x.startsWith(label + ' '));
  if (l === undefined) throw new Error(`no ${label} line in:\n${lines.join('\n')}`);
  return l.slice(label.length + 1);
}

// ---------------------------------------------------------------------------------------
// Variants the existing Java tests do not configure, for the Java reference back ends (LegacyServer).

const UTF8_192 = 'pubSecret-24-bytes-long!'; // 24 UTF-8 bytes: AES-192
const HEX_192_UPPER = '000102030405060708090A0B0C0D0E0F1011121314151617'; // 24 bytes, upper-case hex
const APP_SECRET: Record<string, { options: AppSecretOptions; issuedSecret: string }> = {
  'gap-as-ecb-aes192-utf8-md5': { options: { publicSecret: UTF8_192 }, issuedSecret: 'appSecret-24-bytes-long!' },
  'gap-as-cbc-ivkey-hex192-hmac': { options: { publicSecret: HEX_192_UPPER, cipher: 'AES-CBC', iv: 'key', keyFrom: 'hex', encoding: 'base64', digest: 'hmac-sha256' }, issuedSecret: 'f9f731c1cfc04bc48cd1b9b631709949' },
  'gap-as-gcm-aes192-hex-md5': { options: { publicSecret: UTF8_192, cipher: 'AES-GCM', encoding: 'hex', digest: 'md5' }, issuedSecret: 'appSecret-24-bytes-long!' },
};
const SORTED_SIGN: Record<string, SortedSignOptions> = {
  // The seed's own example (方式一: timestamp + APP密钥) with the default MD5.
  'gap-ss-cbc-tskey-md5': { appId: 1, appKey: 'ZVNH8HUW5K3VQZKK', signRule: 'timestamp-key' },
  'gap-ss-gcm-aes192-hex-tskey-hmac': { appId: 5, appKey: UTF8_192, cipher: 'AES-GCM', encoding: 'hex', digest: 'hmac-sha256', signRule: 'timestamp-key' },
  'gap-ss-cbc-aes192-post-sha256': { appId: 'app-6', appKey: UTF8_192, encoding: 'base64', digest: 'sha256', method: 'POST' },
};

function legacyProperties(): string {
  return legacyServerProperties(Object.fromEntries(Object.entries(APP_SECRET).map(([n, v]) => [n, v.options])), SORTED_SIGN);
}

const MGS_APPS = { md5: { appId: 'JAVA-MD5', secret: 'mgs-secret-md5' }, hmac: { appId: 'JAVA-HMAC', secret: 'mgs 密钥 hmac' } };

beforeAll(async () => {
  workDir = compileJava('sealed-rpc-java-gaps-', javaSources(join(HERE, 'java'), join(HERE, 'java-gaps')));
  const config = join(workDir, 'gaps.properties');
  writeFileSync(config, legacyProperties(), 'utf8');
  [legacyBase, mgsBase] = await Promise.all([
    startJava('LegacyServer', [config]),
    startJava('MgsServer', [`${MGS_APPS.md5.appId}:${MGS_APPS.md5.secret}:md5`, `${MGS_APPS.hmac.appId}:${MGS_APPS.hmac.secret}:hmac-sha256`]),
  ]);
}, 120_000);

afterAll(async () => {
  // The JVMs gone before the classes they run from are deleted.
  await Promise.all(started.map((j) => stopJava(j.proc)));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 20_000);

/** fetchTransport that records what it sent. */
function recording(baseUrl: string) {
  const inner = fetchTransport({ baseUrl });
  const sent: WireRequest[] = [];
  const transport: Transport = {
    async send(req, o) {
      sent.push(req);
      return inner.send(req, o);
    },
  };
  return { transport, sent };
}

/** Text the earlier tests never sent: emoji (surrogate pairs), skin-tone sequences, empty values, line breaks. */
const TEXT = {
  name: '张三',
  emoji: '😀👍🏽 ok',
  empty: '',
  memo: '+/= ?#% 中文\r\nline two\ttab',
  Zed: 'upper case sorts first',
  // UTF-16 order (Java compareTo, JS sort) puts U+1F600 (D83D DE00) before U+FF01; code-point order would not.
  '！': 'fullwidth key',
  '😀': 'emoji key',
};
const BIG_64K = '汉字😀ABC'.repeat(5000); // 65 000 UTF-8 bytes, 2 surrogate pairs per repeat

// ---------------------------------------------------------------------------------------

describe('key derivation and Ts: the SDK equals the JDK', () => {
  it('keyFrom "java-sha1prng": deriveAesKey equals KeyGenerator("AES",128) + SHA1PRNG for 14 seeds (SHA-1 padding boundaries, Chinese, emoji, 1000 characters)', async () => {
    const seeds = ['a', 'password', '公钥passphrase', '😀👍🏽', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(65), 'y'.repeat(119), 'y'.repeat(120), '密'.repeat(30), 'z'.repeat(1000), ' leading and trailing '];
    const javaKeys = await javaCallers('sha1prng', seeds.map((s, i) => [String(i), s]));
    const ours = await Promise.all(seeds.map(async (s) => toHex(await deriveAesKey(s, 'java-sha1prng'))));
    expect(javaKeys).toHaveLength(seeds.length);
    expect(ours).toEqual(javaKeys);
  }, 60_000);

  it('mgs Ts: encodeTs equals a Java base-64 writer (0-9A-Za-z+/) for 0, 63, 64, 4095, 4096, 1700000000000 (OlFvMW0), now and 2^53-1; decodeTs inverts it', async () => {
    const values = [0, 1, 63, 64, 4095, 4096, 1_700_000_000_000, Date.now(), Number.MAX_SAFE_INTEGER];
    const java = await javaCallers('ts', values.map((v, i) => [String(i), String(v)]));
    expect(values.map(encodeTs)).toEqual(java);
    expect(java[6]).toBe('OlFvMW0');
    expect(java.map(decodeTs)).toEqual(values);
  }, 60_000);
});

describe('mgs: the SDK client against a Java verifier (Sign over the exact body bytes, base-64 Ts)', () => {
  for (const [kind, app] of Object.entries(MGS_APPS))
    it(`${kind}: Java accepts the Sign of calls with Chinese, emoji, empty and 64 KB values, and a string _requestBody; what Java hashed is exactly the body sent, Ts decodes to the client's clock`, async () => {
      const { transport, sent } = recording(mgsBase);
      const client = createClient({ profile: mgs({ appId: app.appId, workspaceId: 'default', secret: app.secret, digest: kind === 'hmac' ? 'hmac-sha256' : 'md5' }), transport, store: memoryStore() });
      for (const params of [TEXT, { big: BIG_64K, amount: '9.45' }, '{"amount":9.45,"note":"原样 bytes 😀"}'] as const) {
        sent.length = 0;
        const data = await client.call<{ operationType: string; ts: number; requestData: string; sign: string }>('com.example.echo', params as never);
        expect(sent).toHaveLength(1);
        const wire = sent[0];
        expect(fromBase64(data.requestData)).toEqual(utf8Encode(wire.body!));
        expect(JSON.parse(JSON.parse(wire.body!)[0]._requestBody)).toEqual(typeof params === 'string' ? JSON.parse(params) : params);
        expect(data.ts).toBe(decodeTs(wire.headers.Ts));
        expect(Math.abs(data.ts - Date.now())).toBeLessThan(60_000);
        expect(data.sign).toBe(wire.headers.Sign);
        expect(data.operationType).toBe('com.example.echo');
      }
    });

  it('a wrong secret -> Java answers 7002 -> SIGNATURE_INVALID (the Java check bites)', async () => {
    const client = createClient({ profile: mgs({ appId: MGS_APPS.md5.appId, workspaceId: 'default', secret: 'not-the-secret' }), transport: fetchTransport({ baseUrl: mgsBase }), store: memoryStore() });
    expect(await failure(client.call('com.example.echo', { a: '1' }))).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
  });

  it('the device clock 10 min behind -> Java answers 7003 with its Date -> one correction, the resend is accepted', async () => {
    const { transport, sent } = recording(mgsBase);
    const client = createClient({ profile: mgs({ appId: MGS_APPS.md5.appId, workspaceId: 'default', secret: MGS_APPS.md5.secret }), transport, store: memoryStore(), clock: { now: () => Date.now() - 600_000 } });
    const corrections: number[] = [];
    client.events.on('clock-corrected', (e) => corrections.push(e.offsetMs));
    const data = await client.call<{ ts: number }>('com.example.echo', { a: '校时' });
    expect(sent).toHaveLength(2);
    expect(corrections).toHaveLength(1);
    expect(Math.abs(corrections[0] - 600_000)).toBeLessThan(3_000);
    expect(Math.abs(data.ts - Date.now())).toBeLessThan(5_000);
  });
});

describe('mgs: Java-made requests against the SDK gateway', () => {
  for (const [kind, app] of Object.entries(MGS_APPS))
    for (const signCase of kind === 'md5' ? ['lower', 'upper'] : ['lower'])
      it(`${kind}${signCase === 'upper' ? ' (upper-case hex Sign, as many Java MD5 helpers write it)' : ''}: accepted, params arrive intact; the same Sign on a changed body -> 7002`, async () => {
        const gateway = server.createGateway({ profile: server.mgs({ apps: { [app.appId]: { secret: app.secret, workspaceId: 'default' } }, digest: kind === 'hmac' ? 'hmac-sha256' : 'md5' }) }).operation('com.example.echo', (p) => p);
        const running = await serveGateway(gateway);
        try {
          const params = { ...TEXT, big: BIG_64K };
          const out = await javaCallers('mgs', [['op', 'com.example.echo'], ['appId', app.appId], ['workspaceId', 'default'], ['secret', app.secret], ['digest', kind === 'hmac' ? 'hmac-sha256' : 'md5'], ['signCase', signCase], ['requestBody', JSON.stringify(params)]], running.url);
          const ok = line(out, 'OK');
          expect(ok.slice(0, 5)).toBe('1000 ');
          expect(JSON.parse(ok.slice(5))).toEqual(params);
          expect(line(out, 'TAMPERED').slice(0, 5)).toBe('7002 ');
        } finally {
          await running.close();
        }
      }, 60_000);
});

describe('app-secret: the Java app-side code of seed 002 against the SDK gateway', () => {
  const VARIANTS: Record<string, { options: Omit<AppSecretOptions, 'publicSecret'> & { publicSecret: string }; mime?: boolean }> = {
    'defaults (AES-ECB, utf8, base64, md5)': { options: { publicSecret: 'pubSecret-16byte' } },
    'defaults, line-wrapped base64 (MIME encoders of old Java code)': { options: { publicSecret: 'pubSecret-16byte' }, mime: true },
    'AES-192 (24-byte utf8 publicSecret), CBC iv=key, hmac-sha256': { options: { publicSecret: UTF8_192, cipher: 'AES-CBC', iv: 'key', digest: 'hmac-sha256' } },
    'AES-GCM, java-sha1prng, hex, sha256': { options: { publicSecret: '公钥passphrase', cipher: 'AES-GCM', keyFrom: 'java-sha1prng', encoding: 'hex', digest: 'sha256' } },
    'AES-192 from upper-case hex, CBC fixed iv, base64url, sha1': { options: { publicSecret: HEX_192_UPPER, cipher: 'AES-CBC', iv: 'fixed-iv-16bytes', keyFrom: 'hex', encoding: 'base64url', digest: 'sha1' } },
  };
  for (const [name, v] of Object.entries(VARIANTS))
    it(`${name}: Java's issuance and call are accepted (HashMap order, Chinese, emoji, empty, 64 KB), the answers decrypt in Java; a forged sign -> sign_error, an unknown appId -> secret_pass_time_error`, async () => {
      const gateway = server.createGateway({ profile: server.appSecret(v.options) }).operation('/api/echo', (p) => p);
      const running = await serveGateway(gateway);
      try {
        const params = { ...TEXT, big: BIG_64K, accessFrom: 'h5' };
        const o = v.options;
        const out = await javaCallers(
          'app-secret',
          [
            ['publicSecret', o.publicSecret],
            ['cipher', o.cipher ?? 'AES-ECB'],
            ['iv', typeof o.iv === 'string' ? o.iv : 'key'],
            ['keyFrom', o.keyFrom ?? 'utf8'],
            ['encoding', o.encoding ?? 'base64'],
            ['digest', o.digest ?? 'md5'],
            ['mime', String(v.mime === true)],
            ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
          ],
          running.url,
        );
        expect(JSON.parse(line(out, 'ISSUED'))).toMatchObject({ success: true, data: { appId: expect.any(String), appSecret: expect.any(String) } });
        expect(JSON.parse(line(out, 'CALL'))).toEqual({ success: true, data: params });
        expect(line(out, 'FORGED')).toBe('sign_error');
        expect(line(out, 'STALE')).toBe('secret_pass_time_error');
        expect(gateway.stats()).toMatchObject({ issuances: 1, executions: 1 });
      } finally {
        await running.close();
      }
    }, 60_000);
});

describe('sorted-sign: the steps of seed 004, in Java, against the SDK gateway', () => {
  const VARIANTS: Record<string, SortedSignOptions> = {
    'defaults (AES-CBC iv=key, hex, md5, sorted, GET)': { appId: 1, appKey: 'ZVNH8HUW5K3VQZKK' },
    'timestamp-key with md5 (the seed’s 方式一), POST with a numeric appId': { appId: 1, appKey: 'ZVNH8HUW5K3VQZKK', signRule: 'timestamp-key', method: 'POST' },
    'AES-192 GCM, base64 in the query (+ / =), hmac-sha256, timestamp-key, GET': { appId: 'app-7', appKey: UTF8_192, cipher: 'AES-GCM', encoding: 'base64', digest: 'hmac-sha256', signRule: 'timestamp-key' },
    'AES-ECB, java-sha1prng, base64url, sha256, sorted, POST': { appId: 8, appKey: 'seed for SHA1PRNG', cipher: 'AES-ECB', keyFrom: 'java-sha1prng', encoding: 'base64url', digest: 'sha256', method: 'POST' },
  };
  for (const [name, o] of Object.entries(VARIANTS))
    it(`${name}: accepted with Chinese, emoji and empty values, the safeCode echoed; the same request again -> 1004`, async () => {
      const { appId, appKey, signRule, method, ...legacy } = o;
      const gateway = server.createGateway({ profile: server.sortedSign({ apps: { [String(appId)]: appKey }, ...(signRule ? { signRule } : {}), ...legacy }) }).operation('/api/echo', (p) => p);
      const running = await serveGateway(gateway);
      try {
        const params = { card: '此处是用户输入的单码', emoji: '😀👍🏽', empty: '', note: 'a=b?c/d+e', '！': 'fullwidth key', '😀': 'emoji key', ...(method === 'POST' ? { big: BIG_64K } : {}) };
        const out = await javaCallers(
          'sorted-sign',
          [
            ['appId', String(appId)],
            ['appKey', appKey],
            ['cipher', o.cipher ?? 'AES-CBC'],
            ['iv', typeof o.iv === 'string' ? o.iv : 'key'],
            ['keyFrom', o.keyFrom ?? 'utf8'],
            ['encoding', o.encoding ?? 'hex'],
            ['digest', o.digest ?? 'md5'],
            ['signRule', signRule ?? 'sorted'],
            ['method', method ?? 'GET'],
            ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
          ],
          running.url,
        );
        const safeCode = line(out, 'SAFECODE');
        expect(JSON.parse(line(out, 'REPLY'))).toMatchObject({ code: 0, data: params, safeCode });
        expect(JSON.parse(line(out, 'AGAIN'))).toMatchObject({ code: 1004, safeCode });
      } finally {
        await running.close();
      }
    }, 60_000);
});

// ---------------------------------------------------------------------------------------

async function javaPost(path: string, form: [string, string][]): Promise<string> {
  return postForm(legacyBase + path, form);
}


const FIXED_TS = 1712386078465;
const ctx = (random: (n: number) => Uint8Array): ProfileContext => ({ now: () => FIXED_TS, random, parseJson: JSON.parse, send: async () => ({ status: 500, headers: {}, body: '' }) });

describe('the SDK client against the Java reference back ends, with the new variants and inputs', () => {
  for (const [name, v] of Object.entries(APP_SECRET)) {
    it(`app-secret ${name}: the call body equals the Java app-side code's, byte for byte (emoji, empty values, UTF-16-ordered keys, 64 KB)`, async () => {
      const rec = recordingRandom(29);
      const params = { ...TEXT, big: BIG_64K };
      const sealed = await appSecret(v.options).seal({ operationType: '/api/echo', params, options: {}, memo: {} }, { appId: 'app-42', appSecret: v.issuedSecret }, ctx(rec.random));
      const java = await javaPost(`/${name}/__ref/seal`, [
        ['appId', 'app-42'],
        ['appSecret', v.issuedSecret],
        ['ivs', rec.draws.map(toHex).join(',')],
        ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
        ['p.accessFrom', 'h5'],
      ]);
      expect(sealed.wire.body).toBe(java);
    });

    it(`app-secret ${name}: a session with the Java back end (issuance, calls with emoji, empty and 64 KB values)`, async () => {
      const client = createClient({ profile: appSecret(v.options), transport: fetchTransport({ baseUrl: `${legacyBase}/${name}` }), store: memoryStore() });
      for (const params of [TEXT, { big: BIG_64K, empty: '' }]) expect(await client.call('/api/echo', params)).toEqual({ ...params, accessFrom: 'h5' });
    });
  }

  for (const [name, o] of Object.entries(SORTED_SIGN)) {
    it(`sorted-sign ${name}: the ${o.method ?? 'GET'} request equals the Java reference's, byte for byte (emoji, empty values, UTF-16-ordered keys)`, async () => {
      const rec = recordingRandom(29);
      const params = { card: '此处是用户输入的单码', emoji: '😀👍🏽', empty: '', '！': 'fullwidth key', '😀': 'emoji key', Amount: '9.45' };
      const sealed = await sortedSign(o).seal({ operationType: '/api/echo', params, options: {}, memo: {} }, undefined, ctx(rec.random));
      const safeCode = (sealed.state as { safeCode: string }).safeCode;
      const java = await javaPost(`/${name}/__ref/seal`, [
        ['appId', String(o.appId)],
        ['timestamp', String(FIXED_TS)],
        ['safeCode', safeCode],
        ['method', o.method ?? 'GET'],
        ['iv', o.cipher === 'AES-GCM' ? toHex(rec.draws[1]) : ''],
        ...Object.entries(params).map(([k, x]) => [`p.${k}`, x] as [string, string]),
      ]);
      if ((o.method ?? 'GET') === 'GET') expect(sealed.wire.path).toBe('/api/echo?' + java);
      else expect(sealed.wire.body).toBe(java);
    });

    it(`sorted-sign ${name}: 10 calls to the Java back end succeed with the safeCode echoed`, async () => {
      const client = createClient({ profile: sortedSign(o), transport: fetchTransport({ baseUrl: `${legacyBase}/${name}` }), store: memoryStore() });
      for (let i = 0; i < 10; i++) {
        const params = { i: String(i), emoji: '😀👍🏽', empty: '', text: `第${i}次`, ...(o.method === 'POST' ? { big: BIG_64K } : {}) };
        expect(await client.call('/api/echo', params)).toEqual(params);
      }
    });
  }
});

