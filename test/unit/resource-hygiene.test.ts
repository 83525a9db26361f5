/**
 * Resource hygiene of long-lived clients and gateways: what a call, an issuance or a request
 * takes (listeners on the caller's signal and on document, timers, IndexedDB connections,
 * memory, cache entries, sockets) is let go of once it is over, or with time.
 */
import { getEventListeners } from 'node:events';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { appSecret, createClient, indexedDbStore, memoryStore, mgs, modern, sortedSign, type Client } from '../../src/index.js';
import { jsBridgeTransport } from '../../src/transport/jsbridge.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway, OperationError, type Gateway } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { modern as modernGateway } from '../../src/server/modern.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { generateSigningKeyPair, toNodeHandler } from '../../src/server/index.js';
import type { WireRequest } from '../../src/types.js';
import { inProcess, toRequest } from '../helpers/in-process.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PUBLIC_SECRET = '0123456789abcdef';
const APP_KEY = 'aPpKeY-16-chars!';
const MGS_APP = { appId: 'ONEX1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch' };
const T0 = 1_800_000_000_000;

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Dialect = 'modern' | 'appSecret' | 'sortedSign' | 'mgs';
const DIALECTS: Dialect[] = ['modern', 'appSecret', 'sortedSign', 'mgs'];

/** A gateway of `dialect` with /echo, /fail (a business error) and /slow (answers after 150 ms), and clients of it. */
async function wired(dialect: Dialect, now: () => number = Date.now) {
  let profile;
  let client: (clock?: { now(): number }, extra?: object) => Client;
  if (dialect === 'modern') {
    const key = await generateSigningKeyPair();
    profile = modernGateway({ signingKeys: { k1: key.privateKeyPem }, callsPerMinute: 1e9 });
    client = (clock, extra) => createClient({ profile: modern({ serverKeys: { k1: key.publicJwk } }), transport: inProcess(gateway), store: memoryStore(), ...(clock ? { clock } : {}), ...extra });
  } else if (dialect === 'appSecret') {
    profile = appSecretGateway({ publicSecret: PUBLIC_SECRET, issuesPerMinute: 1e6 });
    client = (clock, extra) => createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: inProcess(gateway), store: memoryStore(), ...(clock ? { clock } : {}), ...extra });
  } else if (dialect === 'sortedSign') {
    profile = sortedSignGateway({ apps: { '1': APP_KEY } });
    client = (clock, extra) => createClient({ profile: sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), transport: inProcess(gateway), store: memoryStore(), ...(clock ? { clock } : {}), ...extra });
  } else {
    profile = mgsGateway(MGS_APP);
    client = (clock, extra) => createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway), store: memoryStore(), ...(clock ? { clock } : {}), ...extra });
  }
  const gateway: Gateway = createGateway({ profile, now });
  const op = (name: string) => (dialect === 'mgs' ? `com.test.${name}` : `/${name}`);
  gateway
    .operation(op('echo'), (p) => p)
    .operation(op('fail'), () => {
      throw new OperationError('E_TEST', 'refused');
    })
    .operation(op('slow'), () => new Promise((r) => setTimeout(() => r('late'), 150)));
  return { gateway, client, op };
}

