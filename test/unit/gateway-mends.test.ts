/**
 * Gateway mends: operation deadlines in every dialect, the issuance rate key, plain error
 * answers with a Date header, reserved mgs result codes, the shared app-secret sign and
 * session-key import, body reading.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../src/codec/base64.js';
import { generateEcdh } from '../../src/crypto/ec.js';
import { createClient, fetchTransport, memoryStore, type Transport, type WireRequest, type WireResponse } from '../../src/index.js';
import { gcmEncrypt, gcmSeal } from '../../src/crypto/aes.js';
import { randomBytes } from '../../src/crypto/provider.js';
import { appSecret, appSecretSign } from '../../src/profiles/app-secret.js';
import { mgs } from '../../src/profiles/mgs.js';
import { deriveSessionKeys, importSessionKeys, modern, requestAad } from '../../src/profiles/modern.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway, OperationError, raceTimeout, type Gateway, type GatewayProfile } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { toNodeHandler } from '../../src/server/node.js';
import { modern as modernGw } from '../../src/server/modern.js';
import { runCli, type CliIo } from '../../src/server/cli.js';
import { failure, listen, modernGateway, signingKey } from '../helpers/servers.js';

/** One HTTP request on 127.0.0.1 from a chosen local address (bounded by a 5 s timeout). */
function rawRequest(url: string, o: { method: string; localAddress: string; headers: Record<string, string>; body: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: o.method, localAddress: o.localAddress, headers: o.headers, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(o.body);
  });
}

function inProcess(gateway: Gateway, seen: WireResponse[] = []): Transport {
  return {
    async send(req: WireRequest): Promise<WireResponse> {
      const res = await gateway.handle(new Request('http://gw.test' + req.path, { method: req.method, headers: req.headers, body: req.body }));
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
      const wire = { status: res.status, headers, body: await res.text() };
      seen.push(wire);
      return wire;
    },
  };
}

const never = () => new Promise<never>(() => {});
const MGS_APP = { appId: 'APP_1', workspaceId: 'default', secret: 'mGs-SeCrEt-value' };

describe('raceTimeout', () => {
  it("gives the promise's value, or undefined after the deadline", async () => {
    expect(await raceTimeout(Promise.resolve(7), 1000)).toBe(7);
    expect(await raceTimeout(never(), 10)).toBeUndefined();
    await expect(raceTimeout(Promise.reject(new Error('x')), 1000)).rejects.toThrow('x');
  });
});

describe('operationTimeoutMs is enforced in every dialect', () => {
  it('app-secret: a success:false envelope with msg "timeout"', async () => {
    const publicSecret = 'pUbLiC-sEcReT-16';
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret }), operationTimeoutMs: 50 }).operation('/hang', never);
    const client = createClient({ profile: appSecret({ publicSecret }), transport: inProcess(gateway), store: memoryStore() });
    const e = await failure(client.call('/hang', {}));
    expect(e).toMatchObject({ code: 'GATEWAY', gatewayCode: 'TIMEOUT', message: 'timeout' });
  });

  it('sorted-sign: a business error with code TIMEOUT (no protocol code)', async () => {
    const appKey = 'aPpKeY-16-chars!';
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '10001': appKey } }), operationTimeoutMs: 50 }).operation('/hang', never);
    const client = createClient({ profile: sortedSign({ appId: '10001', appKey }), transport: inProcess(gateway), store: memoryStore() });
    const e = await failure(client.call('/hang', {}));
    expect(e).toMatchObject({ code: 'GATEWAY', gatewayCode: 'TIMEOUT' });
  });

  it('mgs: 4001 (back end timeout)', async () => {
    const gateway = createGateway({ profile: mgsGateway(MGS_APP), operationTimeoutMs: 50 }).operation('com.hang', never);
    const client = createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway), store: memoryStore() });
    const e = await failure(client.call('com.hang', {}));
    expect(e).toMatchObject({ code: 'GATEWAY', gatewayCode: 4001 });
  });

  it('modern: 503 GATEWAY_BUSY', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const hung = createGateway({ profile: gateway.profile, operationTimeoutMs: 50 }).operation('/hang', never);
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(hung), store: memoryStore() });
    const e = await failure(client.call('/hang', {}));
    expect(e).toMatchObject({ code: 'GATEWAY_BUSY', status: 503 });
  });
});

