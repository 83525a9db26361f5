/** createClient: config errors name the option; abort, timeout and onError behave. */
import { describe, expect, it, vi } from 'vitest';
import { createClient, fetchTransport, memoryStore, modern, RpcError, sortedSign, type Profile, type Transport } from '../../src/index.js';
import { echo, issuedProfile, staticProfile, thrown } from '../helpers/client-doubles.js';
import { failure, modernGateway, signingKey } from '../helpers/servers.js';
import { inProcess } from '../helpers/in-process.js';
import type { WireRequest } from '../../src/types.js';

describe('createClient config errors name the option', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['profile missing', { transport: echo }, 'profile'],
    ['transport missing', { profile: staticProfile }, 'transport'],
    ['store without get/set', { profile: staticProfile, transport: echo, store: {} }, 'store'],
    ['credentials (alias of store) without get/set', { profile: staticProfile, transport: echo, credentials: { get: 1 } }, 'credentials'],
    ['clock without now', { profile: staticProfile, transport: echo, clock: {} }, 'clock'],
    ['negative timeoutMs', { profile: staticProfile, transport: echo, timeoutMs: -1 }, 'timeoutMs'],
    ['timeoutMs beyond what a timer can wait (2^31 ms)', { profile: staticProfile, transport: echo, timeoutMs: 2 ** 31 }, 'timeoutMs'],
    ['a profile whose maxClockCorrectionMs is not a finite number', { profile: { ...staticProfile, maxClockCorrectionMs: Infinity }, transport: echo }, 'profile'],
    ['onError not a function', { profile: staticProfile, transport: echo, onError: 'toast' }, 'onError'],
    ['storeKey not a string', { profile: staticProfile, transport: echo, storeKey: 5 }, 'storeKey'],
    ['storeKey empty', { profile: staticProfile, transport: echo, storeKey: '' }, 'storeKey'],
    ["a custom profile whose credentials is neither 'issued' nor 'static'", { profile: { ...staticProfile, credentials: 'issue' }, transport: echo }, 'profile'],
  ];
  for (const [label, opts, option] of cases) {
    it(`${label} -> BAD_CONFIG naming ${option}`, () => {
      let err: unknown;
      try {
        createClient(opts as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe('BAD_CONFIG');
      expect((err as RpcError).message).toContain(option);
      expect((err as RpcError).details?.option).toBe(option);
    });
  }
  it('modern without serverKeys, or with a bad key, fails at construction naming serverKeys', () => {
    expect(() => modern({} as never)).toThrow(/serverKeys/);
    expect(() => modern({ serverKeys: { k1: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } } })).toThrow(/serverKeys\.k1/);
    expect(() => modern({ serverKeys: { 'bad kid!': 'x' } })).toThrow(/serverKeys/);
  });
  it('fetchTransport without baseUrl -> BAD_CONFIG naming baseUrl', () => {
    expect(() => fetchTransport({} as never)).toThrow(/baseUrl/);
  });
  it('fetchTransport with a fetch that is not a function, or headers that are not strings -> BAD_CONFIG naming fetch / headers', () => {
    const option = (f: () => unknown) => {
      const e = thrown(f);
      return e ? [e.code, e.details?.option] : 'no error';
    };
    expect(option(() => fetchTransport({ baseUrl: '/gw', fetch: 'nope' as never }))).toEqual(['BAD_CONFIG', 'fetch']);
    expect(option(() => fetchTransport({ baseUrl: '/gw', headers: 5 as never }))).toEqual(['BAD_CONFIG', 'headers']);
    expect(option(() => fetchTransport({ baseUrl: '/gw', headers: { 'x-n': 1 } as never }))).toEqual(['BAD_CONFIG', 'headers']);
    expect(option(() => fetchTransport({ baseUrl: '/gw', headers: { 'x-n': '1' }, fetch: globalThis.fetch }))).toBe('no error');
  });
  it('fetchTransport with a credentials mode fetch does not know, or a header name or value fetch refuses -> BAD_CONFIG naming credentials / headers, without the value', () => {
    expect(thrown(() => fetchTransport({ baseUrl: '/gw', credentials: 'same_origin' as never }))).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'credentials' } });
    expect(thrown(() => fetchTransport({ baseUrl: '/gw', headers: { 'bad name': 'x' } }))).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'headers' } });
    const split = thrown(() => fetchTransport({ baseUrl: '/gw', headers: { authorization: 'Bearer s3cret-token\r\nx-injected: 1' } }));
    expect(split).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'headers' } });
    expect(JSON.stringify(split) + String(split)).not.toContain('s3cret-token');
    for (const mode of ['omit', 'same-origin', 'include'] as const) expect(thrown(() => fetchTransport({ baseUrl: '/gw', credentials: mode }))).toBeUndefined();
  });
  it('modern and sortedSign refuse non-finite numbers (maxClockCorrectionMs, appId, windowMs) at construction, naming the option', async () => {
    const serverKeys = { k1: (await signingKey()).jwk };
    for (const bad of [Infinity, true, '9', 0]) expect(() => modern({ serverKeys, maxClockCorrectionMs: bad as never })).toThrow(/maxClockCorrectionMs/);
    expect(() => modern({ serverKeys, maxClockCorrectionMs: 60_000 })).not.toThrow();
    expect(() => sortedSign({ appId: NaN, appKey: 'aPpKeY-16-chars!' })).toThrow(/appId/);
    expect(() => sortedSign({ appId: 7, appKey: 'aPpKeY-16-chars!', windowMs: Infinity })).toThrow(/windowMs/);
    expect(() => sortedSign({ appId: 7, appKey: 'aPpKeY-16-chars!', windowMs: 5000 })).not.toThrow();
  });
});

