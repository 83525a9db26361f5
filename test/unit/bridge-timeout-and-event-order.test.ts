// @vitest-environment happy-dom
/**
 * The rpc JSAPI's timeout unit (seconds) in the transport and the shim, a getResponse answer
 * whose resData was dropped, and the client's events: no stage after a call's error stage, and
 * `renewed` (not `issued`) when a reload finds the stored credential expired.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import type { RpcError } from '../../src/errors.js';
import { mgs } from '../../src/profiles/mgs.js';
import { jsBridgeTransport } from '../../src/transport/jsbridge.js';
import { installRpcShim } from '../../src/transport/shim.js';
import type { Profile, Transport } from '../../src/types.js';
import { echo, issuedProfile, staticProfile } from '../helpers/client-doubles.js';

type Callback = (data: unknown) => void;
const win = globalThis as unknown as { AlipayJSBridge?: unknown };
afterEach(() => {
  delete win.AlipayJSBridge;
});

/** A container double: what crosses the native boundary is JSON (an undefined value is dropped, as a native dictionary cannot hold it). */
function container(reply: unknown) {
  const calls: Record<string, unknown>[] = [];
  win.AlipayJSBridge = {
    call(_api: string, options: Record<string, unknown>, cb: Callback) {
      calls.push(JSON.parse(JSON.stringify(options)));
      setTimeout(() => cb(JSON.parse(JSON.stringify(reply))), 1);
    },
  };
  return calls;
}
const mgsClient = (timeoutMs?: number) =>
  createClient({ profile: mgs({ appId: 'APP1', workspaceId: 'default', secret: 'page-secret' }), transport: jsBridgeTransport(), store: memoryStore(), ...(timeoutMs ? { timeoutMs } : {}) });
const outcome = (p: Promise<unknown>) => p.then((data) => ({ data }), (e: RpcError) => ({ code: e.code, gatewayCode: e.gatewayCode }));

describe('the rpc JSAPI `timeout` is in seconds (the container docs: "RPC 超时时间,单位为秒", default 20–30 s)', () => {
  it('jsBridgeTransport hands the container the call timeout in seconds (timeoutMs 4000 -> timeout: 4; the default 30 s -> 30), not 4000 s', async () => {
    const calls = container({ header: { 'Result-Status': '1000' }, resData: { ok: true } });
    expect(await mgsClient().call('MYAPI', { a: '1' }, { timeoutMs: 4000 })).toEqual({ ok: true });
    expect(await mgsClient().call('MYAPI', { a: '1' })).toEqual({ ok: true });
    expect(calls.map((c) => c.timeout)).toEqual([4, 30]);
  });

  it('the shim reads a page\'s timeout as seconds: timeout: 5 lets a 60 ms call succeed (it was cut after 5 ms: {error: 11})', async () => {
    const slow: Transport = { send: (req) => new Promise((r) => setTimeout(() => r({ status: 200, headers: {}, body: req.body ?? '{}' }), 60)) };
    const client = createClient({ profile: staticProfile, transport: slow, store: memoryStore() });
    const shim = installRpcShim(client);
    try {
      const data = await new Promise((resolve) =>
        (win.AlipayJSBridge as { call(a: string, o: unknown, cb: Callback): void }).call(
          'rpc',
          { operationType: 'MYAPI', requestData: [{ _requestBody: '{"key1":"value1"}' }], headers: {}, getResponse: true, timeout: 5 },
          resolve,
        ),
      );
      expect(data).toEqual({ header: {}, resData: { key1: 'value1' } });
    } finally {
      shim.uninstall();
    }
  });
});

describe('jsBridgeTransport: a getResponse answer whose resData the native side dropped', () => {
  it('{header} alone is read as {header, resData: undefined}: Result-Status 2000 is the GATEWAY error, 1000 is no data (not the header object as data)', async () => {
    container({ header: { 'Result-Status': '2000', Memo: 'login expired' }, resData: undefined });
    expect(await outcome(mgsClient().call('MYAPI', { a: '1' }))).toEqual({ code: 'GATEWAY', gatewayCode: 2000 });
    container({ header: { 'Result-Status': '1000' }, resData: undefined });
    expect(await outcome(mgsClient().call('MYAPI', { a: '1' }))).toEqual({ data: undefined });
  });
});

describe('client events: nothing of a call after its error stage', () => {
  const slowOpen: Profile = {
    ...staticProfile,
    async open(res) {
      await new Promise((r) => setTimeout(r, 40));
      return JSON.parse(res.body);
    },
  };

  it('a call aborted (or timed out) while its answer is opened ends its stages with error: no opened stage after it', async () => {
    const client = createClient({ profile: slowOpen, transport: echo, store: memoryStore() });
    const stages: string[] = [];
    client.events.on('stage', (d) => stages.push(`${d.callId}:${d.stage}`));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    expect(await outcome(client.call('/x', { a: '1' }, { signal: ac.signal }))).toMatchObject({ code: 'ABORTED' });
    expect(await outcome(client.call('/x', { a: '2' }, { timeoutMs: 10 }))).toMatchObject({ code: 'TIMEOUT' });
    await new Promise((r) => setTimeout(r, 80));
    expect(stages).toEqual(['1:params', '1:sealed', '1:response', '1:error', '2:params', '2:sealed', '2:response', '2:error']);
  });
});

describe('client events: issued vs renewed', () => {
  it('a page reload whose stored credential has expired emits renewed (version 2), not issued ("first credential for this store key")', async () => {
    const store = memoryStore();
    let now = 1_000_000;
    const profile = issuedProfile('reload', () => ({ value: 'c', expiresAt: now + 60_000 }));
    const first = createClient({ profile, transport: echo, store, clock: { now: () => now } });
    const seen: string[] = [];
    first.events.on('issued', (d) => seen.push(`issued ${d.version}`));
    await first.call('/x', {});
    now += 3_600_000; // an hour later, the page is loaded again
    const reloaded = createClient({ profile, transport: echo, store, clock: { now: () => now } });
    reloaded.events.on('issued', (d) => seen.push(`issued ${d.version}`));
    reloaded.events.on('renewed', (d) => seen.push(`renewed ${d.version}`));
    await reloaded.call('/x', {});
    expect(seen).toEqual(['issued 1', 'renewed 2']);
  });
});
