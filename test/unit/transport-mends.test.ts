// @vitest-environment happy-dom
// Transport mends from a review (2026-11-23): option mistakes fail at construction, and
// answers the transports misread are now read as their senders meant.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError } from '../../src/errors.js';
import { mgs } from '../../src/profiles/mgs.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { jsBridgeTransport } from '../../src/transport/jsbridge.js';
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

  it('headers that are not a plain object or a Headers (a Map, an array) are BAD_CONFIG naming headers', () => {
    for (const headers of [new Map([['a', 'b']]), [['a', 'b']]]) {
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
    const err = thrown(() => fetchTransport({ baseUrl: 'https://user:s3cretPass@127.0.0.1:9/gw' }));
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.details).toEqual({ option: 'baseUrl' });
    expect(JSON.stringify(err) + String(err) + (err?.hint ?? '')).not.toContain('s3cretPass');
    // A relative base and a plain one are fine.
    expect(fetchTransport({ baseUrl: '/gw' }).id).toBe('/gw');
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
  });

  it('a container failure carrying tips: the decoded tips are the hint, as from the gateway’s Tips header', async () => {
    answering({ error: 2000, errorMessage: 'login expired', tips: encodeURIComponent('请重新登录') });
    const err = (await mgsClient().call('MYAPI', { a: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(err.gatewayCode).toBe(2000);
    expect(err.hint).toBe('请重新登录');
    expect(err.details).toEqual({ memo: 'login expired', tips: '请重新登录' });
  });
});
