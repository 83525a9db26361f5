/**
 * What the gateway's replay records and caches keep, and for how long: no whole request
 * body or plaintext behind a cached string, a replay refused up to the last instant its
 * request could be accepted, and a request stamped ahead refused when it comes back later.
 */
import { createCipheriv } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { appSecret, createClient, memoryStore, modern, sortedSign, type RpcError, type WireRequest } from '../../src/index.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway } from '../../src/server/gateway.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { legacyCipher } from '../../src/profiles/legacy.js';
import { SORTED_SIGN_DEFAULTS, sortedSignSignature } from '../../src/profiles/sorted-sign.js';
import { inProcess, toRequest, toWire } from '../helpers/in-process.js';
import { modernGateway } from '../helpers/servers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap growth in MB over `run`, measured after full collections. */
async function retainedMb(run: () => Promise<void>): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  await run();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  gc();
  return (process.memoryUsage().heapUsed - before) / 1e6;
}

const PUBLIC_SECRET = '0123456789abcdef';
const APP_KEY = 'aPpKeY-16-chars!';

describe('gateway caches keep no request body or plaintext alive', () => {
  it('app-secret: 100 refused calls, each a new cacheable name followed by 1 MB, leave under 20 MB on the heap (each body was kept: ~100 MB)', async () => {
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }) }).operation('/op', () => 1);
    // Names that decrypt under the publicSecret (so the name cache keeps them), in base64 with no escapes.
    const names: string[] = [];
    for (let i = 0; names.length < 100; i++) {
      const c = createCipheriv('aes-128-ecb', Buffer.from(PUBLIC_SECRET), null);
      const ct = Buffer.concat([c.update('name' + i), c.final()]).toString('base64');
      if (!/[+/]/.test(ct)) names.push(ct.replace(/=+$/, ''));
    }
    const filler = 'A'.repeat(1_000_000);
    const statuses = new Set<string>();
    const mb = await retainedMb(async () => {
      for (const n of names) {
        const res = await gateway.handle(new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: n + '=' + filler }));
        statuses.add(`${res.status} ${await res.text()}`);
      }
    });
    expect([...statuses]).toEqual(['200 param_error']);
    expect(gateway.stats().caches.outerNames).toBe(100); // every name was cached...
    expect(mb).toBeLessThan(20); // ...but not the bodies they were cut from
  });

  it('sorted-sign: 120 accepted calls with ~480 KB of params each leave under 20 MB on the heap while their safeCodes are kept (each plaintext was kept: ~58 MB)', async () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) }).operation('/api/echo', () => 'ok');
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), transport: inProcess(gateway), store: memoryStore() });
    const big = 'x'.repeat(480_000);
    const mb = await retainedMb(async () => {
      for (let i = 0; i < 120; i++) expect(await client.call('/api/echo', { big, i: String(i) })).toBe('ok');
    });
    expect(gateway.stats().caches.safeCodes).toBe(120);
    expect(mb).toBeLessThan(20);
  });

  it('sorted-sign: a signed request whose safeCode is longer than 64 characters is refused (1001, params invalid), nothing run, nothing kept', async () => {
    let runs = 0;
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) }).operation('/api/echo', () => ++runs);
    const cipher = legacyCipher(APP_KEY, SORTED_SIGN_DEFAULTS);
    const send = async (safeCode: string) => {
      const q: [string, string][] = [['timestamp', String(Date.now())], ['safeCode', safeCode], ['a', '1']];
      q.push(['signature', await sortedSignSignature(q, 'sorted', APP_KEY, 'md5')]);
      const params = await cipher.encrypt(q.map(([k, v]) => `${k}=${v}`).join('&'), (n) => new Uint8Array(n));
      const res = await gateway.handle(new Request('http://gw.test/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appId: '1', params }) }));
      return JSON.parse(await cipher.decrypt(await res.text())) as { code: number };
    };
    expect((await send('7'.repeat(65))).code).toBe(1001);
    expect(runs).toBe(0);
    expect(gateway.stats().caches.safeCodes).toBe(0);
    expect((await send('7'.repeat(64))).code).toBe(0); // 64 is still taken
    expect(runs).toBe(1);
  });
});