describe("an app's own clock and random are checked where they are read", () => {
  it('a clock whose now() gives a Date, NaN or a string: the call is BAD_CONFIG naming clock, and no call is sent (no NaN timestamp on the wire; at most the issuance, whose answer is the first clock read)', async () => {
    const { gateway, serverKeys } = await modernGateway();
    for (const bad of [new Date(), NaN, '1800000000000']) {
      const sent: WireRequest[] = [];
      const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => bad as number } });
      const e = await failure(client.call('/echo', { a: '1' }));
      expect([e.code, e.details], String(bad)).toEqual(['BAD_CONFIG', { option: 'clock' }]);
      expect(sent.filter((r) => r.path !== '/issue')).toEqual([]);
    }
  });

  it('a random that gives fewer bytes than asked, or an Array: the call is BAD_CONFIG naming random before the call is sent (no short nonce on the wire); a right one works', async () => {
    const { gateway, serverKeys } = await modernGateway();
    for (const bad of [(n: number) => new Uint8Array(n - 1), (n: number) => Array.from({ length: n }, () => 7)]) {
      const sent: WireRequest[] = [];
      const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, { sent }), store: memoryStore(), random: bad as never });
      const e = await failure(client.call('/echo', { a: '1' }));
      expect([e.code, e.details]).toEqual(['BAD_CONFIG', { option: 'random' }]);
      expect(sent.map((r) => r.path)).toEqual(['/issue']); // (the ephemeral key pair comes from WebCrypto's own random)
    }
    const good = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore(), random: (n) => crypto.getRandomValues(new Uint8Array(n)), clock: { now: () => Date.now() } });
    expect(await good.call('/echo', { a: '1' })).toEqual({ a: '1' });
  });
});

