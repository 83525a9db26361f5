// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError } from '../../src/errors.js';
import { mgs } from '../../src/profiles/mgs.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { jsBridgeTransport } from '../../src/transport/jsbridge.js';
import { installRpcShim, type ShimClient } from '../../src/transport/shim.js';
import type { Profile, ProfileContext, WireRequest } from '../../src/types.js';

type Callback = (data: unknown) => void;
interface Recorded {
  api: string;
  options: Record<string, unknown>;
}

const win = globalThis as unknown as { AlipayJSBridge?: unknown };

/** A test double of the native container: records every JSAPI call and answers with `reply`. */
function fakeContainer(reply: unknown) {
  const calls: Recorded[] = [];
  const bridge = {
    call(api: string, options: Record<string, unknown>, cb: Callback) {
      // A deep copy: what the container would see over the native boundary.
      calls.push({ api, options: JSON.parse(JSON.stringify(options)) });
      setTimeout(() => cb(reply), 1);
    },
  };
  return { bridge, calls };
}

function installFake(reply: unknown) {
  const fake = fakeContainer(reply);
  win.AlipayJSBridge = fake.bridge;
  return fake;
}

const ctx: ProfileContext = { now: () => 1700000000000, random: (n) => new Uint8Array(n), parseJson: JSON.parse, send: () => Promise.reject(new Error('unused')) };
const profile = mgs({ appId: 'APP1', workspaceId: 'default', secret: 'page-never-sees-this-in-a-container', headers: { 'X-Caller': 'c1' } });

async function sealedMgs(params: Record<string, unknown> = { key1: 'value1', key2: 'value2' }) {
  return profile.seal({ operationType: 'MYAPI', params, options: {}, memo: {} }, undefined, ctx);
}

afterEach(() => {
  delete win.AlipayJSBridge;
  vi.useRealTimers();
});

describe('jsBridgeTransport: what it hands the native rpc JSAPI', () => {
  it('sends operationType, requestData [{_requestBody}], the caller headers only, getResponse: true, timeout and gateway', async () => {
    const { calls } = installFake({ ok: true });
    const sealed = await sealedMgs();
    await jsBridgeTransport({ gateway: 'https://mgs.example.com/mgw.htm' }).send(sealed.wire, { timeoutMs: 4000 });
    expect(calls).toEqual([
      {
        api: 'rpc',
        options: {
          operationType: 'MYAPI',
          requestData: [{ _requestBody: '{"key1":"value1","key2":"value2"}' }],
          // Ts, Sign, AppId, … are the container's to set (it signs natively).
          headers: { 'X-Caller': 'c1' },
          getResponse: true,
          timeout: 4, // seconds, as the container reads it
          gateway: 'https://mgs.example.com/mgw.htm',
        },
      },
    ]);
  });

  it("carries another dialect's sealed body as the _requestBody string", async () => {
    const { calls } = installFake({ ok: true });
    const wire: WireRequest = { path: '/api/echo', method: 'POST', headers: { 'x-app-id': 'A', 'x-nonce': 'N' }, body: 'c2VhbGVkLWJ5LW1vZGVybg', operationType: '/api/echo' };
    await jsBridgeTransport().send(wire, {});
    expect(calls[0].options).toMatchObject({ operationType: '/api/echo', requestData: [{ _requestBody: 'c2VhbGVkLWJ5LW1vZGVybg' }], headers: { 'x-app-id': 'A', 'x-nonce': 'N' }, getResponse: true });
  });

  it("refuses sortedSign's default GET (its sealed data is in the URL query, which the rpc JSAPI does not carry) with BAD_CONFIG naming transport, at createClient and (for a profile that does not say so) at send; its POST form goes through", async () => {
    const { calls } = installFake({ code: 0, data: 'x' });
    const appKey = 'aPpKeY-16-chars!';
    const expectQueryDataError = (err: RpcError) => {
      expect(err).toBeInstanceOf(RpcError);
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.details?.option).toBe('transport');
      expect(err.hint).toMatch(/method: 'POST'/);
    };
    let atCreate: unknown;
    try {
      createClient({ profile: sortedSign({ appId: 7, appKey }), transport: jsBridgeTransport(), store: memoryStore() });
    } catch (e) {
      atCreate = e;
    }
    expectQueryDataError(atCreate as RpcError);
    // A profile that does not declare queryData: refused when it sends.
    const { queryData: _, ...undeclared } = sortedSign({ appId: 7, appKey });
    const viaGet = createClient({ profile: undeclared, transport: jsBridgeTransport(), store: memoryStore() });
    expectQueryDataError((await viaGet.call('/api/echo', { a: '1' }).catch((e) => e)) as RpcError);
    expect(calls).toEqual([]); // nothing (an empty _requestBody) reached the container
    expect(() => createClient({ profile: sortedSign({ appId: 7, appKey, method: 'POST' }), transport: jsBridgeTransport(), store: memoryStore() })).not.toThrow();
    const post = await sortedSign({ appId: 7, appKey, method: 'POST' }).seal({ operationType: '/api/echo', params: { a: '1' }, options: {}, memo: {} }, undefined, ctx);
    await jsBridgeTransport().send(post.wire, {});
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0].options.requestData as { _requestBody: string }[])[0]._requestBody)).toMatchObject({ appId: '7', params: expect.stringMatching(/^[A-Za-z0-9+/]{40,}={0,2}$/) });
  });
});

