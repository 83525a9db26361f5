/**
 * Pins for client-side checks a mutation audit found no test noticing when broken:
 * the client's clock-correction bound (modern and sorted-sign), sorted-sign's safeCode echo
 * on refusals and business errors, and app-secret issuance refusing an appSecret that gives
 * no AES key under keyFrom. Everything in process; clocks are injected, nothing is timed.
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, modern } from '../../src/index.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { createGateway } from '../../src/server/gateway.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import type { ProfileContext, WireResponse } from '../../src/types.js';
import { inProcess } from '../helpers/in-process.js';
import { failure, modernGateway } from '../helpers/servers.js';

const T = 1_700_000_000_000;
const BOUND = 60_000;

describe('client clock-correction bound (maxClockCorrectionMs)', () => {
  async function modernAt(ahead: number) {
    const { gateway, serverKeys } = await modernGateway({ now: () => T + ahead });
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore(), maxClockCorrectionMs: BOUND, clock: { now: () => T } });
    const corrected: { offsetMs: number }[] = [];
    client.events.on('clock-corrected', (d) => void corrected.push(d));
    return { client, corrected };
  }

  it('modern: a gateway clock 1 ms beyond maxClockCorrectionMs ahead is CLOCK_SKEW, and no clock-corrected event fires', async () => {
    const { client, corrected } = await modernAt(BOUND + 1);
    const e = await failure(client.call('/echo', { a: '1' }));
    expect(e.code).toBe('CLOCK_SKEW');
    expect(corrected).toEqual([]);
  });

  it('modern: a gateway clock exactly maxClockCorrectionMs ahead is corrected (one clock-corrected event, offsetMs 60000) and the call succeeds', async () => {
    const { client, corrected } = await modernAt(BOUND);
    expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
    expect(corrected.map((c) => c.offsetMs)).toEqual([BOUND]);
    expect(client.clockOffset).toBe(BOUND);
  });

  const KEY = 'ZVNH8HUW5K3VQZKK';
  function sortedSignAt(ahead: number) {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY }, windowMs: 5000 }), now: () => T + ahead }).operation('/api/echo', (p) => p);
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: KEY }), transport: inProcess(gateway), store: memoryStore(), maxClockCorrectionMs: BOUND, clock: { now: () => T } });
    const corrected: { offsetMs: number }[] = [];
    client.events.on('clock-corrected', (d) => void corrected.push(d));
    return { client, corrected };
  }

  it('sorted-sign: a 1003 whose server time is 1 ms beyond maxClockCorrectionMs ahead is CLOCK_SKEW, and no clock-corrected event fires', async () => {
    const { client, corrected } = sortedSignAt(BOUND + 1);
    const e = await failure(client.call('/api/echo', { a: '1' }));
    expect(e.code).toBe('CLOCK_SKEW');
    expect(e.gatewayCode).toBe(1003);
    expect(corrected).toEqual([]);
  });

  it('sorted-sign: a 1003 whose server time is exactly maxClockCorrectionMs ahead is corrected (offsetMs 60000) and the resent call succeeds', async () => {
    const { client, corrected } = sortedSignAt(BOUND);
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    expect(corrected.map((c) => c.offsetMs)).toEqual([BOUND]);
    expect(client.clockOffset).toBe(BOUND);
  });
});

describe('sorted-sign: answers that must (or chose to) echo the safeCode', () => {
  const KEY = 'ZVNH8HUW5K3VQZKK';
  const profile = sortedSign({ appId: 1, appKey: KEY });
  let seq = 1;
  const ctx = (): ProfileContext => ({
    now: () => T,
    random: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (seq++ * 151 + 7) & 0xff;
      return b;
    },
    parseJson: JSON.parse,
    send: async () => {
      throw new Error('no transport in this test');
    },
  });
  /** An answer as the gateway writes it: hex AES-128-CBC under the appKey, iv = appKey (node:crypto, not ours). */
  const answer = (reply: object): WireResponse => {
    const key = Buffer.from(KEY, 'utf8');
    const c = createCipheriv('aes-128-cbc', key, key);
    return { status: 200, headers: {}, body: Buffer.concat([c.update(JSON.stringify(reply), 'utf8'), c.final()]).toString('hex') };
  };
  const sealTwo = async () => {
    const mine = await profile.seal({ operationType: '/api/echo', params: {}, options: {}, memo: {} }, undefined, ctx());
    const other = await profile.seal({ operationType: '/api/echo', params: {}, options: {}, memo: {} }, undefined, ctx());
    expect(other.state.safeCode).not.toBe(mine.state.safeCode);
    return { mine, other };
  };

  it('an encrypted 1004 (replayed request) with no safeCode, or with a wrong one, is RESPONSE_REPLAYED, not REPLAYED_REQUEST', async () => {
    const { mine, other } = await sealTwo();
    const none = await failure(profile.open(answer({ code: 1004, msg: 'x', timestamp: T }), mine, undefined, ctx()));
    expect(none).toMatchObject({ code: 'RESPONSE_REPLAYED', gatewayCode: 1004 });
    const wrong = await failure(profile.open(answer({ code: 1004, msg: 'x', timestamp: T, safeCode: other.state.safeCode }), mine, undefined, ctx()));
    expect(wrong).toMatchObject({ code: 'RESPONSE_REPLAYED', gatewayCode: 1004 });
    // The control: echoing this request's safeCode, 1004 is what it says.
    const right = await failure(profile.open(answer({ code: 1004, msg: 'x', timestamp: T, safeCode: mine.state.safeCode }), mine, undefined, ctx()));
    expect(right.code).toBe('REPLAYED_REQUEST');
  });

  it("a business error (2001) carrying another request's safeCode is RESPONSE_REPLAYED; with this request's safeCode it is GATEWAY 2001", async () => {
    const { mine, other } = await sealTwo();
    const foreign = await failure(profile.open(answer({ code: 2001, msg: 'biz', safeCode: other.state.safeCode }), mine, undefined, ctx()));
    expect(foreign).toMatchObject({ code: 'RESPONSE_REPLAYED', gatewayCode: 2001 });
    const own = await failure(profile.open(answer({ code: 2001, msg: 'biz', safeCode: mine.state.safeCode }), mine, undefined, ctx()));
    expect(own).toMatchObject({ code: 'GATEWAY', gatewayCode: 2001, message: 'biz' });
  });
});

