/**
 * The first hour of a back-end developer putting the gateway behind an existing Node server: the
 * realistic mistakes, each against a real node:http server on 127.0.0.1 with a real SDK client
 * (createClient + fetchTransport). Each test pins what the developer is shown where it used to
 * mislead or say nothing: a config mistake must fail at construction naming the option; a server
 * mistake (a body parser in front of the gateway) must be told to the operator, not blamed on the
 * client's secret or path. (The table of everything tried is in the review report.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, appSecret, sortedSign, mgs, modern, fetchTransport, memoryStore, type Profile } from '../../src/index.js';
import { createGateway, appSecret as appSecretGateway, modern as modernGateway, sortedSign as sortedSignGateway, mgs as mgsGateway, toNodeHandler, type Gateway } from '../../src/server/index.js';
import { failure, listen, signingKey, type Running } from '../helpers/servers.js';

const PUBLIC_SECRET = '0123456789abcdef';
const APP_KEY = 'abcdef0123456789';
const MGS_SECRET = 'mgs-secret-never-in-errors';

const started: Running[] = [];
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Running> {
  const s = await listen(handler);
  started.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

let key: { pem: string; jwk: JsonWebKey };
let dir: string;
beforeAll(async () => {
  key = await signingKey();
  dir = mkdtempSync(join(tmpdir(), 'gateway-first-hour-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The key's base64 body lines: none may appear in a message. */
const keyLines = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'));

