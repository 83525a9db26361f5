/**
 * The foundation, end to end: a real gateway on 127.0.0.1, the client through the public
 * API (src/index.ts), real fetch. Each test asserts behaviour and bytes, not mocks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, fetchTransport, memoryStore, modern, RpcError, indexedDbStore, type Client, type WireResponse } from '../../src/index.js';
import { failure, modernGateway, serveGateway, type Running } from '../helpers/servers.js';

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function setup(gwOptions: Parameters<typeof modernGateway>[0] = {}) {
  const g = await modernGateway(gwOptions);
  const srv = await serveGateway(g.gateway);
  running.push(srv);
  return { ...g, url: srv.url };
}

describe('modern over real HTTP on 127.0.0.1', () => {
  it('round-trips Chinese text and emoji', async () => {
    const { url, serverKeys } = await setup();
    const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    const params = { text: '你好，世界 — héllo 🌏👍🏽 "quoted" \\ \n tab\t', a: '1' };
    expect(await client.call('/echo', params)).toEqual(params);
  });

  it('round-trips a 256 KB body', async () => {
    const { url, serverKeys } = await setup();
    const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    const big = 'abcdefghij你好🌏'.repeat(Math.ceil((256 * 1024) / 17)).slice(0, 256 * 1024);
    const out = await client.call<{ big: string }>('/echo', { big });
    expect(out.big.length).toBe(big.length);
    expect(out.big).toBe(big);
  });

  it('200 concurrent calls just after the gateway expired the credential: exactly 1 issuance, all 200 succeed', async () => {
    const { url, serverKeys, gateway } = await setup();
    const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    await client.call('/echo', { warm: 'up' });
    expect(gateway.stats().issuances).toBe(1);
    gateway.expireCredentials();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call<{ i: string }>('/echo', { i: String(i) })));
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(gateway.stats().issuances).toBe(2); // the first one, plus exactly one renewal
    expect(gateway.stats().rejections.CREDENTIAL_EXPIRED).toBe(200);
  });

  /** The clock corrections and retry causes a client reports, as they happen. */
  function watchClock(client: Client) {
    const corrections: number[] = [];
    const retries: string[] = [];
    client.events.on('clock-corrected', (e) => corrections.push(e.offsetMs));
    client.events.on('retry', (e) => retries.push(e.cause));
    return { corrections, retries };
  }

  for (const [label, skew] of [
    ['10 minutes ahead', 10 * 60_000],
    ['10 minutes behind', -10 * 60_000],
  ] as const) {
    it(`client clock ${label}, first contact: issuance's signed server time corrects it once, no resend`, async () => {
      const { url, serverKeys, gateway } = await setup();
      const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore(), clock: { now: () => Date.now() + skew } });
      const { corrections, retries } = watchClock(client);
      expect(await client.call('/echo', { x: '1' })).toEqual({ x: '1' });
      expect(corrections).toHaveLength(1);
      expect(Math.abs(corrections[0] + skew)).toBeLessThan(5_000);
      expect(retries).toEqual([]);
      expect(gateway.stats().rejections.CLOCK_SKEW ?? 0).toBe(0);
    });

    it(`client clock ${label} with a stored credential: one sealed CLOCK_SKEW, exactly one correction, one resend, success`, async () => {
      const { url, serverKeys, gateway } = await setup();
      const store = memoryStore();
      const storeKey = 'shared';
      // Credential issued while the device clock was right...
      await createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store, storeKey }).call('/echo', { x: '0' });
      // ...then the clock moves by ten minutes.
      const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store, storeKey, clock: { now: () => Date.now() + skew } });
      const { corrections, retries } = watchClock(client);
      expect(await client.call('/echo', { x: '2' })).toEqual({ x: '2' });
      expect(corrections).toHaveLength(1);
      expect(Math.abs(corrections[0] + skew)).toBeLessThan(5_000);
      expect(retries).toEqual(['CLOCK_SKEW']);
      expect(gateway.stats().rejections.CLOCK_SKEW).toBe(1);
      expect(gateway.stats().issuances).toBe(1);
      expect(gateway.stats().executions).toBe(2);
      // Corrected for good: the next call needs no correction.
      await client.call('/echo', { x: '3' });
      expect(corrections).toHaveLength(1);
    });
  }

  it('a flipped byte anywhere in a response body gives RESPONSE_TAMPERED, never data', async () => {
    const { url, serverKeys } = await setup();
    let flipAt = -1;
    const base = fetchTransport({ baseUrl: url });
    const client = createClient({
      profile: modern({ serverKeys }),
      store: memoryStore(),
      transport: {
        async send(req, o) {
          const res = await base.send(req, o);
          if (flipAt < 0 || req.path === '/issue') return res;
          const chars = [...res.body];
          const i = flipAt % chars.length;
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
          chars[i] = alphabet[(alphabet.indexOf(chars[i]) + 1) % 64];
          return { ...res, body: chars.join('') };
        },
      },
    });
    const events: string[] = [];
    client.events.on('stage', (e) => {
      if (e.stage === 'response') events.push((e.data as WireResponse).body);
    });
    expect(await client.call('/echo', { v: 'ok' })).toEqual({ v: 'ok' });
    const length = events.at(-1)!.length;
    expect(length).toBeGreaterThan(40);
    // Every character position of a real sealed body, one at a time.
    let tried = 0;
    for (flipAt = 0; flipAt < length; flipAt++) {
      const err = await failure(client.call('/echo', { v: 'ok' }));
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe('RESPONSE_TAMPERED');
      tried++;
    }
    expect(tried).toBe(length);
  });

  it('a response replayed onto another request gives RESPONSE_TAMPERED, never data', async () => {
    const { url, serverKeys } = await setup();
    const base = fetchTransport({ baseUrl: url });
    let captured: WireResponse | undefined;
    let replay = false;
    const client = createClient({
      profile: modern({ serverKeys }),
      store: memoryStore(),
      transport: {
        async send(req, o) {
          const res = await base.send(req, o);
          if (req.path === '/issue') return res;
          if (replay && captured) return captured;
          captured = res;
          return res;
        },
      },
    });
    expect(await client.call('/echo', { secret: 'first' })).toEqual({ secret: 'first' });
    replay = true;
    const err = await failure(client.call('/echo', { secret: 'second' }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('RESPONSE_TAMPERED');
  });

  it('a captured request sent again is rejected by the gateway with REPLAYED_REQUEST', async () => {
    const { url, serverKeys, gateway } = await setup();
    const base = fetchTransport({ baseUrl: url });
    const sent: Parameters<typeof base.send>[0][] = [];
    const client = createClient({
      profile: modern({ serverKeys }),
      store: memoryStore(),
      transport: {
        send(req, o) {
          sent.push(req);
          return base.send(req, o);
        },
      },
    });
    await client.call('/sum', { a: '1', b: '2' });
    const captured = sent.find((r) => r.path === '/sum')!;
    // An attacker resends the exact bytes; the client (holding the keys) reads the sealed verdict.
    const res = await base.send(captured, {});
    expect(res.status).toBe(200);
    const sealed = { wire: captured, state: { appId: captured.headers['x-app-id'], nonce: captured.headers['x-nonce'] } };
    const cred = client.credentials!.peek()!.value;
    const err = await failure(client.profile.open(res, sealed, cred, { now: Date.now, random: () => new Uint8Array(), parseJson: JSON.parse, send: base.send.bind(base) as never }));
    expect(err.code).toBe('REPLAYED_REQUEST');
    expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(1);
    expect(gateway.stats().executions).toBe(1); // the operation ran once
  });

  it('IndexedDB that throws on open: memory fallback, the call succeeds, the storage-fallback event fires', async () => {
    const { url, serverKeys } = await setup();
    const realOpen = indexedDB.open;
    (indexedDB as { open: unknown }).open = () => {
      throw new DOMException('blocked by test', 'InvalidStateError');
    };
    try {
      const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: indexedDbStore({ dbName: 'throws-on-open' }) });
      const fallbacks: { reason: string }[] = [];
      client.events.on('storage-fallback', (e) => fallbacks.push(e));
      expect(await client.call('/echo', { ok: 'yes' })).toEqual({ ok: 'yes' });
      expect(fallbacks).toEqual([{ reason: 'InvalidStateError', store: 'indexeddb' }]);
    } finally {
      (indexedDB as { open: unknown }).open = realOpen;
    }
  });

  it('a new client instance over the same IndexedDB store reuses the credential (no second issuance)', async () => {
    const { url, serverKeys, gateway } = await setup();
    const store = { dbName: `reuse-${Math.random()}` };
    const first = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: indexedDbStore(store) });
    await first.call('/echo', { n: '1' });
    const second = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: indexedDbStore(store) });
    await second.call('/echo', { n: '2' });
    expect(gateway.stats().issuances).toBe(1);
    const stored = second.credentials!.peek()!.value as { reqKey: CryptoKey };
    expect(stored.reqKey).toBeInstanceOf(CryptoKey);
    expect(stored.reqKey.extractable).toBe(false);
  });
});

