/**
 * A re-read of the fifth review's own changes: a custom fetch that follows redirects anyway, a
 * Node-stream redirect body, `issued` after clear(), and pins for mutations the first tests of
 * those changes let through (timeout rounding, container codes 5–9, purged stored bytes, the
 * last instant of a sorted-sign ahead record).
 */
import { describe, expect, it } from 'vitest';
import { createClient, memoryStore, modern, type RpcError, type WireResponse } from '../../src/index.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { inProcess } from '../helpers/in-process.js';
import { modernGateway } from '../helpers/servers.js';

const req = { path: '/op', method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'sealed', operationType: '/op' } as const;

describe('fetchTransport: a redirect is never taken for the gateway answer', () => {
  it("refuses an answer a custom fetch got by following a redirect despite redirect: 'manual' (res.redirected), as HTTP_STATUS", async () => {
    // A polyfill on XHR (whatwg-fetch, a mini-program adapter) follows redirects whatever `redirect` says.
    const following = (async () => ({
      status: 200,
      ok: true,
      type: 'basic',
      redirected: true,
      url: 'https://elsewhere.example/moved',
      headers: new Headers({ 'content-type': 'application/json' }),
      body: null,
      text: async () => '{"code":0,"data":"from elsewhere"}',
    })) as unknown as typeof fetch;
    const t = fetchTransport({ baseUrl: 'https://gw.example', fetch: following });
    const e = await t.send(req, { timeoutMs: 5_000 }).then(
      (r: WireResponse) => `opened as the gateway's answer: ${r.body}`,
      (x: RpcError) => x.code,
    );
    expect(e).toBe('HTTP_STATUS');
  });

  it('releases a 3xx body that is a Node stream (node-fetch 2: no cancel, destroy) as readBounded does', async () => {
    let destroyed = false;
    const nodeStream = {
      destroy: () => {
        destroyed = true;
      },
      async *[Symbol.asyncIterator]() {
        yield new TextEncoder().encode('<html>moved</html>');
      },
    };
    const nodeFetch = (async () => ({
      status: 302,
      ok: false,
      redirected: false,
      headers: new Headers({ location: 'https://elsewhere.example/' }),
      body: nodeStream,
    })) as unknown as typeof fetch;
    const t = fetchTransport({ baseUrl: 'https://gw.example', fetch: nodeFetch });
    await expect(t.send(req, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 302 });
    expect(destroyed).toBe(true);
  });
});

describe("events: 'issued' is the first credential after credentials.clear()", () => {
  it("a call in flight across clear() whose credential the gateway refuses gets a credential emitted as 'issued' (the key held none), not 'renewed'", async () => {
    const { gateway, serverKeys } = await modernGateway();
    let beforeSend: (() => Promise<void>) | undefined;
    const inner = inProcess(gateway);
    const client = createClient({
      profile: modern({ serverKeys }),
      transport: {
        async send(r, o) {
          const hook = beforeSend;
          beforeSend = undefined;
          await hook?.();
          return inner.send(r, o);
        },
      },
      store: memoryStore(),
    });
    const events: string[] = [];
    client.events.on('issued', () => events.push('issued'));
    client.events.on('renewed', () => events.push('renewed'));
    await client.call('/echo', { n: '1' });
    expect(events).toEqual(['issued']);
    // Logout: the gateway drops its credentials and the app clears the client's, while a call is on its way.
    beforeSend = async () => {
      gateway.expireCredentials();
      await client.credentials!.clear();
    };
    await expect(client.call('/echo', { n: '2' })).resolves.toEqual({ n: '2' });
    expect(events).toEqual(['issued', 'issued']);
  });
});

describe('pins for the fifth review\'s changes', () => {
  it('jsBridgeTransport rounds the call timeout UP to whole seconds, at least 1 (1500 ms -> 2, 200 ms -> 1), as the README says', async () => {
    const { jsBridgeTransport } = await import('../../src/transport/jsbridge.js');
    const { mgs } = await import('../../src/profiles/mgs.js');
    const g = globalThis as unknown as { AlipayJSBridge?: unknown };
    const calls: Record<string, unknown>[] = [];
    g.AlipayJSBridge = {
      call(_api: string, options: Record<string, unknown>, cb: (d: unknown) => void) {
        calls.push(JSON.parse(JSON.stringify(options)));
        setTimeout(() => cb({ header: { 'Result-Status': '1000' }, resData: { ok: true } }), 1);
      },
    };
    try {
      const client = createClient({ profile: mgs({ appId: 'APP1', workspaceId: 'default', secret: 's' }), transport: jsBridgeTransport(), store: memoryStore() });
      await client.call('MYAPI', {}, { timeoutMs: 1500 });
      await client.call('MYAPI', {}, { timeoutMs: 200 });
      expect(calls.map((c) => c.timeout)).toEqual([2, 1]);
    } finally {
      delete g.AlipayJSBridge;
    }
  });

  it('every container code below 10 (here 6) is the container\'s own JSAPI failure, not an mgs result code', async () => {
    const { bridgeResponse } = await import('../../src/transport/jsbridge.js');
    let err: RpcError | undefined;
    try {
      bridgeResponse({ error: 6, errorMessage: 'x' });
    } catch (e) {
      err = e as RpcError;
    }
    expect(err?.message).toMatch(/container's rpc JSAPI failed \(error 6\)/);
  });

  it('modern: a purged stored result gives back the UTF-8 bytes it was counted with (storedBytes returns to the live records only)', async () => {
    let now = 1_800_000_000_000;
    const { gateway, serverKeys } = await modernGateway({ now: () => now });
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway), store: memoryStore(), clock: { now: () => now } });
    await client.call('/echo', { v: '€'.repeat(1000) });
    expect(gateway.stats().caches.storedBytes).toBeGreaterThan(3000);
    now += 700_000; // past the record's 2 × window (default 300 s)
    await client.call('/echo', { v: 'a' });
    expect(gateway.stats().caches.storedBytes).toBeLessThan(200);
  });

  it('sorted-sign: a copy of a request refused 1003 as ahead is still 1004 at the last instant of its window (timestamp + windowMs)', async () => {
    const { sortedSign } = await import('../../src/index.js');
    const { createGateway } = await import('../../src/server/gateway.js');
    const { sortedSign: gw } = await import('../../src/server/sorted-sign.js');
    const { toRequest } = await import('../helpers/in-process.js');
    const KEY = 'ZVNH8HUW5K3VQZKK';
    const clock = { server: 1_800_000_000_000 };
    let runs = 0;
    const gateway = createGateway({ profile: gw({ apps: { '1': KEY } }), now: () => clock.server }).operation('/api/pay', () => (runs++, { ok: true }));
    const sent: import('../../src/index.js').WireRequest[] = [];
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: KEY, method: 'POST' }), transport: inProcess(gateway, { sent }), store: memoryStore(), clock: { now: () => clock.server + 60_000 } });
    await client.call('/api/pay', {});
    expect(runs).toBe(1);
    clock.server = 1_800_000_000_000 + 60_000 + 5_000; // the first send's timestamp + windowMs: its last acceptable instant
    await gateway.handle(toRequest(sent[0]!));
    expect(runs).toBe(1);
    expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(1);
  });
});
