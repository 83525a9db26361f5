/**
 * `app-secret` (PROTOCOLS.md §1), client and gateway halves. Layouts are checked against
 * node:crypto (an implementation independent of ours); behaviour against our gateway,
 * in process and over real HTTP on 127.0.0.1. Byte equality with Java is in
 * test/interop/java-legacy.test.ts.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createClient, memoryStore, fetchTransport, type Transport, type WireRequest, type WireResponse } from '../../src/index.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { appSecret as appSecretGateway, type AppSecretGatewayOptions } from '../../src/server/app-secret.js';
import { createGateway, OperationError, type Gateway } from '../../src/server/index.js';
import type { KeyFrom } from '../../src/profiles/legacy.js';
import { CIPHERS, DIGESTS, ENCODINGS, KEY_FROMS } from '../helpers/legacy-matrix.js';
import type { ProfileContext } from '../../src/types.js';
import { RpcError } from '../../src/errors.js';
import { failure, serveGateway } from '../helpers/servers.js';
import { OutputCollector, secretForms } from '../helpers/secret-scan.js';
import { inProcess as sharedInProcess } from '../helpers/in-process.js';
import { makeRecord } from '../../src/credentials/record.js';

const PUBLIC = 'pubSecret-16byte';

/** Deterministic bytes, so sealed output is reproducible. */
function counterRandom(start = 1) {
  let c = start;
  return (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (c++ * 151 + 7) & 0xff;
    return b;
  };
}

/** The shared in-process transport, with this file's positional (sent, edit) arguments. */
const inProcess = (gateway: Gateway, sent: WireRequest[] = [], edit?: (res: WireResponse) => WireResponse): Transport => sharedInProcess(gateway, { sent, ...(edit ? { edit } : {}) });

function gatewayFor(options: Partial<AppSecretGatewayOptions> = {}, now?: () => number) {
  return createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC, ...options }), ...(now ? { now } : {}) })
    .operation('/api/echo', (p) => p)
    .operation('/api/fail', () => {
      throw new OperationError('NO_MONEY', '余额不足');
    });
}

function ctx(overrides: Partial<ProfileContext> = {}): ProfileContext {
  return {
    now: () => 1_700_000_000_000,
    random: counterRandom(),
    parseJson: JSON.parse,
    send: async () => {
      throw new Error('no transport in this test');
    },
    ...overrides,
  };
}

const ecb = (key: string, b64: string) => {
  const k = Buffer.from(key, 'utf8');
  const d = createDecipheriv(`aes-${k.length * 8}-ecb`, k, null);
  return Buffer.concat([d.update(Buffer.from(b64, 'base64')), d.final()]).toString('utf8');
};
const md5hex = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

