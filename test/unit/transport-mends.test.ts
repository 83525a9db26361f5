// @vitest-environment happy-dom
// Transport mends from a review (2026-11-23): option mistakes fail at construction, and
// answers the transports misread are now read as their senders meant.
import { Readable } from 'node:stream';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError } from '../../src/errors.js';
import { mgs } from '../../src/profiles/mgs.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { bridgeResponse, jsBridgeTransport } from '../../src/transport/jsbridge.js';
import type { WireRequest } from '../../src/types.js';
import { thrown } from '../helpers/client-doubles.js';

const req: WireRequest = { path: '/a', method: 'POST', headers: {}, body: '{}', operationType: '/a' };

describe('fetchTransport options', () => {
  it('headers given as a Headers object are sent (its own properties are none: every header was dropped)', async () => {
    let seen: Headers | undefined;
    const fetch = (async (_url: string, init: RequestInit) => {
      seen = new Headers(init.headers);
      return new Response('{}', { status: 200 });
    }) as unknown as typeof globalThis.fetch;
    const t = fetchTransport({ baseUrl: 'https://gw.example.com', fetch, headers: new Headers({ Authorization: 'Bearer abc', 'X-Tenant': 't1' }) });
    await t.send({ ...req, headers: { 'content-type': 'text/plain' } }, {});
    expect(seen?.get('authorization')).toBe('Bearer abc');
    expect(seen?.get('x-tenant')).toBe('t1');
    expect(seen?.get('content-type')).toBe('text/plain');
  });

  it("a Headers of another implementation (node-fetch 2's own class), a Map, or a plain object from another realm: their headers are sent", async () => {
    const MAP = Symbol('map');
    class NodeFetchHeaders {
      [MAP]: Record<string, string> = {};
      constructor(init: Record<string, string>) {
        for (const [k, v] of Object.entries(init)) this[MAP][k.toLowerCase()] = v;
      }
      get(n: string) {
        return this[MAP][n.toLowerCase()] ?? null;
      }
      forEach(cb: (v: string, k: string) => void) {
        for (const [k, v] of Object.entries(this[MAP])) cb(v, k);
      }
    }
    for (const headers of [new NodeFetchHeaders({ Authorization: 'Bearer t' }), new Map([['Authorization', 'Bearer t']]), vm.runInNewContext('({ Authorization: "Bearer t" })')]) {
      let sent: Record<string, string> | undefined;
      const fetch = (async (_u: string, init: RequestInit) => {
        sent = init.headers as Record<string, string>;
        return new Response('{}');
      }) as unknown as typeof globalThis.fetch;
      await fetchTransport({ baseUrl: 'https://gw.example.com', fetch, headers: headers as never }).send(req, {});
      expect(sent?.authorization, headers.constructor?.name).toBe('Bearer t');
    }
  });

  it('headers that are not a map of strings (an array of pairs, a number, a non-string value) are BAD_CONFIG naming headers', () => {
    for (const headers of [[['a', 'b']], 5, { a: 1 }, new Map([['a', 1]])]) {
      const err = thrown(() => fetchTransport({ baseUrl: '/gw', headers: headers as never }));
      expect(err).toBeInstanceOf(RpcError);
      expect(err?.details).toEqual({ option: 'headers' });
    }
  });

  it('an option fetchTransport does not read (timeoutMs is createClient’s, maxResponseByte a typo) is BAD_CONFIG naming it', () => {
    for (const name of ['timeoutMs', 'maxResponseByte']) {
      const err = thrown(() => fetchTransport({ baseUrl: '/gw', [name]: 10 } as never));
      expect(err?.code, name).toBe('BAD_CONFIG');
      expect(err?.details).toEqual({ option: name });
      expect(err?.message).toMatch(/is not an option of fetchTransport/);
    }
  });

  it('a baseUrl holding user:password is BAD_CONFIG at construction, and the password is in no part of the error', () => {
    for (const baseUrl of ['https://user:s3cretPass@127.0.0.1:9/gw', '//u:s3cretPass@api.example.com/gw', 'http:u:s3cretPass@api.example.com', 'https://s3cretPass@api.example.com']) {
      const err = thrown(() => fetchTransport({ baseUrl }));
      expect(err?.code, baseUrl).toBe('BAD_CONFIG');
      expect(err?.details).toEqual({ option: 'baseUrl' });
      expect(JSON.stringify(err) + String(err) + (err?.hint ?? '')).not.toContain('s3cretPass');
    }
    // Relative bases, and an @ in the path or query, are fine.
    for (const baseUrl of ['/gw', 'gw', '', '/gw/@scope/x', 'https://api.example.com/@v2', 'https://api.example.com/gw?x=a@b', 'http://[::1]:8080/gw'])
      expect(thrown(() => fetchTransport({ baseUrl })), baseUrl).toBeUndefined();
    expect(fetchTransport({ baseUrl: 'https://gw.example.com/' }).id).toBe('https://gw.example.com');
  });
});

