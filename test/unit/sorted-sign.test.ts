/**
 * `sorted-sign` (PROTOCOLS.md §2), client and gateway halves. The wire layout is checked
 * against node:crypto on the seed's own worked example; behaviour against our gateway.
 * Byte equality with Java is in test/interop/java-legacy.test.ts.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, type Transport, type WireRequest, type WireResponse } from '../../src/index.js';
import { safeCodeFromBytes, sortedSign } from '../../src/profiles/sorted-sign.js';
import { sortedSign as sortedSignGateway, type SortedSignGatewayOptions } from '../../src/server/sorted-sign.js';
import { createGateway, OperationError, type Gateway } from '../../src/server/index.js';
import type { KeyFrom } from '../../src/profiles/legacy.js';
import { CIPHERS, DIGESTS, ENCODINGS, KEY_FROMS } from '../helpers/legacy-matrix.js';
import { decodeBytes, encodeBytes } from '../../src/codec/text.js';
import type { ProfileContext } from '../../src/types.js';
import { RpcError } from '../../src/errors.js';
import { failure } from '../helpers/servers.js';
import { OutputCollector, secretForms } from '../helpers/secret-scan.js';
import { inProcess as sharedInProcess } from '../helpers/in-process.js';

const APP_KEY = 'ZVNH8HUW5K3VQZKK'; // the seed's example key: 16 characters
const SEED_TS = 1712386078465;
const SEED_SAFE_CODE = '8731897398274';

/** 8 big-endian bytes of n: safeCodeFromBytes gives n back for n < 10^13. */
function bytesOf(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  for (let i = 7; i >= 0; i--, n >>= 8n) b[i] = Number(n & 255n);
  return b;
}

/** Random that first yields the given chunks, then deterministic bytes. */
function scriptedRandom(...chunks: Uint8Array[]) {
  let c = 1;
  return (n: number) => {
    const next = chunks.shift();
    if (next && next.length === n) return next.slice();
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (c++ * 151 + 7) & 0xff;
    return b;
  };
}

/** The shared in-process transport, with this file's positional (sent, edit) arguments. */
const inProcess = (gateway: Gateway, sent: WireRequest[] = [], edit?: (res: WireResponse, req: WireRequest) => WireResponse): Transport => sharedInProcess(gateway, { sent, ...(edit ? { edit } : {}) });

function gatewayFor(options: Partial<SortedSignGatewayOptions> = {}, now?: () => number) {
  return createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY }, ...options }), ...(now ? { now } : {}) })
    .operation('/api/echo', (p) => p)
    .operation('/api/fail', () => {
      throw new OperationError('2001', '卡密已过期');
    });
}

function ctx(overrides: Partial<ProfileContext> = {}): ProfileContext {
  return {
    now: () => SEED_TS,
    random: scriptedRandom(bytesOf(BigInt(SEED_SAFE_CODE))),
    parseJson: JSON.parse,
    send: async () => {
      throw new Error('no transport in this test');
    },
    ...overrides,
  };
}

const call = (params: Record<string, unknown>, operationType = '/api/echo') => ({ operationType, params, options: {}, memo: {} });