describe('replays are refused up to the last instant their request could be accepted', () => {
  it('sorted-sign: a request stamped a whole window ahead, accepted, then replayed exactly 2 × windowMs later -> 1004 replayed, run once', async () => {
    let now = 1_800_000_000_000;
    let runs = 0;
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY }, windowMs: 5000 }), now: () => now }).operation('/api/echo', () => ++runs);
    const sent: WireRequest[] = [];
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => now + 5000 } });
    expect(await client.call('/api/echo', {})).toBe(1);
    now += 10_000; // |now − timestamp| is exactly the window: the request is still acceptable
    const replay = await toWire(await gateway.handle(toRequest(sent[0])));
    const reply = JSON.parse(await legacyCipher(APP_KEY, SORTED_SIGN_DEFAULTS).decrypt(replay.body)) as { code: number };
    expect(reply.code).toBe(1004);
    expect(runs).toBe(1);
  });

  it('modern: a call stamped a whole window ahead, then replayed exactly 2 × windowMs later just after another call -> REPLAYED_REQUEST, run once', async () => {
    let now = 1_800_000_000_000;
    let runs = 0;
    const { gateway, serverKeys } = await modernGateway({ windowMs: 60_000, now: () => now });
    gateway.operation('/count', () => ++runs);
    const sent: WireRequest[] = [];
    let skew = 0;
    const ahead = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => now + skew } });
    await ahead.call('/echo', {}); // issued (and its clock corrected) first
    skew = 60_000; // then its clock runs exactly a window ahead: still accepted
    expect(await ahead.call('/count', {})).toBe(1);
    const call = sent.find((r) => r.path === '/count')!;
    now += 120_000;
    // Another call at that very millisecond sweeps the records: the first one must survive it.
    const other = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore(), clock: { now: () => now } });
    expect(await other.call('/echo', { x: '1' })).toEqual({ x: '1' });
    const replay = await toWire(await gateway.handle(toRequest(call)));
    expect(replay.status).toBe(200);
    expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(1);
    expect(runs).toBe(1);
  });

  it('modern: a call answered CLOCK_SKEW because it was stamped 30 min ahead is resent and run once; the captured original, sent again when its x-ts comes into the window, is REPLAYED_REQUEST, not a second run', async () => {
    let now = 1_800_000_000_000;
    let runs = 0;
    const { gateway, serverKeys } = await modernGateway({ now: () => now, credentialTtlMs: 3_600_000 });
    gateway.operation('/count', () => ++runs);
    const sent: WireRequest[] = [];
    let skew = 0;
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => now + skew } });
    await client.call('/echo', {}); // issued with a right clock
    skew = 30 * 60_000; // then the device clock jumps 30 min ahead
    const retries: string[] = [];
    client.events.on('retry', (r) => retries.push(r.cause));
    expect(await client.call('/count', {})).toBe(1);
    expect(retries).toEqual(['CLOCK_SKEW']);
    const [original, resend] = sent.filter((r) => r.path === '/count');
    expect(resend.headers['x-nonce']).not.toBe(original.headers['x-nonce']);
    now += 26 * 60_000; // the original's x-ts is now inside the window; the id's record (2 × window) is gone
    const replay = await toWire(await gateway.handle(toRequest(original)));
    expect(replay.status).toBe(200);
    expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(1);
    expect(runs).toBe(1);
  });
});

describe('modern: one credential cannot fill a record every caller needs', () => {
  it('past an eighth of maxNonces a credential gets 429 RATE_LIMITED while another is answered; once its entries expire it is answered again', async () => {
    let now = 1_800_000_000_000;
    const { gateway, serverKeys } = await modernGateway({ maxNonces: 80, windowMs: 60_000, now: () => now });
    const clientAt = () => createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore(), clock: { now: () => now } });
    const greedy = clientAt();
    const answered: string[] = [];
    for (let i = 0; i < 12; i++) answered.push(await greedy.call('/echo', { i: String(i) }).then(() => 'ok', (e: RpcError) => e.code));
    // Its share is 10 nonces (80 / 8): from the 11th call on it is refused.
    expect(answered).toEqual([...Array(10).fill('ok'), 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(gateway.stats().caches.nonces).toBe(10);
    expect(await clientAt().call('/echo', { other: '1' })).toEqual({ other: '1' });
    now += 120_001;
    expect(await greedy.call('/echo', { later: '1' })).toEqual({ later: '1' });
  });

  it('past an eighth of maxStoredBytes of stored results a credential gets 429 while another is answered', async () => {
    const { gateway, serverKeys } = await modernGateway({ maxStoredBytes: 8_000 });
    const clientAt = () => createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore() });
    const greedy = clientAt();
    const big = 'y'.repeat(400); // each stored envelope is ~430 characters; the share is 1000
    const answered: string[] = [];
    for (let i = 0; i < 4; i++) answered.push(await greedy.call('/echo', { big, i: String(i) }).then(() => 'ok', (e: RpcError) => e.code));
    expect(answered).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    expect(gateway.stats().caches.storedBytes).toBeLessThan(1_500);
    expect(await clientAt().call('/echo', { big })).toEqual({ big });
  });
});

describe('app-secret: issuance is rate limited per client address', () => {
  it('an address flooding issuance gets 429 (RATE_LIMITED at the client) past issuesPerMinute, so it cannot push a live credential out of a full table; another address is not limited', async () => {
    let now = 1_800_000_000_000;
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET, maxCredentials: 3, issuesPerMinute: 2, clientAddress: (r) => r.headers.get('x-test-addr') ?? 'unknown' }), now: () => now }).operation('/echo', (p) => p);
    const from = (addr: string) => {
      const t = inProcess(gateway);
      return createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: { send: (r, o) => t.send({ ...r, headers: { ...r.headers, 'x-test-addr': addr } }, o) }, store: memoryStore() });
    };
    const victim = from('10.0.0.1');
    expect(await victim.call('/echo', { a: '1' })).toMatchObject({ a: '1' });
    const flood: string[] = [];
    for (let i = 0; i < 4; i++) flood.push(await from('10.6.6.6').call('/echo', { i: String(i) }).then(() => 'ok', (e: RpcError) => e.code));
    expect(flood).toEqual(['ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(gateway.stats().issuances).toBe(3);
    expect(await victim.call('/echo', { b: '2' })).toMatchObject({ b: '2' }); // still its first credential
    expect(gateway.stats().issuances).toBe(3);
    now += 60_000; // a new minute: the flooding address may issue again
    expect(await from('10.6.6.6').call('/echo', { c: '3' })).toMatchObject({ c: '3' });
  });
});