describe('HTTP_STATUS hints say what the status means', () => {
  it('a body over maxBodyBytes (413) is HTTP_STATUS whose hint names maxBodyBytes, not "check the base URL"; a 5xx hint says the server failed; a 404 keeps the path hint', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const small = createGateway({ profile: gateway.profile, maxBodyBytes: 2048 }).operation('/echo', (p) => p);
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(small), store: memoryStore() });
    expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
    const big = await failure(client.call('/echo', { a: 'x'.repeat(4096) }));
    expect(big).toMatchObject({ code: 'HTTP_STATUS', status: 413, gatewayCode: 'BODY_TOO_LARGE' });
    expect(big.hint).toMatch(/maxBodyBytes/);
    const answering = (status: number): Transport => ({ send: async () => ({ status, headers: {}, body: 'no' }) });
    for (const [status, hint] of [[502, /server failed/], [404, /base URL and path/]] as const) {
      const c = createClient({ profile: sortedSign({ appId: '10001', appKey: 'k'.repeat(16) }), transport: answering(status), store: memoryStore() });
      const e = await failure(c.call('/x', {}));
      expect(e).toMatchObject({ code: 'HTTP_STATUS', status });
      expect(e.hint).toMatch(hint);
    }
  });
});

describe('modern issuance', () => {
  async function issueRequest(headers: Record<string, string>, clientKey?: string): Promise<Request> {
    const body = JSON.stringify({ clientKey: clientKey ?? toBase64Url((await generateEcdh()).publicRaw) });
    return new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  }

  it("a client picks no bucket of its own: x-forwarded-for and x-sealed-rpc-peer headers are not keys; the Node adapter's socket address is", async () => {
    const { gateway } = await modernGateway({ issuesPerMinute: 2 });
    const statuses: number[] = [];
    // gateway.handle() called directly (another runtime, another adapter): every header is the client's own.
    for (const [peer, xff] of [['10.0.0.1', '1.1.1.1'], ['10.0.0.2', '2.2.2.2'], ['10.0.0.3', '3.3.3.3']])
      statuses.push((await gateway.handle(await issueRequest({ 'x-sealed-rpc-peer': peer, 'x-forwarded-for': xff }))).status);
    expect(statuses).toEqual([200, 200, 429]);
    // Through toNodeHandler over real HTTP: the bucket is the socket's address (127.0.0.1 vs 127.0.0.2), whatever the headers say.
    for (const path of ['wire-level', 'web Request'] as const) {
      const viaNode = (await modernGateway({ issuesPerMinute: 2 })).gateway;
      const srv = await listen(path === 'wire-level' ? toNodeHandler(viaNode) : toNodeHandler((r: Request) => viaNode.handle(r)));
      try {
        const issue = async (localAddress: string, peer: string) => {
          const body = JSON.stringify({ clientKey: toBase64Url((await generateEcdh()).publicRaw) });
          return (await rawRequest(srv.url + '/issue', { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'x-sealed-rpc-peer': peer }, body })).status;
        };
        const fromOne = [await issue('127.0.0.1', 'a'), await issue('127.0.0.1', 'b'), await issue('127.0.0.1', 'c')];
        const fromTwo = [await issue('127.0.0.2', 'a'), await issue('127.0.0.2', 'b'), await issue('127.0.0.2', 'c')];
        expect({ path, fromOne, fromTwo }).toEqual({ path, fromOne: [200, 200, 429], fromTwo: [200, 200, 429] });
      } finally {
        await srv.close();
      }
    }
  });

  it('tracks at most 10000 addresses: a new one past that gets 429 until a minute is over', async () => {
    let now = 1_800_000_000_000;
    const { gateway } = await modernGateway({ now: () => now, clientAddress: (r) => r.headers.get('x-test-addr') ?? 'unknown' });
    // A body that is refused after the rate check: cheap, and the address is tracked all the same.
    const send = async (addr: string) => (await gateway.handle(new Request('http://gw.test/issue', { method: 'POST', headers: { 'x-test-addr': addr }, body: '{}' }))).status;
    const statuses = new Set<number>();
    for (let i = 0; i < 10_000; i++) statuses.add(await send('a' + i));
    expect([...statuses]).toEqual([400]);
    expect(await send('new')).toBe(429);
    expect(await send('a5')).toBe(400); // a tracked address keeps its bucket
    now += 60_000;
    expect(await send('new')).toBe(400);
  });

  it('a client key that is not a P-256 point is 400 BAD_REQUEST', async () => {
    const { gateway } = await modernGateway();
    const offCurve = new Uint8Array(65).fill(1);
    offCurve[0] = 4;
    for (const key of [toBase64Url(offCurve), toBase64Url(new Uint8Array(33).fill(2))]) {
      const res = await gateway.handle(await issueRequest({}, key));
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'BAD_REQUEST' });
    }
  });

  it('a full credential table frees the expired credentials at the front', async () => {
    let now = 1_800_000_000_000;
    const { gateway } = await modernGateway({ now: () => now, maxCredentials: 2, credentialTtlMs: 1000 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await gateway.handle(await issueRequest({})).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 429]);
    now += 1000;
    expect((await gateway.handle(await issueRequest({}))).status).toBe(200);
    expect(gateway.stats().caches.credentials).toBe(1);
  });

  it('importSessionKeys gives the derived keys and zeroes z', async () => {
    const z = randomBytes(32);
    const salt = randomBytes(32);
    const raw = await deriveSessionKeys(z.slice(), salt, 'app-1');
    const keys = await importSessionKeys(z, salt, 'app-1');
    expect(z.every((b) => b === 0)).toBe(true);
    const iv = new Uint8Array(12);
    const pt = new TextEncoder().encode('hello');
    expect(await gcmSeal(keys.reqKey, pt, undefined, iv)).toEqual(await gcmSeal(raw.reqKey, pt, undefined, iv));
    expect(await gcmSeal(keys.resKey, pt, undefined, iv)).toEqual(await gcmSeal(raw.resKey, pt, undefined, iv));
  });
});

