/**
 * The first hour of an H5 developer moving a page into the hybrid container (and trying it in a
 * desktop browser with the shim first): the realistic mistakes, and what the page or the app
 * sees. The container double answers as the vendor's FAQ says (seeds 000/001); the shim runs
 * over fetchTransport to a real mgs gateway on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError } from '../../src/errors.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { mgs } from '../../src/profiles/mgs.js';
import { createGateway } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import { bridgeResponse, jsBridgeTransport } from '../../src/transport/jsbridge.js';
import { installRpcShim } from '../../src/transport/shim.js';
import { thrown as maybeThrown } from '../helpers/client-doubles.js';
import { failure, serveGateway, type Running } from '../helpers/servers.js';

type Callback = (data: unknown) => void;
const win = globalThis as { AlipayJSBridge?: unknown; document?: unknown };
const thrown = (f: () => unknown): RpcError => maybeThrown(f) ?? (expect.fail('expected a throw') as never);

const APP = { appId: 'HYBRID0000001', workspaceId: 'default', secret: 'hybrid-first-hour-secret' };
let gateway: Running;
const received: unknown[] = [];

beforeAll(async () => {
  gateway = await serveGateway(
    createGateway({ profile: mgsGateway({ apps: { [APP.appId]: { secret: APP.secret, workspaceId: APP.workspaceId } } }) }).operation('MYAPI', (p) => {
      received.push(p);
      return { ok: true };
    }),
  );
});
afterAll(() => gateway.close());
afterEach(() => {
  delete win.AlipayJSBridge;
  delete win.document;
  received.length = 0;
});

/** The container double: answers every rpc call with `reply` a moment later, as the native side does. */
function container(reply: unknown) {
  const calls: Array<Record<string, unknown>> = [];
  win.AlipayJSBridge = {
    call(_api: string, options: Record<string, unknown>, cb: Callback) {
      calls.push(JSON.parse(JSON.stringify(options)));
      setTimeout(() => cb(reply), 1);
    },
  };
  return calls;
}

/** The page's own call, as written for the container. */
const pageCall = (options: Record<string, unknown>) => new Promise<unknown>((resolve) => (win.AlipayJSBridge as { call(a: string, o: unknown, cb: Callback): void }).call('rpc', options, resolve));

describe('jsBridgeTransport: configuration mistakes fail at construction, naming the option', () => {
  it('gateway given as a path (/mgw.htm) or without a scheme is BAD_CONFIG naming gateway: the JSAPI takes a full URL', () => {
    for (const bad of ['/mgw.htm', 'mgw.example.com/mgw.htm']) {
      const err = thrown(() => jsBridgeTransport({ gateway: bad }));
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.details).toMatchObject({ option: 'gateway' });
      expect(err.message).toMatch(/http/);
    }
    expect(() => jsBridgeTransport({ gateway: 'https://mgw.example.com/mgw.htm' })).not.toThrow();
  });
});

describe('jsBridgeTransport: the bridge late, or never', () => {
  it('readyTimeoutMs too short for a container that injects the bridge late: the hint names readyTimeoutMs, not only "not inside the container"', async () => {
    const doc = new EventTarget();
    win.document = doc;
    const client = createClient({ profile: mgs({ ...APP, signer: async () => 'signed-natively' }), transport: jsBridgeTransport({ readyTimeoutMs: 20 }), store: memoryStore() });
    const late = setTimeout(() => {
      container({ ok: 1 });
      doc.dispatchEvent(new Event('AlipayJSBridgeReady'));
    }, 200);
    try {
      const err = await failure(client.call('MYAPI', {}));
      expect(err.code).toBe('NETWORK');
      expect(err.hint).toMatch(/readyTimeoutMs/);
    } finally {
      clearTimeout(late);
    }
  });
});