describe('sorted-sign options', () => {
  it('an appKey that is not 16/24/32 UTF-8 bytes fails at construction with BAD_CONFIG naming appKey, without printing it', () => {
    const key = 'SHORTKEY12345';
    let err: unknown;
    try {
      sortedSign({ appId: 1, appKey: key });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('BAD_CONFIG');
    expect((err as RpcError).message).toMatch(/^appKey: /);
    expect(JSON.stringify(err) + String(err) + (err as RpcError).hint).not.toContain(key);
  });

  it('bad signRule, method, windowMs, iv and a missing appId fail at construction naming the option', () => {
    expect(() => sortedSign({ appId: 1, appKey: APP_KEY, signRule: 'plain' as never })).toThrow(/^signRule: /);
    expect(() => sortedSign({ appId: 1, appKey: APP_KEY, method: 'PUT' as never })).toThrow(/^method: /);
    expect(() => sortedSign({ appId: 1, appKey: APP_KEY, windowMs: 0 })).toThrow(/^windowMs: /);
    expect(() => sortedSign({ appId: 1, appKey: APP_KEY, iv: '123' })).toThrow(/^iv: /);
    expect(() => sortedSign({ appKey: APP_KEY } as never)).toThrow(/^appId: /);
    expect(() => sortedSign({ appId: 1, appKey: APP_KEY, token: 'a&b' })).toThrow(/^token: /);
  });
});

describe('sorted-sign sealing (checked with node:crypto)', () => {
  it("the seed's worked example: signature = md5 of the sorted k=v join without appId, params = hex AES-128-CBC(appKey, iv = appKey) of the insertion-order join", async () => {
    const sealed = await sortedSign({ appId: 1, appKey: APP_KEY }).seal(call({ card: '此处是用户输入的单码' }), undefined, ctx());
    const signature = createHash('md5').update(`card=此处是用户输入的单码&safeCode=${SEED_SAFE_CODE}&timestamp=${SEED_TS}`, 'utf8').digest('hex');
    const plain = `timestamp=${SEED_TS}&safeCode=${SEED_SAFE_CODE}&card=此处是用户输入的单码&signature=${signature}`;
    const key = Buffer.from(APP_KEY, 'utf8');
    const c = createCipheriv('aes-128-cbc', key, key);
    const params = Buffer.concat([c.update(plain, 'utf8'), c.final()]).toString('hex');
    expect(sealed.wire).toEqual({ path: `/api/echo?appId=1&params=${params}`, method: 'GET', headers: {}, operationType: '/api/echo' });
    expect(sealed.state).toEqual({ safeCode: SEED_SAFE_CODE, signature });
  });

  it('safeCode is 13 decimal digits from 8 random bytes (64-bit big-endian value mod 10^13, zero-padded)', () => {
    expect(safeCodeFromBytes(bytesOf(8731897398274n))).toBe('8731897398274');
    expect(safeCodeFromBytes(bytesOf(42n))).toBe('0000000000042');
    expect(safeCodeFromBytes(new Uint8Array(8).fill(255))).toBe(((1n << 64n) - 1n) % 10n ** 13n + '');
    for (let i = 0; i < 50; i++) expect(safeCodeFromBytes(crypto.getRandomValues(new Uint8Array(8)))).toMatch(/^[0-9]{13}$/);
  });

  it('timestamp-key under hmac-sha256 signs hmac(appKey, timestamp + appKey); token and machineCode follow safeCode; POST sends JSON {appId, params}', async () => {
    const profile = sortedSign({ appId: 7, appKey: APP_KEY, signRule: 'timestamp-key', digest: 'hmac-sha256', method: 'POST', token: 'tk', machineCode: 'mc-1', encoding: 'base64' });
    const sealed = await profile.seal(call({ card: 'x' }), undefined, ctx());
    expect(sealed.wire.method).toBe('POST');
    expect(sealed.wire.headers['content-type']).toBe('application/json');
    const body = JSON.parse(sealed.wire.body!);
    expect(Object.keys(body)).toEqual(['appId', 'params']);
    expect(body.appId).toBe('7');
    const key = Buffer.from(APP_KEY, 'utf8');
    const d = createDecipheriv('aes-128-cbc', key, key);
    const plain = Buffer.concat([d.update(Buffer.from(body.params, 'base64')), d.final()]).toString('utf8');
    const sig = createHmac('sha256', key).update(`${SEED_TS}${APP_KEY}`).digest('hex');
    expect(plain).toBe(`timestamp=${SEED_TS}&safeCode=${SEED_SAFE_CODE}&token=tk&machineCode=mc-1&card=x&signature=${sig}`);
  });

  it('GET percent-encodes base64 so + / = survive the query string', async () => {
    const sealed = await sortedSign({ appId: 'a b', appKey: APP_KEY, encoding: 'base64' }).seal(call({ v: '???>>>~~~' }), undefined, ctx());
    const q = new URLSearchParams(sealed.wire.path.split('?')[1]);
    expect(q.get('appId')).toBe('a b');
    expect(sealed.wire.path).not.toMatch(/params=[^&]*[+/=]/);
    expect(decodeBytes(q.get('params')!, 'base64').length % 16).toBe(0);
  });

  it('a value containing "&" is refused with BAD_REQUEST before sending: the transport is never called', async () => {
    let sends = 0;
    const transport: Transport = {
      async send() {
        sends++;
        throw new Error('must not be called');
      },
    };
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport, store: memoryStore() });
    const e = await failure(client.call('/api/echo', { card: 'a&b=c' }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.details).toEqual({ param: 'card' });
    expect(sends).toBe(0);
    const reserved = await failure(client.call('/api/echo', { signature: 'x' }));
    expect(reserved.code).toBe('BAD_REQUEST');
    expect(sends).toBe(0);
  });
});

