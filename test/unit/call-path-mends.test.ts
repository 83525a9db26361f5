// @vitest-environment happy-dom
/**
 * Call-path mends from the fourth review: aborted calls, a hung issuance, the issuance clock
 * reading, call options checked before anything is sent, text params for mgs (client and
 * shim), the shim's error codes and options, lossless numbers in sorted-sign answers.
 */
import { describe, expect, it } from 'vitest';
import { createClient, fetchTransport, indexedDbStore, installRpcShim, memoryStore, modern, RpcError, type Profile, type Transport, type WireRequest } from '../../src/index.js';
import { mgs } from '../../src/profiles/mgs.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { createGateway } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { inProcess } from '../helpers/in-process.js';
import { echo, issuedProfile, staticProfile, thrown } from '../helpers/client-doubles.js';
import { deferred, failure, modernGateway } from '../helpers/servers.js';
import { LosslessNumber, losslessParse } from '../helpers/lossless.js';

/** Let timers and callbacks queued by a finished call run (bounded: a few turns). */
const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('aborted calls', () => {
  it('a call whose signal is already aborted: ABORTED, no issuance, nothing sent, and no unhandled rejection left behind', async () => {
    const unhandled: unknown[] = [];
    const saved = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', (r) => unhandled.push(r));
    try {
      let issues = 0;
      let sends = 0;
      const issued: Profile = { ...staticProfile, credentials: 'issued', storeKey: 'aborted', issue: async () => ({ value: 'c' + ++issues }) };
      const transport: Transport = {
        async send(_r, { signal }) {
          sends++;
          if (signal?.aborted) throw signal.reason;
          return { status: 200, headers: {}, body: '{}' };
        },
      };
      const client = createClient({ profile: issued, transport, store: memoryStore() });
      expect((await failure(client.call('/x', {}, { signal: AbortSignal.abort() }))).code).toBe('ABORTED');
      await settle(50);
      expect(unhandled).toEqual([]);
      expect(issues).toBe(0);
      expect(sends).toBe(0);
    } finally {
      process.removeAllListeners('unhandledRejection');
      for (const l of saved) process.on('unhandledRejection', l as (...args: unknown[]) => void);
    }
  });

  it('aborted while its answer is read (a CLOCK_SKEW answer): no clock correction, no retry event, nothing resent', async () => {
    const gate = deferred();
    const reading = deferred();
    const profile: Profile = {
      ...staticProfile,
      async open(res) {
        if (res.body === 'skew') {
          reading.resolve();
          await gate.promise;
          throw new RpcError('CLOCK_SKEW', 'off', { serverTime: Date.now() + 60_000 });
        }
        return 'ok';
      },
    };
    let sends = 0;
    const transport: Transport = { async send() { sends++; return { status: 200, headers: {}, body: sends === 1 ? 'skew' : 'fine' }; } };
    const client = createClient({ profile, transport, store: memoryStore() });
    const retries: unknown[] = [];
    const corrections: unknown[] = [];
    client.events.on('retry', (d) => retries.push(d));
    client.events.on('clock-corrected', (d) => corrections.push(d));
    const ac = new AbortController();
    const pending = client.call('/x', {}, { signal: ac.signal });
    await reading.promise;
    ac.abort();
    expect((await failure(pending)).code).toBe('ABORTED');
    gate.resolve();
    await settle();
    expect(sends).toBe(1);
    expect(retries).toEqual([]);
    expect(corrections).toEqual([]);
    expect(client.clockOffset).toBe(0);
  });

  it('aborted while an expired-credential answer is read: no renewal is started for it', async () => {
    const gate = deferred();
    const reading = deferred();
    let issues = 0;
    const profile: Profile = {
      ...staticProfile,
      credentials: 'issued',
      storeKey: 'expired-abort',
      issue: async () => ({ value: 'c' + ++issues }),
      async open() {
        reading.resolve();
        await gate.promise;
        throw new RpcError('CREDENTIAL_EXPIRED', 'expired');
      },
    };
    const client = createClient({ profile, transport: { async send() { return { status: 200, headers: {}, body: '{}' }; } }, store: memoryStore() });
    const retries: unknown[] = [];
    client.events.on('retry', (d) => retries.push(d));
    const ac = new AbortController();
    const pending = client.call('/x', {}, { signal: ac.signal });
    await reading.promise;
    expect(issues).toBe(1);
    ac.abort();
    expect((await failure(pending)).code).toBe('ABORTED');
    gate.resolve();
    await settle(100);
    expect(retries).toEqual([]); // the renewal would be announced first
    expect(issues).toBe(1);
  });
});

