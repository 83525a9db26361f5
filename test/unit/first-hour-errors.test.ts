/**
 * The first hour of a developer wiring the SDK to a back end: the realistic mistakes, each against a
 * real server on 127.0.0.1 (the project's gateway through toNodeHandler, or a plain node:http server
 * that answers as real infrastructure does). Each test pins what the developer is shown where it
 * used to mislead: the wrong code, or a hint that blames the secret when it is the path.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, appSecret, sortedSign, mgs, modern, fetchTransport, memoryStore, type RpcError } from '../../src/index.js';
import { createGateway, appSecret as appSecretGateway, modern as modernGatewayProfile, sortedSign as sortedSignGateway, mgs as mgsGateway, toNodeHandler } from '../../src/server/index.js';
import { failure, listen, modernGateway, serveGateway, type Running } from '../helpers/servers.js';

const PUBLIC_SECRET = '0123456789abcdef';
const APP_KEY = 'abcdef0123456789';
const MGS_SECRET = 'mgs-secret-never-in-errors';
const SECRETS = [PUBLIC_SECRET, APP_KEY, MGS_SECRET];

/** Everything a developer can print of an error: none of it may hold a secret. */
function shown(e: RpcError): string {
  return [e.code, e.message, e.hint, String(e), JSON.stringify(e)].join('\n');
}
function noSecret(e: RpcError): void {
  for (const s of SECRETS) expect(shown(e)).not.toContain(s);
}

const started: Running[] = [];
async function serve(r: Promise<Running>): Promise<Running> {
  const s = await r;
  started.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

/** A single-page app's host: index.html with 200 for every path (history-API fallback). */
const spa = () => serve(listen((_req, res) => (res.setHeader('content-type', 'text/html'), res.end('<!doctype html><html><head><title>app</title></head><body><div id="app"></div></body></html>'))));

let modernGw: Awaited<ReturnType<typeof modernGateway>>;
beforeAll(async () => {
  modernGw = await modernGateway();
});

const modernClient = (baseUrl: string, o: Partial<Parameters<typeof modern>[0]> = {}) =>
  createClient({ profile: modern({ serverKeys: modernGw.serverKeys, ...o }), transport: fetchTransport({ baseUrl }), store: memoryStore(), timeoutMs: 5000 });

describe('modern: the issuance request reaches no issuance endpoint', () => {
  it.each([
    ['baseUrl has a path prefix the gateway does not have', '/v1', {}, undefined],
    ['the client sets issuePath, the gateway keeps the default', '', { issuePath: '/auth/issue' }, undefined],
    ['the gateway sets issuePath, the client keeps the default', '', {}, '/auth/issue'],
  ] as const)('%s: HTTP_STATUS naming issuePath and baseUrl, not BAD_REQUEST "check the parameters"', async (_what, prefix, clientOptions, gatewayIssuePath) => {
    const gateway = gatewayIssuePath
      ? createGateway({ profile: modernGatewayProfile({ signingKeys: { k1: modernGw.pem }, issuePath: gatewayIssuePath }) }).operation('/echo', (p) => p)
      : modernGw.gateway;
    const gw = await serve(serveGateway(gateway));
    const e = await failure(modernClient(gw.url + prefix, clientOptions).call('/echo', { a: '1' }));
    // Before: BAD_REQUEST, "the gateway answered 400 BAD_REQUEST", "The request was refused as malformed; check the parameters."
    expect(e.code).toBe('HTTP_STATUS');
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/issu/);
    expect(e.hint).toMatch(/issuePath/);
    expect(e.hint).toMatch(/baseUrl/);
    expect(e.hint).not.toMatch(/parameters/);
  });

  it("an SPA's index.html (200) where the gateway should be: RESPONSE_UNREADABLE naming baseUrl and issuePath, not modern's non-existent secret and cipher options", async () => {
    const host = await spa();
    const e = await failure(modernClient(host.url).call('/echo', { a: '1' }));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    // Before: "The response could not be decrypted or parsed; check that the secret and cipher options match the gateway."
    expect(e.hint).not.toMatch(/secret|cipher/);
    expect(e.hint).toMatch(/baseUrl/);
  });
});