describe('modern: signingKeys in a form it cannot sign with fails at construction, naming signingKeys and the kid', () => {
  // Before: every one of these built a gateway; the first client call got HTTP 500 ("try again
  // later"), and the operator saw nothing unless onInternalError was set, then "base64: invalid
  // character" or "P-256 private key must be 32 bytes" (for a PEM file read as a Buffer).
  const openssl = (args: string[], input?: string) => execFileSync('openssl', args, input === undefined ? {} : { input }).toString();
  const forms: [string, () => unknown, RegExp][] = [
    ['the public key PEM (openssl pkey -pubout)', () => openssl(['pkey', '-pubout'], key.pem), /public key/],
    ['the public JWK that clients pin', () => key.jwk, /public key|JWK/],
    ["a SEC1 'EC PRIVATE KEY' PEM (what openssl ecparam -genkey writes)", () => openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']), /openssl pkcs8 -topk8/],
    ['a secp256k1 PKCS#8 key', () => openssl(['pkcs8', '-topk8', '-nocrypt'], openssl(['ecparam', '-name', 'secp256k1', '-genkey', '-noout'])), /prime256v1|P-256/],
    ['a file path instead of its contents', () => (writeFileSync(join(dir, 'key.pem'), key.pem), join(dir, 'key.pem')), /file|contents|text/],
    ["the file read without 'utf8' (a Buffer of PEM text)", () => (writeFileSync(join(dir, 'key.pem'), key.pem), readFileSync(join(dir, 'key.pem'))), /utf8|text|string/],
    ['a PEM from a .env file with literal \\n', () => key.pem.replace(/\n/g, '\\n'), /\\n/],
    ['an unset environment variable (undefined)', () => undefined, /PEM|string/],
  ];
  it.each(forms)('%s', (_what, make, why) => {
    const value = make();
    let message = '';
    try {
      modernGateway({ signingKeys: { k1: value as string } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/signingKeys/);
    expect(message).toMatch(/\bk1\b/);
    expect(message).toMatch(why);
    for (const line of keyLines(key.pem)) expect(message).not.toContain(line);
  });

  it('a key that is not the active one is checked too (it signs once activeKid points at it)', () => {
    expect(() => modernGateway({ signingKeys: { now: key.pem, next: key.jwk as unknown as string } })).toThrow(/signingKeys.*\bnext\b/);
  });

  it('control: the PKCS#8 PEM, its base64 body alone, and a 32-byte scalar are accepted', () => {
    const der = Buffer.from(keyLines(key.pem).join(''), 'base64');
    expect(() => modernGateway({ signingKeys: { k1: key.pem } })).not.toThrow();
    expect(() => modernGateway({ signingKeys: { k1: keyLines(key.pem).join('') } })).not.toThrow();
    expect(() => modernGateway({ signingKeys: { k1: new Uint8Array(32).fill(7) } })).not.toThrow();
    expect(der.length).toBeGreaterThan(32);
  });
});

/** A minimal connect/Express-style app (no express in node_modules): app.use([mountPath], fn). */
type Mw = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
function app(...stack: Mw[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let i = 0;
    const next = (err?: unknown) => {
      const fn = stack[i++];
      if (err !== undefined || !fn) {
        res.statusCode = err === undefined ? 404 : 500;
        res.end();
        return;
      }
      fn(req, res, next);
    };
    next();
  };
}
/** body-parser's way (express.json(), .text(), .urlencoded()): reads the whole body when the type matches, sets req.body. */
const bodyParser =
  (type: RegExp): Mw =>
  (req, _res, next) => {
    if (!type.test(req.headers['content-type'] ?? '') || !(req.headers['content-length'] || req.headers['transfer-encoding'])) return next();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      (req as IncomingMessage & { body?: string }).body = Buffer.concat(chunks).toString();
      next();
    });
  };
const json = bodyParser(/json/);
const text = bodyParser(/^text\/plain/);
const urlencoded = bodyParser(/x-www-form-urlencoded/);

describe('a body parser mounted before toNodeHandler (the body already read): the operator is told, the client is not sent after its secret or path', () => {
  type Case = [string, Mw, (onInternalError: (e: unknown) => void) => Gateway, () => Profile, string];
  const cases: Case[] = [
    ['express.json() before a modern gateway (its issuance is JSON)', json, (o) => createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }), onInternalError: o }).operation('/echo', (p) => p), () => modern({ serverKeys: { k1: key.jwk } }), '/echo'],
    ['express.text() before a modern gateway (its calls are text/plain)', text, (o) => createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }), onInternalError: o }).operation('/echo', (p) => p), () => modern({ serverKeys: { k1: key.jwk } }), '/echo'],
    ['express.urlencoded() before an app-secret gateway', urlencoded, (o) => createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), onInternalError: o }).operation('/echo', (p) => p), () => appSecret({ publicSecret: PUBLIC_SECRET }), '/echo'],
    ["express.json() before a sorted-sign gateway (method: 'POST')", json, (o) => createGateway({ profile: sortedSignGateway({ apps: { '10001': APP_KEY } }), onInternalError: o }).operation('/echo', (p) => p), () => sortedSign({ appId: 10001, appKey: APP_KEY, method: 'POST' }), '/echo'],
    ['express.json() before an mgs gateway', json, (o) => createGateway({ profile: mgsGateway({ appId: 'ONEX', secret: MGS_SECRET }), onInternalError: o }).operation('com.echo', (p) => p), () => mgs({ appId: 'ONEX', workspaceId: 'default', secret: MGS_SECRET }), 'com.echo'],
  ];
  it.each(cases)('%s', async (_what, parser, makeGateway, makeProfile, op) => {
    const reported: unknown[] = [];
    const gw = await serve(app(parser, toNodeHandler(makeGateway((e) => reported.push(e)))));
    const client = createClient({ profile: makeProfile(), transport: fetchTransport({ baseUrl: gw.url }), store: memoryStore(), timeoutMs: 5000 });
    const e = await failure(client.call(op, { a: '1' }));
    // Before: modern "check baseUrl and issuePath" (400) or SIGNATURE_INVALID "same secret" (403);
    // app-secret "publicSecret probably differs"; sorted-sign "appKey probably differs"; mgs 7002
    // "same secret and digest"; and nothing at all for the operator.
    expect({ code: e.code, status: e.status }).toEqual({ code: 'HTTP_STATUS', status: 500 });
    expect(e.hint).not.toMatch(/secret|appKey|issuePath|digest/i);
    expect(reported).toHaveLength(1);
    const said = String((reported[0] as Error).message);
    expect(said).toMatch(/already read/);
    expect(said).toMatch(/body parser|express\.json/);
    for (const s of [PUBLIC_SECRET, APP_KEY, MGS_SECRET]) expect(said).not.toContain(s);
  });

  it('the same through gateway.handle(Request) with a body already used: reported, not only a silent 400', async () => {
    const reported: unknown[] = [];
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), onInternalError: (e) => reported.push(e) }).operation('/op', () => 'ok');
    const req = new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"appId":"1","params":"x"}' });
    await req.text();
    expect((await gateway.handle(req)).status).toBe(500);
    expect(String((reported[0] as Error | undefined)?.message)).toMatch(/already read/);
  });

  it('control: a body parser whose type does not match the dialect leaves it working (json() before app-secret, urlencoded() before modern)', async () => {
    const reported: unknown[] = [];
    const onInternalError = (e: unknown) => reported.push(e);
    const a = await serve(app(json, toNodeHandler(createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), onInternalError }).operation('/echo', (p) => p))));
    const m = await serve(app(urlencoded, toNodeHandler(createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }), onInternalError }).operation('/echo', (p) => p))));
    const ca = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: fetchTransport({ baseUrl: a.url }), store: memoryStore(), timeoutMs: 5000 });
    const cm = createClient({ profile: modern({ serverKeys: { k1: key.jwk } }), transport: fetchTransport({ baseUrl: m.url }), store: memoryStore(), timeoutMs: 5000 });
    expect(await ca.call('/echo', { a: '1' })).toMatchObject({ a: '1' });
    expect(await cm.call('/echo', { a: '1' })).toEqual({ a: '1' });
    expect(reported).toEqual([]);
  });
});

describe('toNodeHandler given something that is not a gateway fails when it is called, not with a 500 on every request', () => {
  // Before: accepted; every request answered HTTP 500 and nothing was reported anywhere.
  it.each([
    ['the profile instead of the gateway', () => modernGateway({ signingKeys: { k1: key.pem } }), /createGateway\(\{ profile \}\)/],
    ['undefined (an import that is not there)', () => undefined, /createGateway/],
    ['an object without handle', () => ({}), /createGateway/],
  ])('%s', (_what, make, why) => {
    expect(() => toNodeHandler(make() as unknown as Gateway)).toThrow(why);
  });
});