describe('app-secret options', () => {
  it('a publicSecret that is not 16/24/32 UTF-8 bytes fails at construction with BAD_CONFIG naming publicSecret, without printing it', () => {
    const secret = 'fifteen-bytes!!';
    let err: unknown;
    try {
      appSecret({ publicSecret: secret });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    const e = err as RpcError;
    expect(e.code).toBe('BAD_CONFIG');
    expect(e.message).toMatch(/^publicSecret: /);
    expect(e.details).toEqual({ option: 'publicSecret' });
    expect(JSON.stringify(e) + String(e) + e.hint).not.toContain(secret);
  });

  it('unknown cipher, keyFrom, encoding or digest values fail at construction naming the option', () => {
    for (const [option, value] of [
      ['cipher', 'AES-CTR'],
      ['keyFrom', 'pbkdf2'],
      ['encoding', 'base32'],
      ['digest', 'sha512'],
    ] as const) {
      expect(() => appSecret({ publicSecret: PUBLIC, [option]: value } as never)).toThrow(new RegExp(`^${option}: `));
    }
  });

  it('AES-CBC needs an iv; an iv of the wrong length, or on ECB/GCM, is refused naming iv', () => {
    expect(() => appSecret({ publicSecret: PUBLIC, cipher: 'AES-CBC' })).toThrow(/^iv: /);
    expect(() => appSecret({ publicSecret: PUBLIC, cipher: 'AES-CBC', iv: 'short' })).toThrow(/^iv: /);
    expect(() => appSecret({ publicSecret: PUBLIC, cipher: 'AES-CBC', iv: new Uint8Array(12) })).toThrow(/^iv: /);
    expect(() => appSecret({ publicSecret: PUBLIC, cipher: 'AES-GCM', iv: 'key' })).toThrow(/^iv: /);
    expect(appSecret({ publicSecret: PUBLIC, cipher: 'AES-CBC', iv: 'key' }).name).toBe('app-secret');
    expect(appSecret({ publicSecret: PUBLIC, cipher: 'AES-CBC', iv: '0123456789abcdef' }).name).toBe('app-secret');
  });

  it('keyFrom hex/base64 secrets that are not 16/24/32 bytes fail at construction; md5/sha256/java-sha1prng take any string', () => {
    expect(() => appSecret({ publicSecret: 'abcd', keyFrom: 'hex' })).toThrow(/^publicSecret: .*2-byte/);
    expect(() => appSecret({ publicSecret: 'zz'.repeat(16), keyFrom: 'hex' })).toThrow(/^publicSecret: .*not valid hex/);
    expect(() => appSecret({ publicSecret: 'AAAA', keyFrom: 'base64' })).toThrow(/^publicSecret: /);
    for (const keyFrom of ['md5', 'sha256', 'java-sha1prng'] as const) expect(appSecret({ publicSecret: '任意长度', keyFrom }).name).toBe('app-secret');
  });
});

describe('app-secret sealing (checked with node:crypto)', () => {
  it('a call decrypts to the §1 layout: appId plain, each value AES(appSecret), sign = md5(values in sorted key order + appSecret), accessFrom added', async () => {
    const profile = appSecret({ publicSecret: PUBLIC });
    const cred = { appId: 'app-42', appSecret: 'appSecret-16byte' };
    const sealed = await profile.seal({ operationType: '/api/echo', params: { name: '张三', amount: '12.50' }, options: {}, memo: {} }, cred, ctx());
    expect(sealed.wire).toMatchObject({ path: '/api/echo', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
    const outer = [...new URLSearchParams(sealed.wire.body)].map(([k, v]) => [ecb(PUBLIC, k), ecb(PUBLIC, v)] as const);
    expect(outer.map(([k]) => k)).toEqual(['appId', 'name', 'amount', 'accessFrom', 'sign']);
    const m = Object.fromEntries(outer);
    expect(m.appId).toBe('app-42');
    expect(ecb(cred.appSecret, m.name)).toBe('张三');
    expect(ecb(cred.appSecret, m.amount)).toBe('12.50');
    expect(ecb(cred.appSecret, m.accessFrom)).toBe('h5');
    // Sorted keys: accessFrom, amount, appId, name (UTF-16 order, case-sensitive).
    expect(m.sign).toBe(md5hex(m.accessFrom + m.amount + m.appId + m.name + cred.appSecret));
    // The primitives vector for this key and text (java17): the value layer is plain Java AES.
    const v = await profile.seal({ operationType: '/x', params: { p: '{"phone":"13800138000","name":"张三","amount":"12.50"}' }, options: {}, memo: {} }, cred, ctx());
    const inner = Object.fromEntries([...new URLSearchParams(v.wire.body)].map(([k, x]) => [ecb(PUBLIC, k), ecb(PUBLIC, x)]));
    expect(inner.p).toBe('IrqAVDNiCQJFy08QZOFxNsigGzDAJv7M5hCDrbZxs5a7YsRyLfsTauiGnsXfmWg3sDGn26smiCbwpWbMfIDGGg==');
  });

  it('issuance is sealed with the publicSecret standing in for the appSecret, no appId, and accessFrom', async () => {
    const profile = appSecret({ publicSecret: PUBLIC, accessFrom: 'wap' });
    const sent: WireRequest[] = [];
    const e = await failure(profile.issue!(ctx({ send: async (w) => (sent.push(w), { status: 200, headers: {}, body: 'param_error' }) })));
    expect(e.code).toBe('BAD_REQUEST');
    expect(sent[0].path).toBe('/secret_key/generate.json');
    const m = Object.fromEntries([...new URLSearchParams(sent[0].body)].map(([k, v]) => [ecb(PUBLIC, k), ecb(PUBLIC, v)]));
    expect(Object.keys(m)).toEqual(['accessFrom', 'sign']);
    expect(ecb(PUBLIC, m.accessFrom)).toBe('wap');
    expect(m.sign).toBe(md5hex(m.accessFrom + PUBLIC));
  });

  it('params that are not strings: numbers and booleans are written with String(), objects are refused with BAD_REQUEST before sending', async () => {
    const profile = appSecret({ publicSecret: PUBLIC });
    const cred = { appId: 'a', appSecret: 'appSecret-16byte' };
    const sealed = await profile.seal({ operationType: '/x', params: { n: 12.5, ok: true }, options: {}, memo: {} }, cred, ctx());
    const m = Object.fromEntries([...new URLSearchParams(sealed.wire.body)].map(([k, v]) => [ecb(PUBLIC, k), ecb(PUBLIC, v)]));
    expect(ecb(cred.appSecret, m.n)).toBe('12.5');
    expect(ecb(cred.appSecret, m.ok)).toBe('true');
    await expect(profile.seal({ operationType: '/x', params: { o: { a: 1 } }, options: {}, memo: {} }, cred, ctx())).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(profile.seal({ operationType: '/x', params: { sign: 'x' }, options: {}, memo: {} }, cred, ctx())).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

const SECRET_FOR: Record<KeyFrom, string> = {
  utf8: '0123456789abcdef0123456789abcdef',
  hex: '00112233445566778899aabbccddeeff',
  base64: 'AAECAwQFBgcICQoLDA0ODw==',
  md5: '公钥 passphrase',
  sha256: '公钥 passphrase',
  'java-sha1prng': '公钥 passphrase',
};

describe('app-secret client <-> our gateway', () => {
  for (const cipher of CIPHERS)
    for (const keyFrom of KEY_FROMS)
      it(`${cipher} + keyFrom ${keyFrom}: issuance and a call round-trip under every encoding × digest`, async () => {
        let n = 0;
        for (const encoding of ENCODINGS)
          for (const digest of DIGESTS) {
            const iv = cipher === 'AES-CBC' ? (n++ % 2 ? 'key' : 'fixed-iv-16bytes') : undefined;
            const common = { cipher, keyFrom, encoding, digest, ...(iv ? { iv } : {}), publicSecret: SECRET_FOR[keyFrom] };
            const gateway = gatewayFor(common);
            const client = createClient({ profile: appSecret(common), transport: inProcess(gateway), store: memoryStore() });
            const params = { text: '中文 "quoted" +/= &', n: String(n) };
            expect(await client.call('/api/echo', params), `${encoding}/${digest}`).toEqual({ ...params, accessFrom: 'h5' });
            expect(gateway.stats().issuances).toBe(1);
          }
      });

  it('gateway expiry: the call gets secret_pass_time_error, the client re-issues exactly once, resends once, and succeeds', async () => {
    const gateway = gatewayFor();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway, sent), store: memoryStore() });
    const renewed: unknown[] = [];
    client.events.on('renewed', (e) => renewed.push(e));
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1', accessFrom: 'h5' });
    gateway.expireCredentials();
    sent.length = 0;
    expect(await client.call('/api/echo', { a: '2' })).toEqual({ a: '2', accessFrom: 'h5' });
    expect(sent.map((w) => w.path)).toEqual(['/api/echo', '/secret_key/generate.json', '/api/echo']);
    expect(gateway.stats().issuances).toBe(2);
    expect(gateway.stats().rejections.CREDENTIAL_EXPIRED).toBe(1);
    expect(renewed).toHaveLength(1);
    expect(Object.keys(renewed[0] as object).sort()).toEqual(['appId', 'version']);
  });

  it('a stored credential whose appSecret gives no key under keyFrom (issued under another keyFrom) is re-issued, not used: the call succeeds', async () => {
    const common = { keyFrom: 'hex' as const, publicSecret: SECRET_FOR.hex };
    const gateway = gatewayFor(common);
    const store = memoryStore();
    await store.set('creds', makeRecord(1, { appId: 'issued-under-utf8', appSecret: 'utf8-secret-16by' }));
    const client = createClient({ profile: appSecret(common), transport: inProcess(gateway), store, storeKey: 'creds' });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1', accessFrom: 'h5' });
    expect(gateway.stats().issuances).toBe(1);
    expect((await store.get<{ appId: string }>('creds'))?.value.appId).not.toBe('issued-under-utf8');
  });

  it('credentialTtlMs: a credential past its TTL is refused and renewed; the table never holds more than maxCredentials', async () => {
    let now = 1_000_000;
    const gateway = gatewayFor({ credentialTtlMs: 60_000, maxCredentials: 3 }, () => now);
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway), store: memoryStore() });
    await client.call('/api/echo', {});
    now += 59_999;
    await client.call('/api/echo', {});
    expect(gateway.stats().issuances).toBe(1);
    now += 1;
    await client.call('/api/echo', {});
    expect(gateway.stats().issuances).toBe(2);
    for (let i = 0; i < 5; i++) await createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway), store: memoryStore() }).call('/api/echo', {});
    expect(gateway.stats().caches.credentials).toBe(3);
  });

  it('a wrong publicSecret fails issuance with BAD_REQUEST whose hint names publicSecret; no secret appears in anything the user sees', async () => {
    const wrong = 'wrongSecret-16by';
    const gateway = gatewayFor();
    const out = new OutputCollector();
    const client = createClient({ profile: appSecret({ publicSecret: wrong }), transport: inProcess(gateway), store: memoryStore() });
    out.events(client);
    const err = await failure(client.call('/api/echo', { a: '1' }));
    out.error(err);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.gatewayCode).toBe('param_error');
    expect(err.hint).toMatch(/publicSecret/);
    const seen = out.lines.filter((l) => !l.startsWith('stage ')).join('\n');
    for (const s of [wrong, PUBLIC]) for (const f of secretForms(s)) expect(seen).not.toContain(f);
  });

  it('an issuance answer that does not decrypt under publicSecret is RESPONSE_UNREADABLE with a hint naming publicSecret, not a JSON error', async () => {
    const profile = appSecret({ publicSecret: PUBLIC });
    const e = await failure(profile.issue!(ctx({ send: async () => ({ status: 200, headers: {}, body: 'bm90IGNpcGhlcnRleHQ=' }) })));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    expect(e.hint).toMatch(/publicSecret/);
  });

  for (const cipher of CIPHERS)
    it(`${cipher}: a bit flipped anywhere in the response is RESPONSE_UNREADABLE, never data`, async () => {
      const options = { publicSecret: PUBLIC, cipher, ...(cipher === 'AES-CBC' ? { iv: 'key' } : {}) };
      const gateway = gatewayFor(options);
      let flipAt = -1;
      const flip = (res: WireResponse): WireResponse => {
        if (flipAt < 0 || res.body.startsWith('{')) return res;
        const bytes = Buffer.from(res.body, 'base64');
        const i = flipAt % bytes.length;
        bytes[i] ^= 1 << (flipAt % 8);
        return { ...res, body: bytes.toString('base64') };
      };
      const client = createClient({ profile: appSecret(options), transport: inProcess(gateway, [], flip), store: memoryStore() });
      const params = { text: 'a fairly long value so that the answer spans several AES blocks: 你好世界' };
      expect(await client.call('/api/echo', params)).toEqual({ ...params, accessFrom: 'h5' });
      for (flipAt = 0; flipAt < 200; flipAt += 7) {
        const e = await failure(client.call('/api/echo', params));
        expect(e.code, `bit ${flipAt}`).toBe('RESPONSE_UNREADABLE');
      }
    });

  it('success:false envelopes become GATEWAY with the message and code; an unknown path is HTTP_STATUS 404', async () => {
    const gateway = gatewayFor();
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(gateway), store: memoryStore() });
    const e = await failure(client.call('/api/fail', {}));
    expect(e).toMatchObject({ code: 'GATEWAY', message: '余额不足', gatewayCode: 'NO_MONEY' });
    const nf = await failure(client.call('/api/nope', {}));
    expect(nf).toMatchObject({ code: 'HTTP_STATUS', status: 404 });
  });

  it('plain-text refusals are HTTP 200 and map to CREDENTIAL_EXPIRED, SIGNATURE_INVALID and BAD_REQUEST', async () => {
    const profile = appSecret({ publicSecret: PUBLIC });
    const cred = { appId: 'a', appSecret: 'appSecret-16byte' };
    const sealed = await profile.seal({ operationType: '/x', params: {}, options: {}, memo: {} }, cred, ctx());
    const open = (body: string) => failure(profile.open({ status: 200, headers: {}, body }, sealed, cred, ctx()));
    expect(await open('secret_pass_time_error')).toMatchObject({ code: 'CREDENTIAL_EXPIRED', gatewayCode: 'secret_pass_time_error' });
    expect(await open('sign_error')).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 'sign_error' });
    expect(await open('param_error\r\n')).toMatchObject({ code: 'BAD_REQUEST', gatewayCode: 'param_error' });
    expect(await open('<html>oops</html>')).toMatchObject({ code: 'RESPONSE_UNREADABLE' });
  });

  it('the gateway accepts a call without accessFrom (accessFrom: "" sends none) and rejects a forged sign with sign_error', async () => {
    const gateway = gatewayFor();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC, accessFrom: '' }), transport: inProcess(gateway, sent), store: memoryStore() });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    // Replace the sign with another valid-looking one: the gateway answers sign_error in plain text.
    const last = sent[sent.length - 1];
    const pairs = [...new URLSearchParams(last.body)];
    const profile = appSecret({ publicSecret: PUBLIC });
    const forged = await profile.seal({ operationType: '/api/echo', params: { a: '2' }, options: {}, memo: {} }, { appId: 'x', appSecret: 'someOther-16byte' }, ctx());
    const forgedSign = [...new URLSearchParams(forged.wire.body)].pop()!;
    pairs[pairs.length - 1] = forgedSign;
    const res = await gateway.handle(new Request('http://gw.test/api/echo', { method: 'POST', headers: last.headers, body: new URLSearchParams(pairs).toString() }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('sign_error');
  });

  it('under AES-CBC (WebCrypto) a layer’s encryptions start together, not one by one: 9 in flight at once for 8 params + accessFrom, and the gateway opens the call', async () => {
    const options = { publicSecret: PUBLIC, cipher: 'AES-CBC', iv: 'key' } as const;
    const client = createClient({ profile: appSecret(options), transport: inProcess(gatewayFor(options)), store: memoryStore() });
    await client.call('/api/echo', {}); // issuance, and every key imported
    const subtle = globalThis.crypto.subtle;
    const encrypt = subtle.encrypt.bind(subtle);
    let inFlight = 0;
    let peak = 0;
    const spy = vi.spyOn(subtle, 'encrypt').mockImplementation(async (...args: Parameters<SubtleCrypto['encrypt']>) => {
      peak = Math.max(peak, ++inFlight);
      try {
        return await encrypt(...args);
      } finally {
        inFlight--;
      }
    });
    try {
      const params = Object.fromEntries(Array.from({ length: 8 }, (_, i) => ['p' + i, 'value ' + i]));
      expect(await client.call('/api/echo', params)).toEqual({ ...params, accessFrom: 'h5' });
      expect(peak).toBeGreaterThanOrEqual(9);
    } finally {
      spy.mockRestore();
    }
  });

  it('renewOnStart "load" is exposed on the profile and the client issues at start, before any call', async () => {
    const profile = appSecret({ publicSecret: PUBLIC, renewOnStart: 'load' });
    expect(profile.renewOnStart).toBe('load');
    expect(appSecret({ publicSecret: PUBLIC }).renewOnStart).toBe('never');
    const gateway = gatewayFor();
    const client = createClient({ profile, transport: inProcess(gateway), store: memoryStore() });
    await client.call('/api/echo', {});
    expect(gateway.stats().issuances).toBe(1);
  });
});

describe('app-secret over real HTTP on 127.0.0.1', () => {
  it('100 concurrent calls across a gateway expiry: exactly 1 issuance request reaches the gateway, all 100 succeed', async () => {
    const gateway = gatewayFor();
    const srv = await serveGateway(gateway);
    try {
      const client = createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: fetchTransport({ baseUrl: srv.url }), store: memoryStore() });
      await client.call('/api/echo', { warm: 'up' });
      gateway.expireCredentials();
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call<{ i: string }>('/api/echo', { i: String(i), text: '并发' })));
      expect(results.map((r) => r.i)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
      expect(gateway.stats().issuances).toBe(2); // the first, plus exactly one renewal
      expect(gateway.stats().rejections.CREDENTIAL_EXPIRED).toBe(100);
    } finally {
      await srv.close();
    }
  });
});