describe('modern: serverKeys and operations', () => {
  it("serverKeys pins another gateway's public key: SIGNATURE_INVALID whose hint names serverKeys, not a secret, digest and key derivation modern does not have", async () => {
    const gw = await serve(serveGateway(modernGw.gateway));
    const other = await modernGateway();
    const e = await failure(modernClient(gw.url, { serverKeys: other.serverKeys }).call('/echo', { a: '1' }));
    expect(e.code).toBe('SIGNATURE_INVALID');
    // Before: "The signature did not verify; check that client and gateway use the same secret, digest and key derivation."
    expect(e.hint).toMatch(/serverKeys/);
    expect(e.hint).not.toMatch(/digest|derivation/);
    expect(shown(e)).not.toContain(modernGw.pem.split('\n')[1]);
  });

  it.each([
    ['an operation the gateway did not register', '/nope'],
    ['the registered name without its leading slash', 'echo'],
  ])('%s: HTTP_STATUS 404 (gatewayCode NOT_FOUND) whose hint names operationType, not only "check the base URL"', async (_what, op) => {
    const gw = await serve(serveGateway(modernGw.gateway));
    const e = await failure(modernClient(gw.url).call(op, { a: '1' }));
    expect(e).toMatchObject({ code: 'HTTP_STATUS', status: 404, gatewayCode: 'NOT_FOUND' });
    // Before: "The server answered with an unexpected HTTP status; check the base URL and path."
    expect(e.hint).toMatch(/operationType/);
  });
});

describe('legacy dialects: an HTML page where the gateway should be', () => {
  it("app-secret: an SPA's index.html is RESPONSE_UNREADABLE naming baseUrl, not blaming publicSecret", async () => {
    const host = await spa();
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: fetchTransport({ baseUrl: host.url }), store: memoryStore() });
    const e = await failure(client.call('/api/echo', { a: '1' }));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    // Before: "The issuance answer did not decrypt under publicSecret: publicSecret probably differs from the gateway’s (…)"
    expect(e.hint).not.toMatch(/publicSecret/);
    expect(e.hint).toMatch(/baseUrl/);
    noSecret(e);
  });

  it("sorted-sign: an SPA's index.html is RESPONSE_UNREADABLE naming baseUrl, not blaming appKey", async () => {
    const host = await spa();
    const client = createClient({ profile: sortedSign({ appId: 10001, appKey: APP_KEY }), transport: fetchTransport({ baseUrl: host.url }) });
    const e = await failure(client.call('/api/verify', { a: '1' }));
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    // Before: "The answer did not decrypt under appKey: appKey probably differs from the gateway’s (…)"
    expect(e.hint).not.toMatch(/appKey/);
    expect(e.hint).toMatch(/baseUrl/);
    noSecret(e);
  });

  it('app-secret: client and gateway on different issuePath: the 404 of the issuance request names issuePath', async () => {
    const gw = await serve(serveGateway(createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET, issuePath: '/auth/generate.json' }) }).operation('/api/echo', (p) => p)));
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: fetchTransport({ baseUrl: gw.url }), store: memoryStore() });
    const e = await failure(client.call('/api/echo', { a: '1' }));
    expect(e).toMatchObject({ code: 'HTTP_STATUS', status: 404 });
    // Before: "the gateway answered HTTP 404" / "check the base URL and path", for a call whose own path exists.
    expect(e.message).toMatch(/issu/);
    expect(e.hint).toMatch(/issuePath/);
    noSecret(e);
  });
});

describe("sorted-sign: method 'GET' with large params", () => {
  it("a URL longer than the server takes (Node: 431) is HTTP_STATUS whose hint says method: 'POST', not \"check the base URL and path\"", async () => {
    const gw = await serve(serveGateway(createGateway({ profile: sortedSignGateway({ apps: { '10001': APP_KEY } }) }).operation('/api/verify', (p) => p)));
    const client = createClient({ profile: sortedSign({ appId: 10001, appKey: APP_KEY }), transport: fetchTransport({ baseUrl: gw.url }) });
    const e = await failure(client.call('/api/verify', { text: 'x'.repeat(40_000) }));
    expect(e.code).toBe('HTTP_STATUS');
    expect([414, 431]).toContain(e.status);
    expect(e.hint).toMatch(/POST/);
    noSecret(e);
    // The same params as POST go through: the hint's remedy works.
    const post = createClient({ profile: sortedSign({ appId: 10001, appKey: APP_KEY, method: 'POST' }), transport: fetchTransport({ baseUrl: gw.url }) });
    expect(await post.call('/api/verify', { text: 'x'.repeat(40_000) })).toEqual({ text: 'x'.repeat(40_000) });
  });
});