describe("client: nothing is left on the caller's long-lived signal, and no timer runs, once calls are over", () => {
  for (const dialect of DIALECTS)
    it(`${dialect}: after successes, business errors, timeouts and a resend (renewal or clock correction), 0 abort listeners and no timer of the client's`, async () => {
      const { gateway, client, op } = await wired(dialect);
      const signal = new AbortController().signal; // a page's signal kept for hours
      const before = timers();
      const plain = client();
      // A device clock 10 minutes fast: corrected from the gateway (sorted-sign, modern and mgs resend once).
      const fast = client({ now: () => Date.now() + 600_000 }, { maxClockCorrectionMs: 3_600_000 });
      for (let i = 0; i < 5; i++) await plain.call(op('echo'), { i: String(i) }, { signal });
      for (let i = 0; i < 3; i++) await expect(plain.call(op('fail'), {}, { signal })).rejects.toMatchObject({ code: 'GATEWAY' });
      for (let i = 0; i < 3; i++) await expect(plain.call(op('slow'), {}, { signal, timeoutMs: 10 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      gateway.expireCredentials(); // modern, app-secret: CREDENTIAL_EXPIRED, one renewal, one resend
      await plain.call(op('echo'), { after: 'renewal' }, { signal });
      await fast.call(op('echo'), { after: 'skew' }, { signal });
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      await sleep(300); // the gateway's slow operations end (the in-process transport does not stop them)
      expect(timers()).toBeLessThanOrEqual(before);
    });
});

describe('jsBridgeTransport lets go of its listeners and timers', () => {
  const g = globalThis as { document?: unknown; AlipayJSBridge?: unknown };
  afterEach(() => {
    delete g.document;
    delete g.AlipayJSBridge;
  });

  it('answered, refused, never answered (own timeout) and aborted sends, and waits for the bridge (appearing, or aborted): 0 listeners on the signal and on document, no timer', async () => {
    const doc = new EventTarget();
    g.document = doc;
    const signal = new AbortController().signal;
    const t = jsBridgeTransport({ readyTimeoutMs: 2_000 });
    const req: WireRequest = { path: '/op', method: 'POST', headers: {}, body: '{"a":1}', operationType: 'com.test.op' } as WireRequest;
    const before = timers();
    // The bridge appears after the send started: the send waits for AlipayJSBridgeReady.
    let reply: (cb: (d: unknown) => void) => void = (cb) => setTimeout(() => cb({ header: {}, resData: '{"ok":1}' }), 1);
    const pending = t.send(req, { signal, timeoutMs: 1_000 });
    expect(getEventListeners(doc, 'AlipayJSBridgeReady')).toHaveLength(1);
    g.AlipayJSBridge = { call: (_api: string, _o: unknown, cb: (d: unknown) => void) => reply(cb) };
    doc.dispatchEvent(new Event('AlipayJSBridgeReady'));
    await pending;
    for (let i = 0; i < 5; i++) await t.send(req, { signal, timeoutMs: 1_000 });
    reply = (cb) => setTimeout(() => cb({ error: 10, errorMessage: 'offline' }), 1);
    await expect(t.send(req, { signal, timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'NETWORK' });
    reply = () => {}; // the container never calls back
    await expect(t.send(req, { signal, timeoutMs: 20 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const own = new AbortController();
    const aborted = t.send(req, { signal: own.signal, timeoutMs: 1_000 });
    own.abort();
    await expect(aborted).rejects.toBeDefined();
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(0);
    // Waiting for a bridge that is not there, aborted while waiting.
    delete g.AlipayJSBridge;
    const waiting = new AbortController();
    const wait = t.send(req, { signal: waiting.signal, timeoutMs: 1_000 });
    waiting.abort();
    await expect(wait).rejects.toBeDefined();
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(waiting.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(doc, 'AlipayJSBridgeReady')).toHaveLength(0);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('client memory does not grow with the number of calls', () => {
  for (const dialect of DIALECTS)
    it(`${dialect}: 5000 more calls (a stage listener on) of ~1 KB params each keep under 2 MB more on the heap after gc than the first 500 (~7 MB if each call's params were kept)`, async () => {
      // One clock for both sides, 700 ms a call: the gateway's replay records stay small, so the heap is the client's.
      let t = T0;
      const now = () => t;
      const { client } = await wired(dialect, now);
      const c = client({ now: () => (t += 700) });
      const signal = new AbortController().signal;
      let stages = 0;
      c.events.on('stage', () => stages++);
      const heap = async () => {
        await sleep(20);
        gc();
        gc();
        return process.memoryUsage().heapUsed / 1e6;
      };
      // ~1 KB of params of its own per call (~2.5 KB with the sealed wire text): whatever a call's bookkeeping kept would show.
      const call = (i: number) => c.call(dialect === 'mgs' ? 'com.test.echo' : '/echo', { i: String(i), pad: `${i}:${'x'.repeat(1000)}` }, { signal });
      for (let i = 0; i < 500; i++) await call(i);
      const first = await heap();
      for (let i = 0; i < 5000; i++) await call(i);
      const later = await heap();
      expect(stages).toBeGreaterThanOrEqual(5500 * 4);
      expect(later - first).toBeLessThan(2);
    }, 60_000);
});

describe('gateway caches go back down with time', () => {
  it('modern: expired credentials leave the table with time, not only once it is full (20 clients, 2 h later one call: 1 credential, not 21)', async () => {
    let t = T0;
    const { gateway, client } = await wired('modern', () => t);
    const clients = Array.from({ length: 20 }, () => client({ now: () => t }));
    for (const c of clients) await c.call('/echo', {});
    expect(gateway.stats().caches.credentials).toBe(20);
    t += 2 * 3_600_000; // past the 1 h TTL
    await clients[0].call('/echo', {}); // renews: a new credential
    expect(gateway.stats().caches).toMatchObject({ credentials: 1, nonces: 1, requestIds: 1 });
  });

  it('app-secret: expired credentials leave the table with time, not only once it is full (20 clients, 3 h later one call: 1, not 20)', async () => {
    let t = T0;
    const { gateway, client } = await wired('appSecret', () => t);
    const clients = Array.from({ length: 20 }, () => client({ now: () => t }));
    for (const c of clients) await c.call('/echo', {});
    expect(gateway.stats().caches.credentials).toBe(20);
    t += 3 * 3_600_000; // past the 2 h TTL
    await clients[0].call('/echo', {});
    expect(gateway.stats().caches.credentials).toBe(1);
  });

  it('modern: the record of nonces answered CLOCK_SKEW for being stamped ahead is in stats(), and let go once past its window (not only when full)', async () => {
    let t = T0;
    const { gateway, client } = await wired('modern', () => t);
    // The issuance sets the client's clock: the device clock then jumps 10 min ahead (CLOCK_SKEW, corrected, resent).
    let skew = 0;
    const ahead = client({ now: () => t + skew });
    await ahead.call('/echo', {});
    skew = 600_000;
    await ahead.call('/echo', {});
    expect(gateway.stats().rejections.CLOCK_SKEW).toBe(1);
    expect(gateway.stats().caches.aheadNonces).toBe(1);
    t += 3_600_000; // past x-ts + window
    await client({ now: () => t }).call('/echo', {});
    expect(gateway.stats().caches.aheadNonces).toBe(0);
  });

  it('sorted-sign: the record of safeCodes answered 1003 for being stamped ahead is let go once past its window (not only when full)', async () => {
    let t = T0;
    const { gateway, client } = await wired('sortedSign', () => t);
    await client({ now: () => t + 60_000 }).call('/echo', {}); // 1003, corrected, resent
    expect(gateway.stats().caches.aheadCodes).toBe(1);
    t += 3_600_000;
    await client({ now: () => t }).call('/echo', {});
    expect(gateway.stats().caches).toEqual({ safeCodes: 1, aheadCodes: 0 });
  });

  it('modern and sorted-sign: 200 calls leave 200 nonces / request ids / safeCodes; past their window one call leaves 1', async () => {
    for (const dialect of ['modern', 'sortedSign'] as const) {
      let t = T0;
      const { gateway, client } = await wired(dialect, () => t);
      const c = client({ now: () => t });
      for (let i = 0; i < 200; i++) await c.call('/echo', { i: String(i) });
      const key = dialect === 'modern' ? 'nonces' : 'safeCodes';
      expect(gateway.stats().caches[key]).toBe(200);
      t += dialect === 'modern' ? 11 * 60_000 : 11_000; // past 2 × windowMs
      await c.call('/echo', {});
      expect(gateway.stats().caches[key]).toBe(1);
      if (dialect === 'modern') expect(gateway.stats().caches).toMatchObject({ requestIds: 1 });
    }
  });

  it('an operation past operationTimeoutMs, one that never ends, and fast async ones leave no timer of the gateway behind', async () => {
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), operationTimeoutMs: 50 })
      .operation('/echo', async (p) => p)
      .operation('/slow', () => new Promise((r) => setTimeout(() => r(1), 120)))
      .operation('/never', () => new Promise(() => {}));
    const c = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: inProcess(gateway), store: memoryStore() });
    await c.call('/echo', {}); // the issuance
    const before = timers();
    for (let i = 0; i < 5; i++) await c.call('/echo', {});
    expect(timers()).toBeLessThanOrEqual(before); // (raceTimeout's 50 ms timer cleared as each answer came)
    await expect(c.call('/slow', {})).rejects.toMatchObject({ code: 'GATEWAY', gatewayCode: 'TIMEOUT' });
    await expect(c.call('/never', {})).rejects.toMatchObject({ code: 'GATEWAY', gatewayCode: 'TIMEOUT' });
    await sleep(150); // the slow operation's own timer ends
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('IndexedDB connections', () => {
  const opened: IDBDatabase[] = [];
  const realOpen = indexedDB.open.bind(indexedDB);
  const spyOpens = () => {
    opened.length = 0;
    indexedDB.open = ((name: string, version?: number) => {
      const req = version === undefined ? realOpen(name) : realOpen(name, version);
      req.addEventListener('success', () => opened.push(req.result));
      return req;
    }) as IDBFactory['open'];
  };
  afterEach(() => {
    indexedDB.open = realOpen;
  });
  /** Connections still open: a transaction on a closing or closed one throws InvalidStateError. */
  const stillOpen = (storeName = 'credentials') =>
    opened.filter((db) => {
      try {
        db.transaction(storeName).abort();
        return true;
      } catch {
        return false;
      }
    }).length;

  it('30 clients made, used once and dropped: their connections are closed once they are collected (each stayed open for good: 30)', async () => {
    spyOpens();
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }) }).operation('/echo', (p) => p);
    const dbName = `hygiene-${Math.random()}`;
    const useOnce = async (i: number) => {
      const c = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: inProcess(gateway), store: indexedDbStore({ dbName }) });
      await c.call('/echo', { i: String(i) });
    };
    for (let i = 0; i < 30; i++) await useOnce(i);
    expect(stillOpen()).toBe(30);
    for (let i = 0; i < 10 && stillOpen() > 0; i++) {
      gc();
      await sleep(20);
    }
    expect(stillOpen()).toBe(0);
  });

  it("a store whose connection another store's upgrade closed reopens one, and only one: 10 upgrades leave 2 open (its own and the last store's)", async () => {
    spyOpens();
    const dbName = `hygiene-${Math.random()}`;
    const record = { version: 1, value: 'v' };
    const a = indexedDbStore({ dbName });
    await a.set('k', record);
    const others = [];
    for (let i = 0; i < 10; i++) {
      const b = indexedDbStore({ dbName, storeName: `other${i}` }); // a new object store: a version upgrade, which asks `a` to let go
      others.push(b);
      await b.set('k', record);
      expect(await a.get('k')).toEqual(record);
    }
    const open = opened.filter((db) => {
      try {
        db.transaction(db.objectStoreNames[0]).abort();
        return true;
      } catch {
        return false;
      }
    });
    expect(open).toHaveLength(2);
    expect(others).toHaveLength(10);
  });
});

describe('toNodeHandler on a real server (127.0.0.1)', () => {
  it('20 clients that abort mid-body leave no connection and no timer; after 5 keep-alive calls server.close() completes by itself', async () => {
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), bodyTimeoutMs: 10_000 }).operation('/echo', (p) => p);
    for (const handler of [toNodeHandler(gateway), toNodeHandler((r: Request) => gateway.handle(r))]) {
      const server = createServer(handler);
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      try {
        const before = timers();
        for (let i = 0; i < 20; i++) {
          const s = connect(port, '127.0.0.1');
          s.on('error', () => {});
          await new Promise((r) => s.once('connect', r));
          s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nabc=def');
          await sleep(5);
          s.destroy();
        }
        let connections = -1;
        for (let i = 0; i < 50 && connections !== 0; i++) {
          await sleep(20);
          connections = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
        }
        expect(connections).toBe(0);
        expect(timers()).toBeLessThanOrEqual(before); // (the bodyTimeoutMs timers of the aborted reads were cleared: none of 10 s is left)
        for (let i = 0; i < 5; i++) {
          await new Promise<void>((resolve, reject) => {
            const req = httpRequest({ agent, host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', reject);
            req.end('x=y');
          });
        }
        // The keep-alive connection is idle: close() ends it and completes, with no closeAllConnections().
        await new Promise<void>((r) => server.close(() => r()));
        expect(await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))).toBe(0);
      } finally {
        agent.destroy();
        if (server.listening) server.closeAllConnections();
        server.close();
      }
    }
  });
});

describe('a request replayed later is refused from the records that are kept', () => {
  it('modern: the ahead record still refuses a captured copy while it can be accepted (the sweep lets go only of entries past their window)', async () => {
    let t = T0;
    const sent: WireRequest[] = [];
    const key = await generateSigningKeyPair();
    let runs = 0;
    const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.privateKeyPem } }), now: () => t }).operation('/echo', () => ++runs);
    let skew = 0;
    const c = createClient({ profile: modern({ serverKeys: { k1: key.publicJwk } }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => t + skew } });
    await c.call('/echo', {}); // the issuance sets the client's clock
    skew = 600_000; // then the device clock jumps 10 min ahead
    sent.length = 0;
    await c.call('/echo', {}); // CLOCK_SKEW, corrected, resent
    const captured = sent[0]!;
    t += 61_000; // a sweep is due: the entry is not past its window, so it stays
    await createClient({ profile: modern({ serverKeys: { k1: key.publicJwk } }), transport: inProcess(gateway), store: memoryStore(), clock: { now: () => t } }).call('/echo', {});
    t += 300_000; // x-ts now within the window
    await gateway.handle(toRequest(captured));
    expect(runs).toBe(3);
    expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(1);
  });
});