describe('jsBridgeTransport: the gateway option and stored credentials', () => {
  it('two clients on gateways A and B with the same issued profile and store keep separate credentials (the gateway is in the transport id)', async () => {
    const A = 'https://a.example.com/mgw.htm';
    const B = 'https://b.example.com/mgw.htm';
    const issuedBy: string[] = [];
    win.AlipayJSBridge = {
      call(_api: string, options: Record<string, unknown>, cb: Callback) {
        const gateway = String(options.gateway);
        const body = JSON.parse((options.requestData as Array<{ _requestBody: string }>)[0]._requestBody) as { credential?: string };
        if (options.operationType === '/issue') issuedBy.push(gateway);
        const reply = options.operationType === '/issue' ? { credential: 'from ' + gateway } : { used: body.credential, gateway };
        setTimeout(() => cb(reply), 1);
      },
    };
    const issuedProfile: Profile<string> = {
      name: 'issued-test',
      credentials: 'issued',
      storeKey: 'issued-test',
      async issue(c) {
        const res = await c.send({ path: '/issue', method: 'POST', headers: {}, body: '{}', operationType: '/issue' });
        return { value: (JSON.parse(res.body) as { credential: string }).credential };
      },
      async seal(call, credential) {
        return { wire: { path: '/op', method: 'POST', headers: {}, body: JSON.stringify({ credential }), operationType: call.operationType }, state: undefined };
      },
      async open(res) {
        return JSON.parse(res.body);
      },
    };
    const store = memoryStore();
    const a = createClient({ profile: issuedProfile, transport: jsBridgeTransport({ gateway: A }), store });
    const b = createClient({ profile: issuedProfile, transport: jsBridgeTransport({ gateway: B }), store });
    expect(await a.call('op')).toEqual({ used: 'from ' + A, gateway: A });
    expect(await b.call('op')).toEqual({ used: 'from ' + B, gateway: B });
    expect(await a.call('op')).toEqual({ used: 'from ' + A, gateway: A });
    expect(issuedBy).toEqual([A, B]);
  });
});

describe('jsBridgeTransport options', () => {
  it('jsBridgeTransport(null) works as with no options; options that are not an object (e.g. the gateway URL alone) are BAD_CONFIG', async () => {
    const fake = installFake({ ok: true });
    const t = jsBridgeTransport(null);
    expect(t.id).toBeUndefined();
    const res = await t.send((await sealedMgs()).wire, {});
    expect(JSON.parse(res.body)).toEqual({ ok: true });
    expect(fake.calls[0].options.gateway).toBeUndefined();
    expect(() => jsBridgeTransport('https://gw.example.com/mgw.htm' as never)).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }));
  });
});