describe('plain error answers carry a Date header', () => {
  it('503 (maxInFlight), 408, 413 and 500, through gateway.handle with no adapter', async () => {
    const now = 1_800_000_000_000;
    const date = new Date(now).toUTCString();
    const publicSecret = 'pUbLiC-sEcReT-16';
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret }), now: () => now, maxInFlight: 1, maxBodyBytes: 10, bodyTimeoutMs: 100 });
    const issue = 'http://gw.test/secret_key/generate.json';
    const stalled = gateway.handle(new Request(issue, { method: 'POST', body: new ReadableStream({ start() {} }), duplex: 'half' } as RequestInit));
    const busy = await gateway.handle(new Request(issue, { method: 'POST', body: 'x' }));
    const slow = await stalled;
    const big = await gateway.handle(new Request(issue, { method: 'POST', body: 'x'.repeat(100) }));
    const broken: GatewayProfile = {
      name: 'broken',
      handle: async () => {
        throw new Error('detail');
      },
    };
    const internal = await createGateway({ profile: broken, now: () => now }).handle(new Request('http://gw.test/'));
    expect([busy, slow, big, internal].map((r) => r.status)).toEqual([503, 408, 413, 500]);
    for (const r of [busy, slow, big, internal]) {
      expect(r.headers.get('date')).toBe(date);
      expect(Object.keys(await r.json())).toEqual(['error', 'serverTime']);
    }
  });
});