describe('operation(name) registered twice fails at registration', () => {
  it('the same name registered twice: refused naming it (before: the second handler silently replaced the first)', () => {
    const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }) }).operation('/user/get', () => 1);
    expect(() => gateway.operation('/user/get', () => 2)).toThrow(/\/user\/get.*already/);
  });

});

describe('a misspelt gateway option fails at construction, naming it (a mistyped tighter window would leave the default)', () => {
  const thrown = (f: () => unknown): Error | undefined => {
    try {
      f();
    } catch (e) {
      return e as Error;
    }
    return undefined;
  };

  it('createGateway and each gateway profile refuse a name they do not read, naming it and the owner; each dialect\'s client option names pass, so one config object serves both halves', async () => {
    const { pem } = await signingKey();
    const profile = sortedSignGateway({ apps: { '1': 'aPpKeY-16-chars!' } });
    const cases: [() => unknown, RegExp][] = [
      [() => createGateway({ profile, operationTimeoutMS: 1000 } as never), /^createGateway: operationTimeoutMS is not an option/],
      [() => modernGateway({ signingKeys: { k1: pem }, windowMS: 30_000 } as never), /^modern gateway: windowMS is not an option/],
      [() => appSecretGateway({ publicSecret: '0123456789abcdef', digst: 'sha256' } as never), /^appSecret gateway: digst is not an option/],
      [() => sortedSignGateway({ apps: { '1': 'aPpKeY-16-chars!' }, windowMS: 1000 } as never), /^sortedSign gateway: windowMS is not an option/],
      [() => mgsGateway({ appId: 'ONEX1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch', windowMS: 1000 } as never), /^mgs gateway: windowMS is not an option/],
    ];
    for (const [make, message] of cases) expect(thrown(make)?.message).toMatch(message);
    // The client's names, as a shared config object carries them.
    expect(thrown(() => modernGateway({ signingKeys: { k1: pem }, serverKeys: {}, maxClockCorrectionMs: 1000 } as never))).toBeUndefined();
    expect(thrown(() => appSecretGateway({ publicSecret: '0123456789abcdef', accessFrom: 'h5', renewOnStart: 'never', parseJson: JSON.parse, cipher: 'AES-ECB' } as never))).toBeUndefined();
    expect(thrown(() => sortedSignGateway({ apps: { '1': 'aPpKeY-16-chars!' }, appId: 1, appKey: 'aPpKeY-16-chars!', method: 'POST', token: 't', machineCode: 'm', windowMs: 5000 } as never))).toBeUndefined();
    expect(thrown(() => mgsGateway({ appId: 'ONEX1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch', did: 'd', gatewayPath: '/mgw.htm', headers: {}, signType: 'md5' } as never))).toBeUndefined();
    expect(thrown(() => createGateway({ profile, maxBodyBytes: 1024, operationTimeoutMs: 1000, bodyTimeoutMs: 1000, maxInFlight: 8, onInternalError: () => {}, now: Date.now, random: (n: number) => new Uint8Array(n) }))).toBeUndefined();
  });
});

describe('an operation whose result has no JSON (a BigInt) is told to the operator, not only to the client', () => {
  it('modern, app-secret, sorted-sign and mgs: onInternalError gets one error naming the cause; the client gets the dialect\'s own failure', async () => {
    const { pem, jwk } = await signingKey();
    const APP = { appId: 'BIGI1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch' };
    const cases: [string, Parameters<typeof createGateway>[0]['profile'], Profile<any, any>, string][] = [
      ['modern', modernGateway({ signingKeys: { k1: pem } }), modern({ serverKeys: { k1: jwk } }), '/big'],
      ['app-secret', appSecretGateway({ publicSecret: '0123456789abcdef' }), appSecret({ publicSecret: '0123456789abcdef' }), '/big'],
      ['sorted-sign', sortedSignGateway({ apps: { '1': 'aPpKeY-16-chars!' } }), sortedSign({ appId: 1, appKey: 'aPpKeY-16-chars!', method: 'POST' }), '/big'],
      ['mgs', mgsGateway(APP), mgs(APP), 'com.test.big'],
    ];
    for (const [name, gatewayProfile, profile, op] of cases) {
      const reported: unknown[] = [];
      const gateway = createGateway({ profile: gatewayProfile, onInternalError: (e) => reported.push(e) }).operation(op, () => ({ n: 10n }));
      const srv = await listen(toNodeHandler(gateway));
      try {
        const client = createClient({ profile, transport: fetchTransport({ baseUrl: srv.url }), store: memoryStore() });
        const err = await failure(client.call(op, {}));
        expect(err.message, name).toMatch(/could not be serialized/);
        expect(reported, name).toHaveLength(1);
        expect(String(reported[0]), name).toMatch(/an operation returned a value with no JSON \(a BigInt/);
      } finally {
        await srv.close();
      }
    }
  });
});