describe('issuance', () => {
  it('an issuance whose transport ignores the signal ends at its timeout, and the next call issues again and succeeds', async () => {
    let issueRequests = 0;
    const adapter = ((url: string, init: RequestInit) => {
      if (url.endsWith('/issue') && ++issueRequests === 1) return new Promise(() => {}); // never answers, ignores the signal
      return Promise.resolve(new Response(String(init.body ?? '{}')));
    }) as unknown as typeof fetch;
    const issued = issuedProfile('hung-issue');
    const client = createClient({ profile: issued, transport: fetchTransport({ baseUrl: 'https://gw.test', fetch: adapter }), store: memoryStore(), timeoutMs: 50 });
    expect((await failure(client.call('/x', { a: '1' }))).code).toBe('TIMEOUT');
    await settle(60);
    await expect(client.call('/x', { a: '1' }, { timeoutMs: 2000 })).resolves.toEqual({ a: '1' });
    expect(issueRequests).toBe(2);
  });

  it('the clock offset from an issuance is serverTime minus the instant its answer arrived, not minus the end of the verification after it', async () => {
    const local = { now: 1_700_000_000_000 };
    const serverTime = local.now + 7_000;
    const issued = issuedProfile('issuance-clock', () => {
      local.now += 5_000; // a slow signature check and key derivation (the pure-JS path on an old phone), after the answer arrived
      return { value: 'c', serverTime };
    });
    const client = createClient({ profile: issued, transport: echo, store: memoryStore(), clock: { now: () => local.now } });
    await client.call('/x', {});
    expect(client.clockOffset).toBe(7_000);
  });

  it('modern: a bad idempotencyKey is refused as BAD_REQUEST before anything is sent, the issuance included', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore() });
    for (const idempotencyKey of ['', 'k'.repeat(129), 7 as unknown as string]) {
      const err = await failure(client.call('/echo', {}, { idempotencyKey }));
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.details).toEqual({ option: 'idempotencyKey' });
      expect(err.hint).toBe('Pass a short unique string per logical request, e.g. a UUID.');
    }
    expect(sent).toEqual([]);
    await expect(client.call('/echo', { a: '1' }, { idempotencyKey: 'k'.repeat(128) })).resolves.toEqual({ a: '1' });
  });
});

describe('storage-fallback names the store', () => {
  it('a custom store without `kind` that fails is reported as "custom", not as IndexedDB', async () => {
    const broken = { get: async () => { throw new DOMException('x', 'QuotaExceededError'); }, set: async () => {}, delete: async () => {} };
    const client = createClient({
      profile: { ...staticProfile, credentials: 'issued', storeKey: 'no-kind', issue: async () => ({ value: 'c' }) },
      transport: echo,
      store: broken as never,
    });
    const seen: { store: string }[] = [];
    client.events.on('storage-fallback', (d) => seen.push(d));
    await expect(client.call('/x', { a: '1' })).resolves.toEqual({ a: '1' });
    expect(seen.map((d) => d.store)).toEqual(['custom']);
  });
});

const MGS_APP = { appId: 'ONEX1234567890', workspaceId: 'default', secret: 'mGs-SeCrEt-value' };