describe('mgs: an operation cannot answer a protocol result code', () => {
  it('1000, 8001 and 7000–7019 become 6666 with the message kept, and the operation runs once', async () => {
    let runs = 0;
    const gateway = createGateway({ profile: mgsGateway(MGS_APP) }).operation('com.code', (p: { code: string }) => {
      runs++;
      throw new OperationError(p.code, 'said ' + p.code);
    });
    const seen: WireResponse[] = [];
    const client = createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway, seen), store: memoryStore() });
    for (const code of ['1000', '8001', '7000', '7002', '7003', '7019', '07003']) {
      runs = 0;
      seen.length = 0;
      expect(await failure(client.call('com.code', { code }))).toMatchObject({ code: 'GATEWAY', gatewayCode: 6666 });
      expect(runs).toBe(1);
      expect(seen).toHaveLength(1);
      expect(decodeURIComponent(seen[0].headers.tips)).toBe('said ' + code);
      expect(seen[0].headers.memo).toContain('said ' + code);
    }
    for (const code of [2000, 6666, 7020]) {
      expect(await failure(client.call('com.code', { code: String(code) }))).toMatchObject({ gatewayCode: code });
    }
  });

  it('an operation error whose message holds a lone surrogate is answered with its code (Tips with U+FFFD), not 500 after the operation ran', async () => {
    let runs = 0;
    const gateway = createGateway({ profile: mgsGateway(MGS_APP) }).operation('com.name', (p: { name: string }) => {
      runs++;
      throw new OperationError('6001', 'bad name: ' + p.name);
    });
    const seen: WireResponse[] = [];
    const client = createClient({ profile: mgs(MGS_APP), transport: inProcess(gateway, seen), store: memoryStore() });
    expect(await failure(client.call('com.name', { name: 'x\ud800' }))).toMatchObject({ code: 'GATEWAY', gatewayCode: 6001 });
    expect(seen[0].status).toBe(200);
    expect(decodeURIComponent(seen[0].headers.tips)).toBe('bad name: x\ufffd');
    expect(runs).toBe(1);
  });
});

describe('app-secret sign and body reading', () => {
  it('appSecretSign: values in sorted key order (sign left out), then the secret', async () => {
    const m = new Map([
      ['b', 'two'],
      ['a', 'one'],
      ['sign', 'ignored'],
    ]);
    expect(await appSecretSign(m, 'sEcReT', 'md5')).toBe(createHash('md5').update('onetwosEcReT').digest('hex'));
  });

  it('readText joins many tiny chunks (a character split across them), refuses invalid UTF-8 with 400, and keeps a leading byte order mark', async () => {
    const echo: GatewayProfile = { name: 'echo', handle: async (req, core) => new Response(await core.readText(req)) };
    const gateway = createGateway({ profile: echo });
    const bytesBody = (bytes: Uint8Array) =>
      new Request('http://gw.test/', {
        method: 'POST',
        body: new ReadableStream<Uint8Array>({
          start(c) {
            for (const b of bytes) c.enqueue(Uint8Array.of(b));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const text = 'x'.repeat(10_000) + '你好';
    const ok = await gateway.handle(bytesBody(new TextEncoder().encode(text)));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(text);
    const bad = await gateway.handle(bytesBody(Uint8Array.of(0x61, 0xff)));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'BAD_REQUEST' });
    // A leading byte order mark stays in the text (as Java's new String(bytes, UTF_8) keeps it): not the same body.
    // (Escaped on the way back: Response.text() would drop it again.)
    const escaping = createGateway({ profile: { name: 'escape', handle: async (req, core) => new Response(encodeURIComponent(await core.readText(req))) } });
    const bom = await escaping.handle(bytesBody(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61)));
    expect(await bom.text()).toBe('%EF%BB%BFa');
  });

  it('a modern call body with a UTF-8 byte order mark in front is 400 BAD_REQUEST (not strict base64url) on both Node paths; the same body without it is answered', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const sent: WireRequest[] = [];
    const recording: Transport = { send: async (r) => (sent.push(r), inProcess(gateway).send(r, {})) };
    const client = createClient({ profile: modern({ serverKeys }), transport: recording, store: memoryStore() });
    expect(await client.call('/echo', { a: '1' })).toEqual({ a: '1' });
    const call = sent.find((r) => r.path === '/echo')!;
    for (const handler of [toNodeHandler(gateway), toNodeHandler((r: Request) => gateway.handle(r))]) {
      const srv = await listen(handler);
      try {
        const send = (body: string) => rawRequest(srv.url + '/echo', { method: 'POST', localAddress: '127.0.0.1', headers: call.headers, body });
        const withBom = await send('\ufeff' + call.body!);
        expect(withBom.status).toBe(400);
        expect(JSON.parse(withBom.body)).toMatchObject({ error: 'BAD_REQUEST' });
        const replays = gateway.stats().rejections.REPLAYED_REQUEST ?? 0;
        expect((await send(call.body!)).status).toBe(200); // read, authenticated, and answered: a sealed REPLAYED_REQUEST (it was sent before)
        expect(gateway.stats().rejections.REPLAYED_REQUEST).toBe(replays + 1);
      } finally {
        await srv.close();
      }
    }
  });
});

describe('modern issuance refuses a bad client key before making any key', () => {
  it('an off-curve client key -> 400, and the gateway never generated an ephemeral key pair for it', async () => {
    const { createGateway: cg, modern: mg } = await import('../../src/server/index.js');
    const { signingKey: sk } = await import('../helpers/servers.js');
    const { generateEcdh } = await import('../../src/crypto/ec.js');
    const key = await sk();
    let generated = 0;
    const gw = cg({ profile: mg({ signingKeys: { k1: key.pem }, ephemeral: () => (generated++, generateEcdh()) }) });
    const offCurve = new Uint8Array(65);
    offCurve[0] = 4;
    offCurve[64] = 1;
    const clientKey = Buffer.from(offCurve).toString('base64url');
    const res = await gw.handle(new Request('http://gw/issue', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey }) }));
    expect(res.status).toBe(400);
    expect(generated).toBe(0);
  });
});