describe('jsBridgeTransport: issuance through the bridge', () => {
  it('appSecret issuance answered 3000 by the container names the operationType it sent (the issuance path, not the one the page called)', async () => {
    const calls = container({ error: 3000, errorMessage: 'operation not found' });
    const client = createClient({ profile: appSecret({ publicSecret: '0123456789abcdef' }), transport: jsBridgeTransport(), store: memoryStore() });
    const err = await failure(client.call('MYAPI', { a: '1' }));
    expect(err.gatewayCode).toBe(3000);
    expect(calls[0].operationType).not.toBe('MYAPI');
    expect(err.message).toContain(String(calls[0].operationType));
  });
});

describe('the container answering in shapes the FAQ does not list', () => {
  it('a failure handed over as a JSON string ({"error":10,…}) is the same failure, not business data', () => {
    const err = thrown(() => bridgeResponse('{"error":10,"errorMessage":"network unreachable"}'));
    expect(err.code).toBe('NETWORK');
    expect(err.gatewayCode).toBe(10);
  });

  it('{header, resData} handed over as a JSON string keeps its Result-Status (2000 login expired is not success)', async () => {
    const res = bridgeResponse('{"header":{"Result-Status":"2000","Memo":"login expired"},"resData":{"a":1}}');
    expect(res.headers['result-status']).toBe('2000');
    container('{"header":{"Result-Status":"2000","Memo":"login expired"},"resData":{"a":1}}');
    const client = createClient({ profile: mgs({ ...APP, signer: async () => 'signed-natively' }), transport: jsBridgeTransport(), store: memoryStore() });
    const err = await failure(client.call('MYAPI', {}));
    expect(err.gatewayCode).toBe(2000);
  });

  it('a JSON string body that is plain data keeps its exact text (no parse and re-stringify: digits are kept)', () => {
    expect(bridgeResponse('{"id":12345678901234567891}').body).toBe('{"id":12345678901234567891}');
  });
});

describe('installRpcShim: the page\'s mistakes get what the container gives, not a silent success', () => {
  const mgsClient = () => createClient({ profile: mgs(APP), transport: fetchTransport({ baseUrl: gateway.url }), store: memoryStore() });

  it('_requestBody as an object (not a JSON string): {error: 3002} as the gateway answers the container, and the operation never runs', async () => {
    const shim = installRpcShim(mgsClient(), { target: win as Record<string, unknown>, document: new EventTarget() as never });
    try {
      const data = (await pageCall({ operationType: 'MYAPI', requestData: [{ _requestBody: { a: '1' } }], headers: {}, getResponse: true })) as Record<string, unknown>;
      expect(data.error).toBe(3002);
      expect(data.errorMessage).toMatch(/_requestBody/);
      expect(received).toEqual([]);
    } finally {
      shim.uninstall();
    }
  });

  it('requestData as an object (not an array): {error: 3002}, not a call with the wrapper object as params', async () => {
    const shim = installRpcShim(mgsClient(), { target: win as Record<string, unknown>, document: new EventTarget() as never });
    try {
      const data = (await pageCall({ operationType: 'MYAPI', requestData: { _requestBody: '{"a":"1"}' }, headers: {}, getResponse: true })) as Record<string, unknown>;
      expect(data.error).toBe(3002);
      expect(data.errorMessage).toMatch(/requestData/);
      expect(received).toEqual([]);
    } finally {
      shim.uninstall();
    }
  });

  it('behind another dialect the same mistakes are the container\'s bad-parameters code 2', async () => {
    const seen: unknown[] = [];
    const shim = installRpcShim({ call: async (_op, params) => (seen.push(params), {}) }, { target: win as Record<string, unknown>, document: new EventTarget() as never });
    try {
      expect(await pageCall({ operationType: 'MYAPI', requestData: [{ _requestBody: { a: '1' } }] })).toMatchObject({ error: 2 });
      expect(await pageCall({ operationType: 'MYAPI', requestData: { a: '1' } })).toMatchObject({ error: 2 });
      expect(seen).toEqual([]);
    } finally {
      shim.uninstall();
    }
  });
});