describe('mgs: params as text (PROTOCOLS §3: the _requestBody string is sent as it is)', () => {
  it('client.call(op, string): the string is the _requestBody byte for byte, exact decimals kept; the gateway verifies its signature', async () => {
    const sent: WireRequest[] = [];
    const gateway = createGateway({ profile: mgsGateway({ apps: { [MGS_APP.appId]: MGS_APP.secret } }) }).operation('echo', (p) => p);
    const client = createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway, { sent }), store: memoryStore() });
    const text = '{"amount":12345678901234567891.5}';
    await expect(client.call('echo', text)).resolves.toEqual({ amount: 12345678901234567891.5 });
    expect(JSON.parse(sent[0].body!)).toEqual([{ _requestBody: text }]);
  });

  it('the mgs gateway with rawRequestBody hands the operation the _requestBody string as it came: exact decimals and a sealed payload, each signed and verified', async () => {
    const got: unknown[] = [];
    const gateway = createGateway({ profile: mgsGateway({ apps: { [MGS_APP.appId]: MGS_APP.secret }, rawRequestBody: true }) }).operation('take', (p) => (got.push(p), 'ok'));
    const client = createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway), store: memoryStore() });
    await client.call('take', '{"amount":12345678901234567891.5}');
    await client.call('take', 'U2FsdGVkX1+sealed==');
    await client.call('take', { a: '1' });
    expect(got).toEqual(['{"amount":12345678901234567891.5}', 'U2FsdGVkX1+sealed==', '{"a":"1"}']);
    // Without the option the gateway reads JSON, as before: a payload that is not JSON is 3002.
    const parsing = createGateway({ profile: mgsGateway({ apps: { [MGS_APP.appId]: MGS_APP.secret } }) }).operation('take', (p) => p);
    const e = await failure(createClient({ profile: mgs(MGS_APP), transport: inProcess(parsing), store: memoryStore() }).call('take', 'U2FsdGVkX1+sealed=='));
    expect(e.gatewayCode).toBe(3002);
  });

  it('a dialect without text params still refuses a string: BAD_REQUEST "params must be an object", nothing sent', async () => {
    let sends = 0;
    const client = createClient({ profile: staticProfile, transport: { async send() { sends++; return { status: 200, headers: {}, body: '{}' }; } }, store: memoryStore() });
    const err = await failure(client.call('/x', '{"a":1}' as never));
    expect([err.code, err.message]).toEqual(['BAD_REQUEST', 'params must be an object']);
    expect(sends).toBe(0);
  });

  it('the shim passes an mgs client the _requestBody as it is: a sealed (not JSON) payload and exact decimals both arrive unchanged', async () => {
    const bodies: string[] = [];
    const client = createClient({
      profile: mgs(MGS_APP),
      transport: { async send(req) { bodies.push(JSON.parse(req.body!)[0]._requestBody); return { status: 200, headers: { 'result-status': '1000', 'content-type': 'application/json' }, body: '{"ok":1}' }; } },
      store: memoryStore(),
    });
    const target: Record<string, any> = {};
    const shim = installRpcShim(client, { target });
    try {
      const call = (requestBody: string) => new Promise((r) => target.AlipayJSBridge.call('rpc', { operationType: 'op', requestData: [{ _requestBody: requestBody }] }, r));
      expect(await call('U2FsdGVkX1+sealed==')).toEqual({ ok: 1 });
      expect(await call('{"x":12345678901234567891.5}')).toEqual({ ok: 1 });
      expect(bodies).toEqual(['U2FsdGVkX1+sealed==', '{"x":12345678901234567891.5}']);
    } finally {
      shim.uninstall();
    }
  });
});

describe('installRpcShim', () => {
  it("another dialect's numeric gateway code is not passed off as a container code: sorted-sign's 1000 (no such app) reaches the page as 7000, not mgs success", async () => {
    const KEY = 'ZVNH8HUW5K3VQZKK';
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }) }).operation('/echo', (p) => p);
    const client = createClient({ profile: sortedSign({ appId: '2', appKey: KEY }), transport: inProcess(gateway), store: memoryStore() });
    const target: Record<string, any> = {};
    const shim = installRpcShim(client, { target });
    try {
      const got = await new Promise<any>((r) => target.AlipayJSBridge.call('rpc', { operationType: '/echo', requestData: [{ a: '1' }] }, r));
      expect(got).toEqual({ error: 7000, errorMessage: 'the gateway does not know this appId' });
    } finally {
      shim.uninstall();
    }
  });

  it("an mgs client's result codes still reach the page as they are (6001 stays 6001)", async () => {
    const client = { profile: { name: 'mgs' }, call: () => Promise.reject(new RpcError('GATEWAY', 'mgs 6001 business', { gatewayCode: 6001 })) };
    const target: Record<string, any> = {};
    const shim = installRpcShim(client, { target });
    try {
      const got = await new Promise<any>((r) => target.AlipayJSBridge.call('rpc', { operationType: 'x', requestData: [{}] }, r));
      expect(got.error).toBe(6001);
    } finally {
      shim.uninstall();
    }
  });

  it('a document without dispatchEvent or a target that is not an object: BAD_CONFIG naming the option, and no AlipayJSBridge left installed', () => {
    const target: Record<string, any> = {};
    const byDocument = thrown(() => installRpcShim({ call: async () => 1 }, { target, document: {} as never }));
    expect([byDocument instanceof RpcError, byDocument?.code, byDocument?.details]).toEqual([true, 'BAD_CONFIG', { option: 'document' }]);
    expect(target.AlipayJSBridge).toBeUndefined();
    const byTarget = thrown(() => installRpcShim({ call: async () => 1 }, { target: 5 as never }));
    expect([byTarget?.code, byTarget?.details]).toEqual(['BAD_CONFIG', { option: 'target' }]);
  });
});