describe('modern request ids: a resend never runs an operation twice', () => {
  it('the same idempotencyKey on two calls runs the operation once and returns the stored result', async () => {
    const { url, serverKeys, gateway } = await setup();
    let runs = 0;
    gateway.operation('/charge', (p: { amount: string }) => ({ charged: p.amount, run: ++runs }));
    const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    const a = await client.call('/charge', { amount: '9.45' }, { idempotencyKey: 'order-1' });
    const b = await client.call('/charge', { amount: '9.45' }, { idempotencyKey: 'order-1' });
    expect(a).toEqual({ charged: '9.45', run: 1 });
    expect(b).toEqual(a);
    expect(runs).toBe(1);
    // The same id with other params is refused, nothing run.
    const err = await failure(client.call('/charge', { amount: '100' }, { idempotencyKey: 'order-1' }));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.gatewayCode).toBe('REQUEST_ID_REUSED');
    expect(runs).toBe(1);
  });

  it('an idempotencyKey that is empty or over 128 characters is refused before sending', async () => {
    const sent: string[] = [];
    const { url, serverKeys } = await setup();
    const base = fetchTransport({ baseUrl: url });
    const client = createClient({ profile: modern({ serverKeys }), store: memoryStore(), transport: { send: (r, o) => (sent.push(r.path), base.send(r, o)) } });
    for (const key of ['', 'x'.repeat(129)]) expect((await failure(client.call('/echo', {}, { idempotencyKey: key }))).code).toBe('BAD_REQUEST');
    expect(sent.filter((p) => p === '/echo')).toEqual([]);
  });

  it('an operation slower than operationTimeoutMs answers 503 GATEWAY_BUSY; the resend gets its result without a second run', async () => {
    const { createGateway, modern: modernGw } = await import('../../src/server/index.js');
    const { signingKey, serveGateway: serve } = await import('../helpers/servers.js');
    const key = await signingKey();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gateway = createGateway({ profile: modernGw({ signingKeys: { k1: key.pem } }), operationTimeoutMs: 100 }).operation('/slow', async () => {
      runs++;
      await gate;
      return { done: true };
    });
    const srv = await serve(gateway);
    running.push(srv);
    const client = createClient({ profile: modern({ serverKeys: { k1: key.jwk } }), transport: fetchTransport({ baseUrl: srv.url }), store: memoryStore() });
    const err = await failure(client.call('/slow', {}, { idempotencyKey: 'slow-1' }));
    expect(err.code).toBe('GATEWAY_BUSY');
    expect(err.retryable).toBe(true);
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(await client.call('/slow', {}, { idempotencyKey: 'slow-1' })).toEqual({ done: true });
    expect(runs).toBe(1);
  });

  it('an operation that returns nothing answers data: null', async () => {
    const { url, serverKeys, gateway } = await setup();
    gateway.operation('/void', () => undefined);
    const client = createClient({ profile: modern({ serverKeys }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() });
    expect(await client.call('/void', {})).toBeNull();
  });
});