const KEY_FOR: Record<KeyFrom, string> = {
  utf8: APP_KEY,
  hex: '00112233445566778899aabbccddeeff',
  base64: 'AAECAwQFBgcICQoLDA0ODw==',
  md5: '应用密钥 app key',
  sha256: '应用密钥 app key',
  'java-sha1prng': '应用密钥 app key',
};

describe('sorted-sign client <-> our gateway', () => {
  for (const cipher of CIPHERS)
    for (const keyFrom of KEY_FROMS)
      it(`${cipher} + keyFrom ${keyFrom}: calls round-trip under every encoding × digest (both sign rules, GET and POST)`, async () => {
        let n = 0;
        for (const encoding of ENCODINGS)
          for (const digest of DIGESTS) {
            n++;
            const iv = cipher === 'AES-CBC' ? (n % 2 ? 'key' : 'fixed-iv-16bytes') : undefined;
            const signRule = n % 3 ? 'sorted' : 'timestamp-key';
            const common = { cipher, keyFrom, encoding, digest, signRule, ...(iv ? { iv } : {}) } as const;
            const gateway = createGateway({ profile: sortedSignGateway({ apps: { '9': KEY_FOR[keyFrom] }, ...common }) }).operation('/api/echo', (p) => p);
            const client = createClient({
              profile: sortedSign({ appId: 9, appKey: KEY_FOR[keyFrom], method: n % 2 ? 'GET' : 'POST', ...common }),
              transport: inProcess(gateway),
              store: memoryStore(),
            });
            const params = { text: '中文 "quoted" +/= ?', n: String(n) };
            expect(await client.call('/api/echo', params), `${encoding}/${digest}/${signRule}`).toEqual(params);
          }
      });

  it('16 KB Chinese values round-trip over POST', async () => {
    const gateway = gatewayFor();
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), transport: inProcess(gateway), store: memoryStore() });
    const big = '网络验证加密请求'.repeat(2048);
    expect(await client.call('/api/echo', { big, small: '好' })).toEqual({ big, small: '好' });
  });

  it('stale timestamp: the gateway answers 1003, the client takes the offset from the decrypted reply once, resends with a fresh safeCode, and succeeds', async () => {
    const gateway = gatewayFor();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway, sent), store: memoryStore(), clock: { now: () => Date.now() - 60_000 } });
    const corrections: number[] = [];
    client.events.on('clock-corrected', (e) => corrections.push(e.offsetMs));
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    expect(sent).toHaveLength(2);
    expect(sent[0].path).not.toBe(sent[1].path); // fresh timestamp and safeCode
    expect(corrections).toHaveLength(1);
    expect(Math.abs(corrections[0] - 60_000)).toBeLessThan(2_000);
    expect(gateway.stats().rejections.CLOCK_SKEW).toBe(1);
    // Corrected: the next call goes through first time.
    expect(await client.call('/api/echo', { a: '2' })).toEqual({ a: '2' });
    expect(sent).toHaveLength(3);
  });

  it('a replayed safeCode is rejected with REPLAYED_REQUEST (and not resent)', async () => {
    const gateway = gatewayFor();
    const sent: WireRequest[] = [];
    const constant = () => (n: number) => new Uint8Array(n).fill(3);
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway, sent), store: memoryStore(), random: constant() });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    const e = await failure(client.call('/api/echo', { a: '2' }));
    expect(e).toMatchObject({ code: 'REPLAYED_REQUEST', gatewayCode: 1004 });
    expect(sent).toHaveLength(2);
    // The exact request again, byte for byte, is refused too.
    const res = await gateway.handle(new Request('http://gw.test' + sent[0].path));
    expect(JSON.parse(await sortedSignDecrypt(await res.text())).code).toBe(1004);
  });

  it("an answer that does not echo this request's safeCode (a replayed response) is RESPONSE_REPLAYED, never data", async () => {
    const gateway = gatewayFor();
    let first: WireResponse | undefined;
    const client = createClient({
      profile: sortedSign({ appId: 1, appKey: APP_KEY }),
      transport: inProcess(gateway, [], (res) => (first ??= res)),
      store: memoryStore(),
    });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    const e = await failure(client.call('/api/echo', { a: '2' }));
    expect(e.code).toBe('RESPONSE_REPLAYED');
  });

  for (const cipher of CIPHERS)
    it(`${cipher}: a bit flipped anywhere in the response is RESPONSE_UNREADABLE, never data`, async () => {
      const options = { cipher, ...(cipher === 'AES-CBC' ? { iv: 'key' } : {}) };
      const gateway = gatewayFor(options);
      let flipAt = -1;
      const flip = (res: WireResponse): WireResponse => {
        if (flipAt < 0 || res.body.startsWith('{')) return res;
        const bytes = decodeBytes(res.body, 'hex');
        bytes[flipAt % bytes.length] ^= 1 << (flipAt % 8);
        return { ...res, body: encodeBytes(bytes, 'hex') };
      };
      const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, ...options }), transport: inProcess(gateway, [], flip), store: memoryStore() });
      const params = { text: 'a value long enough for several AES blocks: 网络验证' };
      expect(await client.call('/api/echo', params)).toEqual(params);
      for (flipAt = 0; flipAt < 300; flipAt += 7) {
        const e = await failure(client.call('/api/echo', params));
        expect(e.code, `bit ${flipAt}`).toBe('RESPONSE_UNREADABLE');
      }
    });

  it('a wrong appKey gives BAD_REQUEST (plain 1001) whose hint names appKey; no secret appears in anything the user sees', async () => {
    const wrong = 'WRONGKEY12345678';
    const gateway = gatewayFor();
    const out = new OutputCollector();
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: wrong }), transport: inProcess(gateway), store: memoryStore() });
    out.events(client);
    const e = await failure(client.call('/api/echo', { a: '1' }));
    out.error(e);
    expect(e).toMatchObject({ code: 'BAD_REQUEST', gatewayCode: 1001 });
    expect(e.hint).toMatch(/appKey/);
    const seen = out.lines.filter((l) => !l.startsWith('stage ')).join('\n');
    for (const s of [wrong, APP_KEY]) for (const f of secretForms(s)) expect(seen).not.toContain(f);
    // And an answer under another key: RESPONSE_UNREADABLE naming appKey, not a JSON error.
    const other = createGateway({ profile: sortedSignGateway({ apps: { '1': wrong } }) }).operation('/api/echo', (p) => p);
    const res = await other.handle(new Request('http://gw.test' + (await sortedSign({ appId: 1, appKey: wrong }).seal(call({}), undefined, ctx({ now: Date.now }))).wire.path));
    const profile = sortedSign({ appId: 1, appKey: APP_KEY });
    const sealed = await profile.seal(call({}), undefined, ctx());
    const u = await failure(profile.open({ status: 200, headers: {}, body: await res.text() }, sealed, undefined, ctx()));
    expect(u.code).toBe('RESPONSE_UNREADABLE');
    expect(u.hint).toMatch(/appKey/);
  });

  it('a signRule or digest mismatch is SIGNATURE_INVALID (encrypted 1002, echoing the safeCode)', async () => {
    const gateway = gatewayFor({ signRule: 'timestamp-key' });
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway), store: memoryStore() });
    expect(await failure(client.call('/api/echo', { a: '1' }))).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 1002 });
  });

  it('an unknown appId is KEY_NOT_SET (plain 1000); a business error is GATEWAY with its code and message', async () => {
    const gateway = gatewayFor();
    const stranger = createClient({ profile: sortedSign({ appId: 2, appKey: APP_KEY }), transport: inProcess(gateway), store: memoryStore() });
    expect(await failure(stranger.call('/api/echo', {}))).toMatchObject({ code: 'KEY_NOT_SET', gatewayCode: 1000 });
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway), store: memoryStore() });
    expect(await failure(client.call('/api/fail', {}))).toMatchObject({ code: 'GATEWAY', gatewayCode: 2001, message: '卡密已过期' });
  });

  it('a plain (unencrypted) success or 1003 is RESPONSE_TAMPERED: never data, never a clock source', async () => {
    const profile = sortedSign({ appId: 1, appKey: APP_KEY });
    const sealed = await profile.seal(call({}), undefined, ctx());
    const open = (body: string) => failure(profile.open({ status: 200, headers: {}, body }, sealed, undefined, ctx()));
    expect(await open(JSON.stringify({ code: 0, data: { money: 1e9 }, safeCode: SEED_SAFE_CODE, timestamp: SEED_TS }))).toMatchObject({ code: 'RESPONSE_TAMPERED' });
    const skew = await open(JSON.stringify({ code: 1003, safeCode: SEED_SAFE_CODE, timestamp: SEED_TS + 1e9 }));
    expect(skew.code).toBe('RESPONSE_TAMPERED');
    expect(skew.serverTime).toBeUndefined();
    expect(await open('not json at all')).toMatchObject({ code: 'RESPONSE_UNREADABLE' });
  });

  it('every gateway response carries a Date header: success, plain 1000/1001, encrypted 1003, 404 and 503', async () => {
    let now = 1_800_000_000_000;
    const gateway = gatewayFor({ maxSafeCodes: 1 }, () => now);
    const profile = sortedSign({ appId: 1, appKey: APP_KEY });
    const get = async (path: string) => gateway.handle(new Request('http://gw.test' + path));
    const seal = async (t: number, code: bigint) => (await profile.seal(call({}), undefined, ctx({ now: () => t, random: scriptedRandom(bytesOf(code)) }))).wire.path;
    const responses = [await get(await seal(now, 1n)), await get('/api/echo?appId=5&params=00'), await get('/api/echo?appId=1&params=zz'), await get(await seal(now - 60_000, 2n)), await get('/nope'), await get(await seal(now, 3n))];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 404, 503]);
    for (const r of responses) expect(r.headers.get('date')).toBe(new Date(now).toUTCString());
  });

  it('the safeCode record is bounded: when full the gateway fails closed (503 -> GATEWAY_BUSY) and forgets a safeCode only once 2 × windowMs have wholly passed', async () => {
    let now = 1_800_000_000_000;
    const gateway = gatewayFor({ maxSafeCodes: 2, windowMs: 5000 }, () => now);
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway), store: memoryStore(), clock: { now: () => now } });
    await client.call('/api/echo', {});
    await client.call('/api/echo', {});
    expect(gateway.stats().caches.safeCodes).toBe(2);
    expect(await failure(client.call('/api/echo', {}))).toMatchObject({ code: 'GATEWAY_BUSY', status: 503 });
    now += 10_000; // the last instant a request stamped at the window's far edge is still accepted: kept
    expect(await failure(client.call('/api/echo', {}))).toMatchObject({ code: 'GATEWAY_BUSY' });
    now += 1;
    expect(await client.call('/api/echo', { ok: '1' })).toEqual({ ok: '1' });
    expect(gateway.stats().caches.safeCodes).toBe(1);
  });
});

/** Decrypt a reply with the default options and APP_KEY, independently (node:crypto). */
async function sortedSignDecrypt(hex: string): Promise<string> {
  const key = Buffer.from(APP_KEY, 'utf8');
  const d = createDecipheriv('aes-128-cbc', key, key);
  return Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('utf8');
}