describe('app-secret issuance: the issued appSecret must give an AES key under keyFrom', () => {
  const PUBLIC = 'pubSecret-16byte';
  /** The issuance answer as the gateway writes it: base64 AES-128-ECB under the publicSecret (node:crypto, not ours). */
  const issuance = (appSecretValue: string): WireResponse => {
    const c = createCipheriv('aes-128-ecb', Buffer.from(PUBLIC, 'utf8'), null);
    const text = JSON.stringify({ data: { appId: 'app-1', appSecret: appSecretValue }, success: true });
    return { status: 200, headers: {}, body: Buffer.concat([c.update(text, 'utf8'), c.final()]).toString('base64') };
  };
  const ctx = (send: ProfileContext['send']): ProfileContext => ({ now: () => T, random: (n) => new Uint8Array(n).fill(7), parseJson: JSON.parse, send });

  it("keyFrom 'utf8' and a 5-character issued appSecret: issue rejects RESPONSE_UNREADABLE (a 16-character one is accepted)", async () => {
    const profile = appSecret({ publicSecret: PUBLIC, keyFrom: 'utf8' });
    const e = await failure(profile.issue!(ctx(async () => issuance('abcde'))));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    expect(e.message).toMatch(/keyFrom/);
    // The control: the same answer with a secret that fits is taken.
    expect((await profile.issue!(ctx(async () => issuance('0123456789abcdef')))).value).toEqual({ appId: 'app-1', appSecret: '0123456789abcdef' });
  });

  it('through a client: the call rejects RESPONSE_UNREADABLE and no credential is stored', async () => {
    const store = memoryStore();
    let sends = 0;
    const transport = {
      async send() {
        sends++;
        return issuance('abcde');
      },
    };
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC, keyFrom: 'utf8' }), transport, store, storeKey: 'creds' });
    const e = await failure(client.call('/api/echo', { a: '1' }));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    expect(await store.get('creds')).toBeUndefined();
    expect(sends).toBeGreaterThanOrEqual(1);
  });
});