describe('jsBridgeTransport: every callback shape', () => {
  const sendWith = async (reply: unknown) => {
    installFake(reply);
    const sealed = await sealedMgs();
    const res = await jsBridgeTransport().send(sealed.wire, {});
    return { res, data: await profile.open(res, sealed, undefined, ctx) };
  };
  const errorOf = (reply: unknown) => sendWith(reply).then(
    () => {
      throw new Error('expected a failure');
    },
    (e) => e as RpcError,
  );

  it('{error: 10} -> NETWORK', async () => {
    expect(await errorOf({ error: 10, errorMessage: 'offline' })).toMatchObject({ code: 'NETWORK', gatewayCode: 10 });
  });

  it('{error: 11} -> TIMEOUT', async () => {
    expect(await errorOf({ error: 11 })).toMatchObject({ code: 'TIMEOUT', gatewayCode: 11 });
  });

  it('{error: 2} -> BAD_REQUEST', async () => {
    expect(await errorOf({ error: 2, errorMessage: 'bad params' })).toMatchObject({ code: 'BAD_REQUEST', gatewayCode: 2 });
  });

  it('{error: 7002, errorMessage} -> SIGNATURE_INVALID with gatewayCode 7002 and the message kept', async () => {
    const err = await errorOf({ error: 7002, errorMessage: 'sign check failed' });
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
    expect(err.message).toContain('sign check failed');
  });

  it('{error: 7014} -> SIGNATURE_MISSING, {error: 1002} -> retryable GATEWAY (the mgs table)', async () => {
    expect(await errorOf({ error: 7014 })).toMatchObject({ code: 'SIGNATURE_MISSING', gatewayCode: 7014 });
    expect(await errorOf({ error: '1002', errorMessage: 'busy' })).toMatchObject({ code: 'GATEWAY', gatewayCode: 1002, retryable: true });
  });

  it('{resData: "text"} (a non-JSON body) -> the text', async () => {
    const { res, data } = await sendWith({ resData: 'plain text answer' });
    expect(res).toEqual({ status: 200, headers: { 'content-type': 'text/plain', 'result-status': '1000' }, body: 'plain text answer' });
    expect(data).toBe('plain text answer');
  });

  it('{header, resData} (getResponse) -> headers lower-cased incl. result-status, body as JSON text', async () => {
    const { res, data } = await sendWith({ header: { 'Result-Status': '1000', 'Mgw-TraceId': 't-9', Memo: 'ok' }, resData: { sum: 3 } });
    expect(res).toEqual({ status: 200, headers: { 'result-status': '1000', 'mgw-traceid': 't-9', memo: 'ok', 'content-type': 'application/json' }, body: '{"sum":3}' });
    expect(data).toEqual({ sum: 3 });
  });

  it('{header: {Result-Status: 6666, Tips}, resData} -> the profile reads the business error', async () => {
    const err = await errorOf({ header: { 'Result-Status': 6666, Tips: encodeURIComponent('库存不足') }, resData: {} });
    expect(err).toMatchObject({ code: 'GATEWAY', gatewayCode: 6666, hint: '库存不足' });
  });

  it('a plain object (the parsed body) -> that object, even with an `error` field of its own', async () => {
    expect((await sendWith({ sum: 3, list: [1, 2] })).data).toEqual({ sum: 3, list: [1, 2] });
    expect((await sendWith({ error: 5, detail: 'business payload' })).data).toEqual({ error: 5, detail: 'business payload' });
  });

  it('goes through createClient: seal -> container -> open', async () => {
    const { calls } = installFake({ header: { 'Result-Status': '1000' }, resData: { hello: 'world' } });
    const client = createClient({ profile, transport: jsBridgeTransport(), store: memoryStore() });
    await expect(client.call('MYAPI', { key1: 'value1' })).resolves.toEqual({ hello: 'world' });
    expect(calls).toHaveLength(1);
  });
});