describe('fetchTransport with a fetch whose body is a Node stream (node-fetch 2, cross-fetch in Node)', () => {
  const nodeFetchLike = (chunks: string[]) =>
    (async () => ({
      status: 200,
      ok: true,
      headers: new Headers({ 'content-type': 'application/json' }),
      body: Readable.from(chunks.map((c) => Buffer.from(c))),
      text: async () => chunks.join(''),
    })) as unknown as typeof fetch;

  it('the body is read (it was NETWORK "the response could not be read": a Node stream has no getReader)', async () => {
    const t = fetchTransport({ baseUrl: 'https://gw.example.com', fetch: nodeFetchLike(['{"ok":', 'true}']) });
    expect(await t.send(req, {})).toEqual({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' });
  });

  it('multi-byte UTF-8 split across chunks byte by byte decodes whole', async () => {
    const chunks = Array.from(Buffer.from('{"s":"你好€😀"}')).map((b) => Buffer.from([b]));
    const fetch = (async () => ({ status: 200, headers: new Headers(), body: Readable.from(chunks), text: async () => '' })) as unknown as typeof globalThis.fetch;
    expect((await fetchTransport({ baseUrl: 'https://gw.example.com', fetch }).send(req, {})).body).toBe('{"s":"你好€😀"}');
  });

  it('a declared Content-Length over maxResponseBytes: RESPONSE_UNREADABLE and the Node stream destroyed (it was NETWORK: a Node stream has no cancel)', async () => {
    const body = Readable.from([Buffer.from('x'.repeat(100))]);
    const fetch = (async () => ({ status: 200, headers: new Headers({ 'content-length': '100' }), body, text: async () => 'x'.repeat(100) })) as unknown as typeof globalThis.fetch;
    const err = (await fetchTransport({ baseUrl: 'https://gw.example.com', fetch, maxResponseBytes: 10 }).send(req, {}).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('RESPONSE_UNREADABLE');
    expect(body.destroyed).toBe(true);
  });

  it('and bounded by maxResponseBytes as a web stream is (RESPONSE_UNREADABLE)', async () => {
    const t = fetchTransport({ baseUrl: 'https://gw.example.com', fetch: nodeFetchLike(['x'.repeat(6), 'y'.repeat(6)]), maxResponseBytes: 10 });
    const err = (await t.send(req, {}).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe('RESPONSE_UNREADABLE');
    expect(err.message).toMatch(/larger than maxResponseBytes \(10\)/);
  });
});

describe('jsBridgeTransport', () => {
  const win = globalThis as unknown as { AlipayJSBridge?: unknown };
  afterEach(() => {
    delete win.AlipayJSBridge;
  });
  const answering = (reply: unknown) => {
    win.AlipayJSBridge = { call: (_api: string, _o: unknown, cb: (d: unknown) => void) => setTimeout(() => cb(reply), 1) };
  };
  const mgsClient = () => createClient({ profile: mgs({ appId: 'APP1', workspaceId: 'default', secret: 'page-secret' }), transport: jsBridgeTransport(), store: memoryStore() });

  it('an option it does not read (readyTimeout for readyTimeoutMs, timeoutMs) or an empty gateway is BAD_CONFIG naming it', () => {
    for (const [options, name] of [
      [{ readyTimeout: 60_000 }, 'readyTimeout'],
      [{ timeoutMs: 1000 }, 'timeoutMs'],
      [{ gateway: '' }, 'gateway'],
    ] as const) {
      const err = thrown(() => jsBridgeTransport(options as never));
      expect(err?.code, name).toBe('BAD_CONFIG');
      expect(err?.details).toEqual({ option: name });
    }
  });

  it('getResponse: a JSON answer that is a string value ("hello", parsed by the container) is that string, not RESPONSE_UNREADABLE; JSON text still parses', async () => {
    answering({ header: { 'Content-Type': 'application/json;charset=UTF-8', 'Result-Status': '1000' }, resData: 'hello' });
    expect(await mgsClient().call('MYAPI', { a: 1 })).toBe('hello');
    answering({ header: { 'Content-Type': 'application/json', 'Result-Status': '1000' }, resData: '{"n":1}' });
    expect(await mgsClient().call('MYAPI', { a: 1 })).toEqual({ n: 1 });
    for (const [resData, body] of [['"hello"', '"hello"'], ['12.5', '12.5'], [12.5, '12.5'], ['', ''], ['  ', '  ']] as const)
      expect(bridgeResponse({ header: { 'content-type': 'application/json' }, resData }).body, String(resData)).toBe(body);
  });

  it('getResponse: cut-off JSON under application/json stays RESPONSE_UNREADABLE, and an empty 8001 answer is still no data (undefined)', async () => {
    answering({ header: { 'Content-Type': 'application/json', 'Result-Status': '1000' }, resData: '{"amount":12' });
    expect(((await mgsClient().call('MYAPI', { a: 1 }).catch((e: unknown) => e)) as RpcError).code).toBe('RESPONSE_UNREADABLE');
    answering({ header: { 'Content-Type': 'application/json;charset=UTF-8', 'Result-Status': '8001' }, resData: '' });
    expect(await mgsClient().call('MYAPI', { a: 1 })).toBeUndefined();
  });

  it('a container failure carrying tips: the decoded tips are the hint, as from the gateway’s Tips header', async () => {
    answering({ error: 2000, errorMessage: 'login expired', tips: encodeURIComponent('请重新登录') });
    const err = (await mgsClient().call('MYAPI', { a: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(err.gatewayCode).toBe(2000);
    expect(err.hint).toBe('请重新登录');
    expect(err.details).toEqual({ memo: 'login expired', tips: '请重新登录' });
  });
});