describe('gateway mends from the fourth review', () => {
  const KEY = 'aPpKeY-16-chars!';
  const PUBLIC = 'pUbLiC-sEcReT-16';

  it('toNodeHandler with basePath: `/api?query` reaches the gateway as `/api/?query` does (was 400)', async () => {
    const gw = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }) }).operation('/', (p) => p);
    const srv = await listen(toNodeHandler(gw, { basePath: '/api' }));
    try {
      const slash = await fetch(srv.url + '/api/?appId=9&params=00');
      const bare = await fetch(srv.url + '/api?appId=9&params=00');
      expect([slash.status, bare.status]).toEqual([200, 200]);
      // The same plain refusal (unknown app) from the sorted-sign profile, not the adapter's 400.
      expect([JSON.parse(await bare.text()).code, JSON.parse(await slash.text()).code]).toEqual([1000, 1000]);
    } finally {
      await srv.close();
    }
  });

  it('toNodeHandler writes every Set-Cookie of a wrapped handler, not only the last', async () => {
    const srv = await listen(toNodeHandler(async () => new Response('ok', { headers: new Headers([['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-other', 'y']]) })));
    try {
      const res = await fetch(srv.url + '/');
      expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(res.headers.get('x-other')).toBe('y');
    } finally {
      await srv.close();
    }
  });

  it('mgs: an operation message echoing 2 000 CJK characters reaches the page as its result code over HTTP: Tips cut to 200 characters, the body keeps it all', async () => {
    const gw = createGateway({ profile: mgsGateway(MGS_APP) }).operation('op', (p: { q: string }) => {
      throw new OperationError('6001', `no such item: ${p.q}`);
    });
    const srv = await listen(toNodeHandler(gw));
    try {
      const client = createClient({ profile: mgs(MGS_APP), transport: fetchTransport({ baseUrl: srv.url }), store: memoryStore() });
      const e = await failure(client.call('op', { q: '你'.repeat(2000) }));
      expect([e.code, e.gatewayCode]).toEqual(['GATEWAY', 6001]);
      expect(e.details?.tips).toBe(`no such item: ${'你'.repeat(186)}`);
    } finally {
      await srv.close();
    }
    // A surrogate pair is never cut in half at the 200th unit.
    const emoji = createGateway({ profile: mgsGateway(MGS_APP) }).operation('op', () => {
      throw new OperationError('6001', 'x' + '😀'.repeat(150));
    });
    const seen: WireResponse[] = [];
    await failure(createClient({ profile: mgs(MGS_APP), transport: inProcess(emoji, seen), store: memoryStore() }).call('op', {}));
    expect(decodeURIComponent(seen[0].headers.tips)).toBe('x' + '😀'.repeat(99));
  });

  it('a signed param named __proto__ reaches the operation as its own key (sorted-sign, app-secret), not dropped; Object.prototype untouched', async () => {
    const params = JSON.parse('{"__proto__":"x","a":"1"}');
    const seen: Record<string, string>[] = [];
    const record = (p: Record<string, string>) => (seen.push(p), 'ok');
    const g1 = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }) }).operation('/k', record);
    await createClient({ profile: sortedSign({ appId: '1', appKey: KEY }), transport: inProcess(g1), store: memoryStore() }).call('/k', params);
    const g2 = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC }) }).operation('/k', record);
    await createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(g2), store: memoryStore() }).call('/k', params);
    for (const p of seen) {
      expect(Object.hasOwn(p, '__proto__') && p['__proto__' as never]).toBe('x');
      expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    }
    expect(seen).toHaveLength(2);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('a result JSON cannot write (a BigInt) is the dialect\'s business error after the operation ran, not a plain 500: modern, sorted-sign and app-secret INTERNAL, mgs 4002', async () => {
    const bigint = () => ({ n: 10n });
    const { gateway: g0, serverKeys } = await modernGateway();
    g0.operation('/x', bigint);
    const e0 = await failure(createClient({ profile: modern({ serverKeys }), transport: inProcess(g0), store: memoryStore() }).call('/x', {}));
    expect([e0.code, e0.gatewayCode, e0.message, g0.stats().executions]).toEqual(['GATEWAY', 'INTERNAL', 'the result could not be serialized', 1]);
    const g1 = createGateway({ profile: sortedSignGateway({ apps: { '1': KEY } }) }).operation('/x', bigint);
    const e1 = await failure(createClient({ profile: sortedSign({ appId: '1', appKey: KEY }), transport: inProcess(g1), store: memoryStore() }).call('/x', {}));
    expect([e1.code, e1.gatewayCode, e1.message, g1.stats().executions]).toEqual(['GATEWAY', 'INTERNAL', 'the result could not be serialized', 1]);
    const g2 = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC }) }).operation('/x', bigint);
    const e2 = await failure(createClient({ profile: appSecret({ publicSecret: PUBLIC }), transport: inProcess(g2), store: memoryStore() }).call('/x', {}));
    expect([e2.code, e2.gatewayCode, e2.message, g2.stats().executions]).toEqual(['GATEWAY', 'INTERNAL', 'the result could not be serialized', 1]);
    const g3 = createGateway({ profile: mgsGateway(MGS_APP) }).operation('x', bigint);
    const e3 = await failure(createClient({ profile: mgs(MGS_APP), transport: inProcess(g3), store: memoryStore() }).call('x', {}));
    expect([e3.code, e3.gatewayCode, g3.stats().executions]).toEqual(['GATEWAY', 4002, 1]);
  });

  it('modern: an authenticated call whose params are nested past what JSON.stringify can write is 400 BAD_REQUEST, not a 500 reported as an internal error', async () => {
    const internal: unknown[] = [];
    const key = await signingKey();
    const gateway = createGateway({ profile: modernGw({ signingKeys: { k1: key.pem } }), onInternalError: (e) => internal.push(e) }).operation('/echo', (p) => p);
    const send = inProcess(gateway).send;
    const cred = (await modern({ serverKeys: { k1: key.jwk } }).issue!({ now: Date.now, random: randomBytes, parseJson: JSON.parse, send: (r) => send(r, {}) })).value;
    const plaintext = new TextEncoder().encode('{"id":"a","params":' + '['.repeat(20000) + ']'.repeat(20000) + '}');
    const ts = String(Date.now());
    const nonce = toBase64Url(randomBytes(16));
    const iv = randomBytes(12);
    const body = toBase64Url(iv) + toBase64Url(await gcmEncrypt(cred.reqKey, plaintext, requestAad(cred.appId, '/echo', ts, nonce), iv));
    const res = await send({ path: '/echo', method: 'POST', headers: { 'content-type': 'text/plain', 'x-app-id': cred.appId, 'x-op': '/echo', 'x-ts': ts, 'x-nonce': nonce }, body, operationType: '/echo' }, {});
    expect([res.status, JSON.parse(res.body).error]).toEqual([400, 'BAD_REQUEST']);
    expect(internal).toEqual([]);
  });

  it('stats().rejections counts a code named like an Object.prototype member (constructor, toString) as a number', async () => {
    let code = 'constructor';
    const g = createGateway({ profile: { name: 'p', handle: async (_r, core) => (core.reject(code), new Response('')) } });
    await g.handle(new Request('http://x/'));
    code = 'toString';
    await g.handle(new Request('http://x/'));
    await g.handle(new Request('http://x/'));
    expect(g.stats().rejections).toEqual({ constructor: 1, toString: 2 });
  });

  it('number options that are NaN or Infinity are refused at construction naming the option (modern windowMs NaN turned replay protection off)', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----';
    for (const name of ['windowMs', 'credentialTtlMs', 'maxNonces', 'maxCredentials', 'issuesPerMinute', 'callsPerMinute', 'maxRequestIds', 'maxStoredBytes'])
      for (const bad of [NaN, Infinity, 0, -1, '5' as unknown as number])
        expect(() => modernGw({ signingKeys: { k1: pem }, [name]: bad }), `${name}: ${String(bad)}`).toThrow(new TypeError(`modern gateway: ${name} must be a positive number`));
    expect(() => sortedSignGateway({ apps: { '1': KEY }, windowMs: Infinity })).toThrow('sortedSign gateway: windowMs must be a positive number');
    expect(() => sortedSignGateway({ apps: { '1': KEY }, maxSafeCodes: NaN })).toThrow('sortedSign gateway: maxSafeCodes must be a positive number');
    expect(() => mgsGateway({ ...MGS_APP, windowMs: NaN })).toThrow('mgs gateway: windowMs must be a positive number');
    expect(() => appSecretGateway({ publicSecret: PUBLIC, credentialTtlMs: Infinity })).toThrow('appSecret gateway: credentialTtlMs must be a positive number');
  });

  it('createGateway timer options past what a timer can wait (2^31 ms fired at once: every POST was 408) are refused naming the option', () => {
    const profile = sortedSignGateway({ apps: { '1': KEY } });
    for (const option of ['bodyTimeoutMs', 'operationTimeoutMs'])
      expect(() => createGateway({ profile, [option]: 2 ** 31 }), option).toThrow(`createGateway: ${option} must be at most 2147483647 ms`);
    expect(() => createGateway({ profile, bodyTimeoutMs: 2 ** 31 - 1, operationTimeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });

  it('modern: signingKeys written the wrong way round ({ [pem]: kid }) is refused without the private key in the message', async () => {
    const key = await signingKey();
    let message = '';
    try {
      modernGw({ signingKeys: { [key.pem]: 'k1' } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('modern gateway: signingKeys has a key (number 1) whose kid is not 1–64 characters of A-Z a-z 0-9 . _ -');
  });

  it('modern: with several signing keys and a kid that looks like a number, activeKid must be named (such kids are listed in numeric order, not as written); other kids keep "the first written"', async () => {
    const [a, b] = [await signingKey(), await signingKey()];
    expect(() => modernGw({ signingKeys: { '2': b.pem, '1': a.pem } })).toThrow('modern gateway: activeKid is required when a kid looks like a number');
    // Epoch-second kids are array indices too (up to 2^32 − 2), reordered the same way.
    expect(() => modernGw({ signingKeys: { '1719000000': b.pem, '1700000000': a.pem } })).toThrow('modern gateway: activeKid is required when a kid looks like a number');
    expect(() => modernGw({ signingKeys: { '4294967295': b.pem, '01': a.pem } })).not.toThrow(); // not indices: kept as written
    const byOrder = createGateway({ profile: modernGw({ signingKeys: { new: b.pem, old: a.pem } }) }).operation('/echo', (p) => p);
    const newOnly = createClient({ profile: modern({ serverKeys: { new: b.jwk } }), transport: inProcess(byOrder), store: memoryStore() });
    await expect(newOnly.call('/echo', { a: '1' })).resolves.toEqual({ a: '1' });
    const gateway = createGateway({ profile: modernGw({ signingKeys: { '2': b.pem, '1': a.pem }, activeKid: '2' }) }).operation('/echo', (p) => p);
    const client = createClient({ profile: modern({ serverKeys: { '2': b.jwk } }), transport: inProcess(gateway), store: memoryStore() });
    await expect(client.call('/echo', { a: '1' })).resolves.toEqual({ a: '1' });
  });

  it('keygen-rsa whose public key file exists: exit 1 and the private key it had written is taken back', async () => {
    const files = new Map<string, unknown>([['pub.pem', 'OLD']]);
    const err: string[] = [];
    const io: CliIo = {
      readFile: async () => new Uint8Array(),
      stdout() {},
      stderr: (t) => void err.push(t),
      writeFile: async (p, d, o) => {
        if (o?.exclusive && files.has(p)) throw new Error(`EEXIST: ${p}`);
        files.set(p, d);
      },
      removeFile: async (p) => void files.delete(p),
    };
    expect(await runCli(['keygen-rsa', '-o', 'priv.pem', '--pub', 'pub.pem'], io)).toBe(1);
    expect([...files.keys()]).toEqual(['pub.pem']);
    expect(files.get('pub.pem')).toBe('OLD');
    expect(err.join('')).toContain('EEXIST: pub.pem');
  });
});

describe('modern: check order (PROTOCOLS §4 step 1)', () => {
  it('an unknown x-op is 404 NOT_FOUND whatever the method; a known one sent with GET is 400', async () => {
    const { gateway } = await modernGateway();
    const get = (op: string) => gateway.handle(new Request('http://gw.test' + op, { method: 'GET', headers: { 'x-op': op } }));
    const unknown = await get('/nope');
    const known = await get('/echo');
    expect([unknown.status, (await unknown.json()).error, known.status, (await known.json()).error]).toEqual([404, 'NOT_FOUND', 400, 'BAD_REQUEST']);
  });
});

describe('gateway clock', () => {
  it('a now() with a fraction (performance.timeOrigin + performance.now()) still gives whole-millisecond times: modern issues and calls work', async () => {
    const { gateway, serverKeys } = await modernGateway({ now: () => Date.now() + 0.625 });
    const sent: WireResponse[] = [];
    const client = createClient({ profile: modern({ serverKeys }), transport: inProcess(gateway, sent), store: memoryStore() });
    await expect(client.call('/echo', { a: '1' })).resolves.toEqual({ a: '1' });
    const issued = JSON.parse(sent[0].body) as { serverTime: string; expiresAt: string };
    expect(issued.serverTime).toMatch(/^[0-9]{1,16}$/);
    expect(issued.expiresAt).toMatch(/^[0-9]{1,16}$/);
  });
});

describe("the operator's own now and random are checked where they are read", () => {
  it('a now() giving NaN fails closed: a sorted-sign request dated 1970 is a plain 500 (not served inside a "window" NaN never leaves), the operation not run, onInternalError told', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { 7: 'aPpKeY-16-chars!' } }), now: () => NaN, onInternalError: (e) => errors.push(e) }).operation('/x', (p) => (runs++, p));
    const client = createClient({ profile: sortedSign({ appId: 7, appKey: 'aPpKeY-16-chars!', method: 'POST' }), transport: inProcess(gateway), clock: { now: () => 5 } });
    const e = await failure(client.call('/x', { a: '1' }));
    expect([e.code, e.status]).toEqual(['HTTP_STATUS', 500]);
    expect(runs).toBe(0);
    expect(errors.map(String)).toEqual(['TypeError: createGateway: now() must return epoch ms as a finite number']);
  });

  it('a random giving fewer bytes than asked: a modern issuance is a plain 500, nothing issued; now, random or onInternalError that is not a function is refused at construction', async () => {
    const key = await signingKey();
    const errors: unknown[] = [];
    const gateway = createGateway({ profile: modernGw({ signingKeys: { k1: key.pem } }), random: (n) => new Uint8Array(n - 1), onInternalError: (e) => errors.push(e) });
    const client = createClient({ profile: modern({ serverKeys: { k1: key.jwk } }), transport: inProcess(gateway), store: memoryStore() });
    const e = await failure(client.call('/x', {}));
    expect([e.code, e.status]).toEqual(['HTTP_STATUS', 500]);
    expect(gateway.stats().caches).toMatchObject({ credentials: 0 });
    expect(String(errors[0])).toMatch(/random\(\d+\) must return a Uint8Array of \d+ bytes/);
    for (const name of ['now', 'random', 'onInternalError'])
      expect(() => createGateway({ profile: modernGw({ signingKeys: { k1: key.pem } }), [name]: 5 })).toThrow(`createGateway: ${name} must be a function`);
  });
});