describe('sorted-sign with a lossless parseJson (PROTOCOLS "Numbers in responses")', () => {
  const KEY = 'ZVNH8HUW5K3VQZKK';

  it('answers whose code and timestamp are lossless numbers are read: data returned exact, 1003 corrects the clock, 1000 is KEY_NOT_SET', async () => {
    const T = 1_700_000_000_000;
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }), now: () => T + 60_000 }).operation('/big', () => ({ n: 12345678901234567891 }));
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: KEY }), transport: inProcess(gateway), store: memoryStore(), parseJson: losslessParse, clock: { now: () => T } });
    const data = (await client.call('/big', {})) as { n: LosslessNumber };
    expect(data.n).toBeInstanceOf(LosslessNumber);
    expect(String(data.n)).toBe('12345678901234567000'); // as the gateway's JSON.stringify wrote it, digit for digit
    expect(client.clockOffset).toBeGreaterThan(59_000);
    const stranger = createClient({ profile: sortedSign({ appId: 2, appKey: KEY, parseJson: losslessParse }), transport: inProcess(gateway), store: memoryStore() });
    expect((await failure(stranger.call('/big', {}))).code).toBe('KEY_NOT_SET');
  });

  it('a code that is an array ([0], which prints as "0") is no code: RESPONSE_UNREADABLE, the data not returned', async () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }) }).operation('/echo', (p) => p);
    const arrayCode = (t: string) => {
      const o = JSON.parse(t);
      o.code = [o.code];
      return o;
    };
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: KEY, parseJson: arrayCode }), transport: inProcess(gateway), store: memoryStore() });
    expect((await failure(client.call('/echo', { a: '1' }))).code).toBe('RESPONSE_UNREADABLE');
  });
});

describe('modern serverKeys', () => {
  it("a pin holding the gateway's private key (a JWK with d, or a PRIVATE KEY PEM) is refused as BAD_CONFIG naming the kid, the key not repeated", async () => {
    const { pem, serverKeys } = await modernGateway();
    const d = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
    for (const pin of [{ ...serverKeys.k1, d }, pem]) {
      const err = thrown(() => modern({ serverKeys: { k1: pin } }));
      expect([err?.code, err?.details]).toEqual(['BAD_CONFIG', { option: 'serverKeys.k1' }]);
      expect(err?.message).toMatch(/private key.*pin the public key only/);
      expect(err?.message).not.toContain(d);
      expect(err?.message).not.toContain(pem.split('\n')[1]);
    }
  });
});

describe('config mistakes fail at creation, naming the option', () => {

  it('createClient with an option it does not read (a typo such as timeout for timeoutMs) is BAD_CONFIG naming it, not ignored', () => {
    for (const typo of ['timeout', 'stroe', 'maxClockCorrection']) {
      const err = thrown(() => createClient({ profile: staticProfile, transport: echo, store: memoryStore(), [typo]: 1000 } as never));
      expect([err?.code, err?.details]).toEqual(['BAD_CONFIG', { option: typo }]);
      expect(err?.message).toContain('timeoutMs');
    }
  });

  it('indexedDbStore: openTimeoutMs NaN, 0 or past the timer range, an empty dbName or storeName, or options that are no object: BAD_CONFIG naming it', () => {
    const cases: [unknown, string][] = [
      [{ openTimeoutMs: NaN }, 'openTimeoutMs'],
      [{ openTimeoutMs: 0 }, 'openTimeoutMs'],
      [{ openTimeoutMs: 2 ** 31 }, 'openTimeoutMs'],
      [{ dbName: '' }, 'dbName'],
      [{ storeName: 7 }, 'storeName'],
      [null, 'indexedDbStore'],
    ];
    for (const [options, option] of cases) {
      const err = thrown(() => indexedDbStore(options as never));
      expect([err?.code, err?.details], JSON.stringify(options)).toEqual(['BAD_CONFIG', { option }]);
    }
    expect(indexedDbStore({ openTimeoutMs: 1, dbName: 'x', storeName: 'y' }).kind).toBe('indexeddb');
  });
});