describe('jsBridgeTransport: waiting for the bridge', () => {
  it('waits for AlipayJSBridgeReady when the bridge appears after the call started', async () => {
    const sealed = await sealedMgs();
    const sending = jsBridgeTransport({ readyTimeoutMs: 2000 }).send(sealed.wire, {});
    await new Promise((r) => setTimeout(r, 30));
    const fake = fakeContainer({ late: true });
    win.AlipayJSBridge = fake.bridge;
    document.dispatchEvent(new Event('AlipayJSBridgeReady'));
    const res = await sending;
    expect(JSON.parse(res.body)).toEqual({ late: true });
    expect(fake.calls).toHaveLength(1);
  });

  it('aborted in the same task as AlipayJSBridgeReady fires: ABORTED, and the rpc JSAPI is never called', async () => {
    const sealed = await sealedMgs();
    const ac = new AbortController();
    const sending = jsBridgeTransport({ readyTimeoutMs: 2000 }).send(sealed.wire, { signal: ac.signal, timeoutMs: 2000 });
    await new Promise((r) => setTimeout(r, 30));
    const fake = fakeContainer({ late: true });
    win.AlipayJSBridge = fake.bridge;
    document.dispatchEvent(new Event('AlipayJSBridgeReady'));
    ac.abort(); // before the transport's code after the wait has run
    const err = await sending.catch((e) => e);
    expect([err instanceof RpcError, err.code]).toEqual([true, 'ABORTED']);
    expect(fake.calls).toEqual([]);
  });

  it('never appearing -> a typed NETWORK error after the bounded wait, with a hint about the container and the shim', async () => {
    const sealed = await sealedMgs();
    const err = await jsBridgeTransport({ readyTimeoutMs: 60 }).send(sealed.wire, {}).catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe('NETWORK');
    expect(err.retryable).toBe(false);
    expect(err.hint).toMatch(/not running inside the app container/);
    expect(err.hint).toMatch(/installRpcShim/);
  });

  it('an abort while waiting ends the wait with the signal reason', async () => {
    const sealed = await sealedMgs();
    const ac = new AbortController();
    const sending = jsBridgeTransport({ readyTimeoutMs: 5000 }).send(sealed.wire, { signal: ac.signal });
    ac.abort();
    await expect(sending).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('a container that never calls back -> TIMEOUT after timeoutMs; the late callback is dropped', async () => {
    let late: Callback | undefined;
    win.AlipayJSBridge = { call: (_a: string, _o: unknown, cb: Callback) => (late = cb) };
    const sealed = await sealedMgs();
    const settled: string[] = [];
    const sending = jsBridgeTransport().send(sealed.wire, { timeoutMs: 40 }).then(
      () => settled.push('resolved'),
      (e: { code?: string }) => settled.push(e.code ?? 'error'),
    );
    await sending;
    expect(settled).toEqual(['TIMEOUT']);
    // The container did receive the call, and answering after the timeout changes nothing.
    expect(late).toBeTypeOf('function');
    expect(() => late!({ ok: true })).not.toThrow();
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toEqual(['TIMEOUT']);
  });
});

describe('installRpcShim', () => {
  function fakeClient(answer: unknown | (() => Promise<unknown>)) {
    const seen: Array<{ op: string; params: unknown; options: unknown }> = [];
    const client: ShimClient = {
      call: async (op, params, options) => {
        seen.push({ op, params, options });
        return typeof answer === 'function' ? (answer as () => Promise<unknown>)() : answer;
      },
    };
    return { client, seen };
  }
  const callBridge = (api: string, options: Record<string, unknown>) =>
    new Promise<unknown>((resolve) => (win.AlipayJSBridge as { call(a: string, o: unknown, cb: Callback): void }).call(api, options, resolve));
  const SNIPPET_OPTIONS = { operationType: 'MYAPI', requestData: [{ _requestBody: '{"key1":"value1","key2":"value2"}' }], headers: {}, getResponse: true };

  it('defines the global when absent, dispatches AlipayJSBridgeReady, and routes rpc through client.call', async () => {
    const { client, seen } = fakeClient({ answer: 'decrypted by the client' });
    const ready = vi.fn();
    document.addEventListener('AlipayJSBridgeReady', ready);
    const shim = installRpcShim(client);
    document.removeEventListener('AlipayJSBridgeReady', ready);
    expect(shim.installed).toBe(true);
    expect(ready).toHaveBeenCalledTimes(1);
    const data = await callBridge('rpc', SNIPPET_OPTIONS);
    expect(seen).toEqual([{ op: 'MYAPI', params: { key1: 'value1', key2: 'value2' }, options: {} }]);
    expect(data).toEqual({ header: {}, resData: { answer: 'decrypted by the client' } });
    shim.uninstall();
  });

  it('without getResponse the callback gets the data itself (or {resData} for a string)', async () => {
    const objectShim = installRpcShim(fakeClient({ a: 1 }).client);
    expect(await callBridge('rpc', { ...SNIPPET_OPTIONS, getResponse: false, timeout: 500 })).toEqual({ a: 1 });
    objectShim.uninstall();
    const textShim = installRpcShim(fakeClient('plain').client);
    expect(await callBridge('rpc', { ...SNIPPET_OPTIONS, getResponse: false })).toEqual({ resData: 'plain' });
    textShim.uninstall();
  });

  it('does nothing when a bridge is already there (a real container)', async () => {
    const real = fakeContainer({ from: 'native' });
    win.AlipayJSBridge = real.bridge;
    const { client, seen } = fakeClient({});
    const shim = installRpcShim(client);
    expect(shim.installed).toBe(false);
    expect(win.AlipayJSBridge).toBe(real.bridge);
    expect(await callBridge('rpc', SNIPPET_OPTIONS)).toEqual({ from: 'native' });
    shim.uninstall();
    expect(win.AlipayJSBridge).toBe(real.bridge);
    expect(seen).toHaveLength(0);
  });

  it('answers any other JSAPI with {error: 1}', async () => {
    const shim = installRpcShim(fakeClient({}).client);
    expect(await callBridge('toast', { content: 'hi' })).toMatchObject({ error: 1 });
    expect(await new Promise((r) => (win.AlipayJSBridge as { call(a: string, cb: Callback): void }).call('getNetworkType', r))).toMatchObject({ error: 1 });
    shim.uninstall();
  });

  it('turns client errors into {error, errorMessage}: the gateway code, or 10 / 11 / 2', async () => {
    const cases: Array<[RpcError, number]> = [
      [new RpcError('SIGNATURE_INVALID', 'mgs 7002 signature verification failed', { gatewayCode: 7002 }), 7002],
      [new RpcError('NETWORK', 'offline'), 10],
      [new RpcError('TIMEOUT', 'slow'), 11],
      [new RpcError('BAD_REQUEST', 'bad'), 2],
    ];
    for (const [err, code] of cases) {
      const shim = installRpcShim(fakeClient(() => Promise.reject(err)).client);
      expect(await callBridge('rpc', SNIPPET_OPTIONS)).toEqual({ error: code, errorMessage: err.message });
      shim.uninstall();
    }
  });

  it('installRpcShim(client, null) installs as with no options; options that are not an object are BAD_CONFIG', async () => {
    const shim = installRpcShim(fakeClient({ a: 1 }).client, null);
    expect(shim.installed).toBe(true);
    expect(await callBridge('rpc', { ...SNIPPET_OPTIONS, getResponse: false })).toEqual({ a: 1 });
    shim.uninstall();
    expect(() => installRpcShim(fakeClient({}).client, 'window' as never)).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }));
  });

  it('uninstall() removes the global it defined, restoring the page', () => {
    expect('AlipayJSBridge' in globalThis).toBe(false);
    const shim = installRpcShim(fakeClient({}).client);
    expect('AlipayJSBridge' in globalThis).toBe(true);
    shim.uninstall();
    expect('AlipayJSBridge' in globalThis).toBe(false);
  });

  it('a jsBridgeTransport refuses to send into the shim (it would loop back into the client)', async () => {
    const shim = installRpcShim(fakeClient({}).client);
    const sealed = await sealedMgs();
    await expect(jsBridgeTransport().send(sealed.wire, {})).rejects.toMatchObject({ code: 'BAD_CONFIG' });
    shim.uninstall();
  });
});