describe('call() with params JSON cannot carry', () => {
  const cycle = (): Record<string, unknown> => {
    const o: Record<string, unknown> = { a: '1' };
    o.self = o;
    return o;
  };
  it.each([
    ['a BigInt', () => ({ n: 10n })],
    ['a cycle', cycle],
  ])('modern, %s: BAD_REQUEST saying the params are not JSON, not "the request could not be sealed"', async (_what, params) => {
    const gw = await serve(serveGateway(modernGw.gateway));
    const e = await failure(modernClient(gw.url).call('/echo', params()));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toMatch(/JSON/);
  });

  it.each([
    ['a BigInt', () => ({ n: 10n })],
    ['a cycle', cycle],
  ])('mgs, %s: BAD_REQUEST saying the params are not JSON, not "the request could not be sealed"', async (_what, params) => {
    const gw = await serve(serveGateway(createGateway({ profile: mgsGateway({ appId: 'APP1', workspaceId: 'ws', secret: MGS_SECRET }) }).operation('echo.op', (p) => p)));
    const client = createClient({ profile: mgs({ appId: 'APP1', workspaceId: 'ws', secret: MGS_SECRET }), transport: fetchTransport({ baseUrl: gw.url }) });
    const e = await failure(client.call('echo.op', params()));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toMatch(/JSON/);
    noSecret(e);
  });
});

describe('createClient and fetchTransport options', () => {
  it("timeoutMs: '5000' (a string from an environment variable): the message says it must be a number, not only \"1 to 2147483647 ms\", which 5000 is", () => {
    let e: RpcError | undefined;
    try {
      createClient({ profile: modern({ serverKeys: modernGw.serverKeys }), transport: fetchTransport({ baseUrl: 'http://127.0.0.1:1' }), timeoutMs: '5000' as unknown as number });
    } catch (x) {
      e = x as RpcError;
    }
    expect(e).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'timeoutMs' } });
    expect(e!.message).toMatch(/number/);
  });

  it.each(['localhost:8080', '127.0.0.1:8080'])("baseUrl %s (no http://): BAD_CONFIG naming baseUrl at fetchTransport, not a retryable NETWORK at every call", async (baseUrl) => {
    let e: RpcError | undefined;
    try {
      const client = createClient({ profile: modern({ serverKeys: modernGw.serverKeys }), transport: fetchTransport({ baseUrl }), store: memoryStore() });
      await client.call('/echo', {});
    } catch (x) {
      e = x as RpcError;
    }
    // Before: NETWORK, retryable, "check connectivity and the base URL", only once a call was made
    // (in a browser, 127.0.0.1:8080 is a path on the page's own origin).
    expect(e).toMatchObject({ code: 'BAD_CONFIG', details: { option: 'baseUrl' } });
    expect(e!.message).toMatch(/http/);
  });

  it('control: a path baseUrl (/gw, gw), a scheme with // (app://gw: a web view\'s own scheme handler) and a custom fetch with its own scheme stay accepted', () => {
    expect(() => fetchTransport({ baseUrl: '/gw' })).not.toThrow();
    expect(() => fetchTransport({ baseUrl: 'app://gw' })).not.toThrow();
    expect(() => fetchTransport({ baseUrl: 'https://gw.example.com:8443/api' })).not.toThrow();
    expect(() => fetchTransport({ baseUrl: 'gw' })).not.toThrow();
    expect(() => fetchTransport({ baseUrl: '' })).not.toThrow();
    expect(() => fetchTransport({ baseUrl: 'app://gw', fetch: (async () => new Response('')) as typeof fetch })).not.toThrow();
  });
});