describe('call policy', () => {
  it('an AbortSignal aborts the call with ABORTED, and onError sees the same error once', async () => {
    const onError = vi.fn();
    const slow: Transport = {
      send: (_r, { signal }) =>
        new Promise((_res, rej) => signal?.addEventListener('abort', () => rej(signal.reason))),
    };
    const client = createClient({ profile: staticProfile, transport: slow, store: memoryStore(), onError });
    const ac = new AbortController();
    const p = client.call('/x', {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const err = await failure(p);
    expect(err.code).toBe('ABORTED');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledWith(err);
  });

  it('an abort while issuance is pending ends the call with ABORTED, and the call is never sealed or sent once the credential arrives', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sent: string[] = [];
    const seal = vi.fn(staticProfile.seal);
    const issued: Profile = {
      ...staticProfile,
      credentials: 'issued',
      storeKey: 'abort-during-issue',
      seal,
      async issue(ctx) {
        await gate;
        await ctx.send({ path: '/issue', method: 'POST', headers: {}, body: '{}', operationType: 'issue' });
        return { value: 'cred', expiresAt: Date.now() + 60_000 };
      },
    };
    const recording: Transport = {
      async send(req) {
        sent.push(req.path);
        return { status: 200, headers: {}, body: req.body ?? '{}' };
      },
    };
    const client = createClient({ profile: issued, transport: recording, store: memoryStore() });
    const ac = new AbortController();
    const p = client.call('/x', { a: '1' }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    const err = await failure(p);
    expect(err.code).toBe('ABORTED');
    release();
    await vi.waitFor(() => expect(client.credentials!.peek()?.value).toBe('cred'));
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toEqual(['/issue']); // the issuance went out; the aborted call did not
    expect(seal).not.toHaveBeenCalled();
  });

  it('timeoutMs ends a call that hangs with TIMEOUT (retryable)', async () => {
    const hang: Transport = { send: (_r, { signal }) => new Promise((_res, rej) => signal?.addEventListener('abort', () => rej(signal.reason))) };
    const client = createClient({ profile: staticProfile, transport: hang, store: memoryStore() });
    const err = await failure(client.call('/x', {}, { timeoutMs: 50 }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
  });

  it('bad call options (not an object, a signal that is not an AbortSignal, a timeoutMs of 0, NaN, Infinity or 2^31) are BAD_REQUEST before anything is sent, seen once by onError, with no timer left armed', async () => {
    vi.useFakeTimers();
    try {
      const onError = vi.fn();
      const send = vi.fn(echo.send);
      const client = createClient({ profile: staticProfile, transport: { send }, store: memoryStore(), onError });
      const bad: [unknown, string][] = [[null, 'options'], ['fast', 'options'], [{ signal: {} }, 'signal'], [{ signal: 'abort' }, 'signal'], [{ timeoutMs: 0 }, 'timeoutMs'], [{ timeoutMs: NaN }, 'timeoutMs'], [{ timeoutMs: Infinity }, 'timeoutMs'], [{ timeoutMs: 2 ** 31 }, 'timeoutMs'], [{ timeoutMs: '50' }, 'timeoutMs']];
      for (const [o, option] of bad) {
        const err = await failure(client.call('/x', {}, o as never));
        expect(err.code, JSON.stringify(o)).toBe('BAD_REQUEST');
        expect(err.details?.option).toBe(option);
        expect(err.message).toContain(`call ${option}:`);
        expect(err.hint).not.toBe('');
      }
      expect(onError).toHaveBeenCalledTimes(bad.length);
      expect(send).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(0);
      // The largest delay a timer can wait is accepted, and its timer is cleared when the call ends.
      await expect(client.call('/x', { a: '1' }, { timeoutMs: 2 ** 31 - 1 })).resolves.toEqual({ a: '1' });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an issuance that outlasts the client timeoutMs ends its calls with TIMEOUT (retryable), not ABORTED, even for a call with a longer timeout of its own', async () => {
    const hangingIssue = issuedProfile('issue-timeout', () => ({ value: 'never' }));
    const hang: Transport = { send: (_r, { signal }) => new Promise((_res, rej) => signal?.addEventListener('abort', () => rej(signal.reason))) };
    const client = createClient({ profile: hangingIssue, transport: hang, store: memoryStore(), timeoutMs: 60 });
    const err = await failure(client.call('/x', {}, { timeoutMs: 5_000 }));
    expect(err.code).toBe('TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/issuance took longer than 60 ms/);
  });

  it("JSON.stringify and Node's inspector show a client's credential as version and expiry only, never its value (raw key bytes included)", async () => {
    const { inspect } = await import('node:util');
    const key = new Uint8Array(32).map((_, i) => 200 - i);
    const issuedBytes: Profile = { ...staticProfile, credentials: 'issued', storeKey: 'redacted', issue: async () => ({ value: { appId: 'a1', key }, expiresAt: 4_102_444_800_000 }) };
    const client = createClient({ profile: issuedBytes, transport: echo, store: memoryStore() });
    await client.call('/x', { a: '1' });
    expect(client.credentials!.peek()!.value).toEqual({ appId: 'a1', key }); // it is there...
    const views = [JSON.stringify(client), inspect(client, { depth: 10 }), JSON.stringify(client.credentials), inspect(client.credentials, { depth: 10 })];
    const bytesAsText = [[...key].join(','), [...key].join(', '), Buffer.from(key).toString('hex'), Buffer.from(key).toString('base64')];
    for (const view of views) {
      for (const form of bytesAsText) expect(view).not.toContain(form); // ...and none of these views shows it
      expect(view).toContain('[redacted]');
      expect(view).toContain('4102444800000');
    }
  });

  it('a network failure is NETWORK with a hint, over real fetch to a closed port on 127.0.0.1', async () => {
    const client = createClient({ profile: staticProfile, transport: fetchTransport({ baseUrl: 'http://127.0.0.1:9' }), store: memoryStore() });
    const err = await failure(client.call('/x', {}));
    expect(err.code).toBe('NETWORK');
    expect(err.hint).toMatch(/network|connectivity/i);
  });

  it('a profile that throws a non-RpcError while opening is surfaced as RESPONSE_UNREADABLE, not a raw exception', async () => {
    const broken: Profile = { ...staticProfile, open: async () => JSON.parse('{not json') };
    const client = createClient({ profile: broken, transport: echo, store: memoryStore() });
    const err = await failure(client.call('/x', {}));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('RESPONSE_UNREADABLE');
  });

  it('RpcError serializes only its public fields (no cause) and prints its code', () => {
    const e = new RpcError('GATEWAY', 'boom', { gatewayCode: 'E1', cause: new Error('internal detail') });
    expect(String(e)).toBe('RpcError [GATEWAY]: boom');
    expect(JSON.parse(JSON.stringify(e))).toEqual({ name: 'RpcError', code: 'GATEWAY', message: 'boom', hint: e.hint, gatewayCode: 'E1', retryable: false });
  });
});

describe('clock correction reference instant', () => {
  // A scripted clock: the transport's round trip takes exactly 200 ms of local time.
  function run(reference: 'receive' | 'midpoint' | undefined) {
    let t = 1_000_000;
    let sends = 0;
    const profile: Profile = {
      ...staticProfile,
      ...(reference ? { clockReference: reference } : {}),
      async open(res) {
        if (res.body === 'skew') throw new RpcError('CLOCK_SKEW', 'off', { serverTime: 2_000_000 });
        return 'ok';
      },
    };
    const transport: Transport = {
      async send() {
        t += 200;
        return { status: 200, headers: {}, body: sends++ === 0 ? 'skew' : 'fine' };
      },
    };
    const client = createClient({ profile, transport, store: memoryStore(), clock: { now: () => t } });
    return client.call('/x', {}).then(() => client.clockOffset);
  }
  it("default ('receive', modern's rule): offset = serverTime − local receive time", async () => {
    expect(await run(undefined)).toBe(2_000_000 - 1_000_200);
  });
  it("'midpoint' (sorted-sign's rule): offset = serverTime − the round trip's local midpoint", async () => {
    expect(await run('midpoint')).toBe(2_000_000 - 1_000_100);
  });
});

describe('fetchTransport request headers', () => {
  it("the profile's headers win over the headers option whatever their case: one value each, never two joined; a custom fetch gets them as a plain object", async () => {
    let seen: Headers | undefined;
    let given: unknown;
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      given = init.headers;
      seen = new Headers(init.headers);
      return new Response('{}', { status: 200 });
    }) as unknown as typeof fetch;
    const t = fetchTransport({ baseUrl: 'https://gw.example.com', fetch: fakeFetch, headers: { 'Content-Type': 'text/plain', 'X-Op': 'spoof', 'X-Extra': 'kept' } });
    await t.send({ path: '/a', method: 'POST', headers: { 'content-type': 'application/json', 'x-op': '/a' }, body: '{}', operationType: '/a' }, {});
    expect(seen?.get('content-type')).toBe('application/json');
    expect(seen?.get('x-op')).toBe('/a');
    expect(seen?.get('x-extra')).toBe('kept');
    // XHR or mini-program adapters read init.headers as an object: lower-case names, one value each.
    expect(given).toEqual({ 'content-type': 'application/json', 'x-op': '/a', 'x-extra': 'kept' });
  });
});

describe('fetchTransport response bound', () => {
  it('a response larger than maxResponseBytes is RESPONSE_UNREADABLE, whether declared or streamed; one within it is read whole', async () => {
    const { listen } = await import('../helpers/servers.js');
    const srv = await listen((req, res) => {
      const big = 'x'.repeat(300_000);
      if (req.url === '/declared') {
        res.setHeader('content-length', String(big.length));
        res.end(big);
      } else {
        // Chunked, no length: the bound is enforced while reading.
        res.write(big.slice(0, 150_000));
        setTimeout(() => res.end(big.slice(150_000)), 10);
      }
    });
    try {
      const t = fetchTransport({ baseUrl: srv.url, maxResponseBytes: 200_000 });
      for (const path of ['/declared', '/streamed']) {
        const err = await failure(t.send({ path, method: 'GET', headers: {}, operationType: path }, {}));
        expect(err.code).toBe('RESPONSE_UNREADABLE');
        expect(err.message).toContain('maxResponseBytes');
      }
      const ok = await fetchTransport({ baseUrl: srv.url, maxResponseBytes: 400_000 }).send({ path: '/streamed', method: 'GET', headers: {}, operationType: '/s' }, {});
      expect(ok.body.length).toBe(300_000);
      expect(() => fetchTransport({ baseUrl: srv.url, maxResponseBytes: 0 })).toThrow(/maxResponseBytes/);
    } finally {
      await srv.close();
    }
  });
});

describe('client events', () => {
  it('listeners added with on() or addEventListener receive events; removed ones do not; a client nobody listens to dispatches nothing', async () => {
    const client = createClient({ profile: staticProfile, transport: echo, store: memoryStore() });
    const dispatch = vi.spyOn(client.events, 'dispatchEvent');
    await client.call('/x', { a: '1' });
    expect(dispatch).not.toHaveBeenCalled();
    const viaOn: string[] = [];
    const viaAdd: string[] = [];
    const off = client.events.on('stage', (d) => viaOn.push(d.stage));
    await client.call('/x', { a: '2' });
    expect(viaOn).toEqual(['params', 'sealed', 'response', 'opened']);
    // Once its last on()-listener is removed, the type is quiet again: nothing is dispatched.
    off();
    off(); // a second unsubscribe changes nothing
    dispatch.mockClear();
    await client.call('/x', { a: '3' });
    expect(dispatch).not.toHaveBeenCalled();
    expect(viaOn).toHaveLength(4);
    // A raw addEventListener (capture, once, signal are not tracked) marks the type as listened to for good.
    const listener = (e: Event) => viaAdd.push((e as CustomEvent<{ stage: string }>).detail.stage);
    client.events.addEventListener('stage', listener);
    await client.call('/x', { a: '4' });
    expect(viaAdd).toEqual(['params', 'sealed', 'response', 'opened']);
    client.events.removeEventListener('stage', listener);
    dispatch.mockClear();
    await client.call('/x', { a: '5' });
    expect(dispatch).toHaveBeenCalled(); // still dispatched (the safe over-approximation)...
    expect(viaAdd).toHaveLength(4); // ...but the removed listener hears nothing
    expect(viaOn).toHaveLength(4);
  });
});
