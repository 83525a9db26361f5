/**
 * Pins for edge checks a mutation audit found no test noticing when broken: the modern client's
 * issuance shape checks (on answers that are correctly signed), kid lookup, gateway clock windows
 * (sorted-sign, mgs), credential expiry at exactly expiresAt (modern, app-secret), the request-id
 * length, duplicate form names, mixed-alphabet RSA signature text, the unpacked-size bound, the
 * body-size bounds (node:http fast path, Request path, declared Content-Length), the fetch
 * transport's declared response size, the credential manager's 2 s margin, the nonce-cache bound,
 * and the HMAC key cache. Clocks are injected; the one real server listens on 127.0.0.1 and is closed.
 */
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { strToU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64, toBase64Url } from '../../src/codec/base64.js';
import { hmacSha256 } from '../../src/crypto/digest.js';
import { ecdsaSign, ecSignKey, generateEcdh } from '../../src/crypto/ec.js';
import { randomBytes } from '../../src/crypto/provider.js';
import { decodeSignatureText, signRsaSha256, verifyRsaSha256 } from '../../src/crypto/rsa.js';
import { CredentialManager } from '../../src/credentials/manager.js';
import { appSecret, createClient, fetchTransport, memoryStore, mgs, modern, sortedSign } from '../../src/index.js';
import { verifyPackage } from '../../src/package/verify.js';
import { issuanceMessage } from '../../src/profiles/modern.js';
import { appSecret as appSecretGateway, createGateway, mgs as mgsGateway, modern as modernGatewayProfile, sortedSign as sortedSignGateway, type Gateway } from '../../src/server/index.js';
import type { CallInfo, Profile, ProfileContext, WireRequest, WireResponse } from '../../src/types.js';
import { inProcess, toRequest, toWire } from '../helpers/in-process.js';
import { sealedCall, sealedSetup } from '../helpers/modern-sealed.js';
import { failure, listen, signingKey } from '../helpers/servers.js';
import { certFor, PUBLIC, PRIVATE, rawZip } from '../helpers/zip.js';

const NOW = 1_800_000_000_000;

const callInfo = (operationType: string, params: unknown): CallInfo => ({ operationType, params, options: {}, memo: {} }) as CallInfo;
const ctxAt = (now: number): ProfileContext => ({
  now: () => now,
  random: randomBytes,
  parseJson: JSON.parse,
  send: async () => {
    throw new Error('no transport in this test');
  },
});

/** One round through a legacy profile and a gateway: sealed at client time `ts`, opened as the client would. */
async function roundTrip<S>(profile: Profile<undefined, S>, gateway: Gateway, op: string, params: unknown, ts: number): Promise<unknown> {
  const sealed = await profile.seal(callInfo(op, params), undefined, ctxAt(ts));
  const res = await toWire(await gateway.handle(toRequest(sealed.wire)));
  return profile.open(res, sealed, undefined, ctxAt(ts));
}

// ---------------------------------------------------------------------------------------------
// 1. modern client issuance: shape checks on a correctly signed answer, and the kid lookup
// ---------------------------------------------------------------------------------------------

describe('modern client issuance: a correctly signed answer with a malformed field is refused as malformed, nothing stored', () => {
  type Fields = { kid: unknown; appId: string; expiresAt: string; serverTime: string; serverKey: string; salt: string };
  interface Craft {
    /** Field values as sent (any may be replaced, or removed with `undefined`). */
    fields?: Partial<Record<keyof Fields, unknown>>;
    /** The kid text the signature is made over (default: the kid sent). */
    signedKid?: string;
    /** The signature bytes as sent (default: as made). */
    sig?: (sig: Uint8Array) => Uint8Array;
  }

  async function setup() {
    const key = await signingKey();
    const signer = await ecSignKey(key.pem);
    /** An issuance answer for this clientKey, signed by the gateway key over exactly the fields sent. */
    const answer = async (clientKey: string, c: Craft = {}): Promise<WireResponse> => {
      const f: Record<string, unknown> = {
        kid: 'k1',
        appId: toBase64Url(randomBytes(16)),
        expiresAt: String(NOW + 3_600_000),
        serverTime: String(NOW),
        serverKey: toBase64Url((await generateEcdh()).publicRaw),
        salt: toBase64Url(randomBytes(32)),
        ...c.fields,
      };
      const text = (k: string) => (typeof f[k] === 'string' ? (f[k] as string) : '');
      const signed = issuanceMessage({ kid: c.signedKid ?? text('kid'), appId: text('appId'), expiresAt: text('expiresAt'), serverTime: text('serverTime'), clientKey, serverKey: text('serverKey'), salt: text('salt') });
      let sig = await ecdsaSign(signer, new TextEncoder().encode(signed));
      if (c.sig) sig = c.sig(sig);
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries({ ...f, sig: toBase64Url(sig) })) if (v !== undefined) body[k] = v;
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    };
    const clientKeyOf = (req: WireRequest) => (JSON.parse(req.body as string) as { clientKey: string }).clientKey;
    /** profile.issue against one crafted answer. */
    const issueWith = (c: Craft, serverKeys: Record<string, JsonWebKey> = { k1: key.jwk }) =>
      modern({ serverKeys }).issue!({ ...ctxAt(NOW), send: async (req) => answer(clientKeyOf(req), c) });
    /** A client whose /issue gets the crafted answer (any call gets a 500): the error of the first call, and what was stored. */
    const clientWith = async (c: Craft, serverKeys: Record<string, JsonWebKey> = { k1: key.jwk }) => {
      const store = memoryStore();
      const transport = { send: async (req: WireRequest) => (req.path === '/issue' ? answer(clientKeyOf(req), c) : { status: 500, headers: {}, body: '' }) };
      const client = createClient({ profile: modern({ serverKeys }), transport, store, storeKey: 'creds', clock: { now: () => NOW } });
      const e = await failure(client.call('/echo', { a: '1' }));
      return { e, stored: await store.get('creds') };
    };
    return { key, issueWith, clientWith };
  }

  it('control: the crafted answer, well formed, is taken by issue() (appId, expiresAt, serverTime as signed; 16-digit expiresAt too)', async () => {
    const { issueWith } = await setup();
    const appId = toBase64Url(randomBytes(16));
    const r = await issueWith({ fields: { appId } });
    expect({ appId: r.value.appId, expiresAt: r.expiresAt, serverTime: r.serverTime }).toEqual({ appId, expiresAt: NOW + 3_600_000, serverTime: NOW });
    const far = await issueWith({ fields: { expiresAt: '9999999999999999', serverTime: '1' } });
    expect({ expiresAt: far.expiresAt, serverTime: far.serverTime }).toEqual({ expiresAt: 9999999999999999, serverTime: 1 });
  });

  const cases: [string, Craft][] = [
    ['salt of 31 bytes', { fields: { salt: toBase64Url(randomBytes(31)) } }],
    ['salt of 33 bytes', { fields: { salt: toBase64Url(randomBytes(33)) } }],
    ['appId of 15 bytes', { fields: { appId: toBase64Url(randomBytes(15)) } }],
    ['appId of 17 bytes', { fields: { appId: toBase64Url(randomBytes(17)) } }],
    ['expiresAt of 17 digits', { fields: { expiresAt: '18000000000000000' } }],
    ['expiresAt empty', { fields: { expiresAt: '' } }],
    ['expiresAt "1.8e12"', { fields: { expiresAt: '1.8e12' } }],
    ['serverTime of 17 digits', { fields: { serverTime: '18000000000000000' } }],
    ['serverTime empty', { fields: { serverTime: '' } }],
    ['serverTime "-1"', { fields: { serverTime: '-1' } }],
  ];
  for (const [what, craft] of cases) {
    it(`${what}, correctly signed: the call rejects SIGNATURE_INVALID "malformed" and no credential is stored`, async () => {
      const { clientWith } = await setup();
      const { e, stored } = await clientWith(craft);
      expect({ code: e.code, message: e.message }).toEqual({ code: 'SIGNATURE_INVALID', message: 'the issuance answer is malformed' });
      expect(stored).toBeUndefined();
    });
  }

  // The checks below are also made later (checkPoint wants 65 bytes, ecdsaVerify 64): without the
  // shape check the answer is still refused, but as another failure. The message says which check.
  it('serverKey of 64 bytes (the point without 04) or 66 bytes, correctly signed: SIGNATURE_INVALID "malformed", nothing stored', async () => {
    const { clientWith } = await setup();
    const point = (await generateEcdh()).publicRaw;
    for (const serverKey of [toBase64Url(point.subarray(1)), toBase64Url(Uint8Array.of(...point, 0))]) {
      const { e, stored } = await clientWith({ fields: { serverKey } });
      expect({ code: e.code, message: e.message }).toEqual({ code: 'SIGNATURE_INVALID', message: 'the issuance answer is malformed' });
      expect(stored).toBeUndefined();
    }
  });

  it('sig of 63 or 65 bytes (the valid signature cut or extended): SIGNATURE_INVALID "malformed", nothing stored', async () => {
    const { clientWith } = await setup();
    for (const sig of [(s: Uint8Array) => s.subarray(0, 63), (s: Uint8Array) => Uint8Array.of(...s, 0)]) {
      const { e, stored } = await clientWith({ sig });
      expect({ code: e.code, message: e.message }).toEqual({ code: 'SIGNATURE_INVALID', message: 'the issuance answer is malformed' });
      expect(stored).toBeUndefined();
    }
  });

  it('kid missing, kid ["k1"] (an array whose text is k1), or kid 1 with serverKeys { "1": … }, each signed as that text: SIGNATURE_INVALID "unknown key id", nothing stored', async () => {
    const { key, clientWith } = await setup();
    const refused = async (c: Craft, serverKeys?: Record<string, JsonWebKey>) => {
      const { e, stored } = await clientWith(c, serverKeys);
      expect({ code: e.code, message: e.message }).toEqual({ code: 'SIGNATURE_INVALID', message: 'the issuance is signed with an unknown key id' });
      expect(stored).toBeUndefined();
    };
    await refused({ fields: { kid: undefined }, signedKid: '' });
    await refused({ fields: { kid: ['k1'] }, signedKid: 'k1' });
    await refused({ fields: { kid: 1 }, signedKid: '1' }, { '1': key.jwk });
  });

  it('control for the kid case: kid "1" as a string, serverKeys { "1": … }, is taken by issue()', async () => {
    const { key, issueWith } = await setup();
    const r = await issueWith({ fields: { kid: '1' } }, { '1': key.jwk });
    expect(r.expiresAt).toBe(NOW + 3_600_000);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. sorted-sign and mgs gateway window edges
// ---------------------------------------------------------------------------------------------

describe('legacy gateway clock windows: |now − sent time| <= windowMs, edges included', () => {
  const KEY = 'ZVNH8HUW5K3VQZKK';
  const dialects = [
    { what: 'sorted-sign: timestamp', refusal: 1003, op: '/api/echo', gateway: () => sortedSignGateway({ apps: { '1': KEY }, windowMs: 5000 }), client: () => sortedSign({ appId: 1, appKey: KEY }) },
    { what: 'mgs: Ts', refusal: 7003, op: 'com.test.echo', gateway: () => mgsGateway({ appId: 'app-1', secret: 'mgs-secret', windowMs: 5000 }), client: () => mgs({ appId: 'app-1', workspaceId: 'ws', secret: 'mgs-secret' }) },
  ];
  for (const d of dialects) {
    it(`${d.what} = now ± 5000 is answered (the operation runs); now ± 5001 is ${d.refusal} (CLOCK_SKEW), not run`, async () => {
      let runs = 0;
      const gateway = createGateway({ profile: d.gateway(), now: () => NOW }).operation(d.op, (p) => (runs++, p));
      const profile = d.client() as Profile<undefined, unknown>;
      for (const ts of [NOW - 5000, NOW + 5000]) expect(await roundTrip(profile, gateway, d.op, { t: String(ts) }, ts)).toEqual({ t: String(ts) });
      expect(runs).toBe(2);
      for (const ts of [NOW - 5001, NOW + 5001]) {
        const e = await failure(roundTrip(profile, gateway, d.op, { t: String(ts) }, ts));
        expect({ code: e.code, gatewayCode: e.gatewayCode }).toEqual({ code: 'CLOCK_SKEW', gatewayCode: d.refusal });
      }
      expect(runs).toBe(2);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 3. credential expiry at exactly expiresAt (modern, app-secret gateways)
// ---------------------------------------------------------------------------------------------

describe('gateway credential expiry: a credential is expired at exactly its expiresAt', () => {
  it('modern: issued at T with credentialTtlMs 10000, a call at T + 9999 is answered; at T + 10000 it is 401 CREDENTIAL_EXPIRED, not run', async () => {
    let clock = NOW;
    const { gateway, issue, runs } = await sealedSetup({ credentialTtlMs: 10_000 }, { now: () => clock });
    const c = await issue(() => clock);
    expect(c.expiresAt).toBe(NOW + 10_000);
    clock = NOW + 9_999;
    const ok = await sealedCall(gateway, c, '/echo', 'before', { v: 1 }, clock);
    expect(ok).toEqual({ status: 200, envelope: '{"ok":true,"data":{"v":1}}' });
    clock = NOW + 10_000;
    const late = await sealedCall(gateway, c, '/echo', 'at', { v: 2 }, clock);
    expect(late.status).toBe(401);
    expect(gateway.stats().rejections.CREDENTIAL_EXPIRED).toBe(1);
    expect(runs()).toBe(1);
  });

  it('app-secret: issued at T with credentialTtlMs 10000, a call at T + 9999 is served without renewal; at T + 10000 the gateway answers secret_pass_time_error and the client renews', async () => {
    const PUBLIC_SECRET = 'pubSecret-16byte';
    let clock = NOW;
    let runs = 0;
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET, credentialTtlMs: 10_000 }), now: () => clock }).operation('/api/echo', (p) => (runs++, p));
    const bodies: string[] = [];
    const transport = inProcess(gateway, { edit: (res, req) => (req.path === '/api/echo' && bodies.push(res.body), res) });
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport, store: memoryStore(), clock: { now: () => clock } });
    expect(await client.call('/api/echo', { a: '1' })).toMatchObject({ a: '1' });
    expect(gateway.stats().issuances).toBe(1);
    clock = NOW + 9_999;
    expect(await client.call('/api/echo', { a: '2' })).toMatchObject({ a: '2' });
    expect(gateway.stats().issuances).toBe(1);
    expect(bodies).not.toContain('secret_pass_time_error');
    clock = NOW + 10_000;
    expect(await client.call('/api/echo', { a: '3' })).toMatchObject({ a: '3' });
    expect(bodies.filter((b) => b === 'secret_pass_time_error')).toHaveLength(1);
    expect(gateway.stats().issuances).toBe(2);
    expect(runs).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. modern gateway: request id length
// ---------------------------------------------------------------------------------------------

describe('modern gateway: the request id is 1 to 128 characters', () => {
  it('an id of 128 characters is answered; 129 characters is HTTP 400 BAD_REQUEST, the operation not run, no nonce kept', async () => {
    const { gateway, issue, runs } = await sealedSetup({}, { now: () => NOW });
    const c = await issue(() => NOW);
    const ok = await sealedCall(gateway, c, '/echo', 'i'.repeat(128), { v: 128 }, NOW);
    expect(ok).toEqual({ status: 200, envelope: '{"ok":true,"data":{"v":128}}' });
    expect(runs()).toBe(1);
    const nonces = gateway.stats().caches.nonces;
    const long = await sealedCall(gateway, c, '/echo', 'j'.repeat(129), { v: 129 }, NOW);
    expect(long.status).toBe(400);
    expect(runs()).toBe(1);
    expect(gateway.stats().caches.nonces).toBe(nonces);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. app-secret gateway: one form name twice
// ---------------------------------------------------------------------------------------------

describe('app-secret gateway: a form body naming one field twice', () => {
  const PUBLIC_SECRET = 'pubSecret-16byte';
  async function withEdit(editBody: (body: string) => string) {
    let runs = 0;
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }), now: () => NOW }).operation('/api/echo', (p) => (runs++, p));
    const answers: string[] = [];
    const inner = inProcess(gateway, { edit: (res, req) => (req.path === '/api/echo' && answers.push(res.body), res) });
    const transport = { send: (req: WireRequest, o: Parameters<typeof inner.send>[1]) => inner.send(req.path === '/api/echo' ? { ...req, body: editBody(req.body as string) } : req, o) };
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport, store: memoryStore(), clock: { now: () => NOW } });
    return { client, answers, runs: () => runs };
  }

  it('control: the body as sealed is served', async () => {
    const { client, runs } = await withEdit((b) => b);
    expect(await client.call('/api/echo', { a: '1' })).toMatchObject({ a: '1' });
    expect(runs()).toBe(1);
  });

  it('the same body with one of its entries (name and value) appended again is param_error (BAD_REQUEST), the operation not run', async () => {
    const { client, answers, runs } = await withEdit((b) => {
      const parts = b.split('&');
      expect(parts.length).toBeGreaterThanOrEqual(3);
      return b + '&' + parts[1];
    });
    const e = await failure(client.call('/api/echo', { a: '1' }));
    expect({ code: e.code, gatewayCode: e.gatewayCode }).toEqual({ code: 'BAD_REQUEST', gatewayCode: 'param_error' });
    expect(answers).toContain('param_error');
    expect(runs()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. RSA signature text: one alphabet per text
// ---------------------------------------------------------------------------------------------

describe('RSA signature text mixing the base64 and URL-safe alphabets', () => {
  it('a valid signature written with + or / beside - or _ is refused (decodeSignatureText null, verifyRsaSha256 false); each single-alphabet form verifies', async () => {
    let data = '';
    let mps = '';
    // A signature whose URL-safe form has at least two of - and _ (so one can be swapped and one kept).
    for (let i = 0; ; i++) {
      data = `{"push":${i}}`;
      mps = await signRsaSha256(data, PRIVATE);
      if ((mps.match(/[-_]/g) ?? []).length >= 2) break;
    }
    const bytes = fromBase64Url(mps.replace(/=+$/, ''));
    const std = toBase64(bytes);
    // Every single-alphabet spelling verifies.
    for (const form of [mps, std, mps.replace(/=+$/, '')]) {
      expect(decodeSignatureText(form)).toEqual(bytes);
      expect(await verifyRsaSha256(data, form, PUBLIC)).toBe(true);
    }
    // One URL-safe character written in the standard alphabet, the rest left URL-safe.
    const at = mps.search(/[-_]/);
    const mixed = mps.slice(0, at) + (mps[at] === '-' ? '+' : '/') + mps.slice(at + 1);
    expect(/[+/]/.test(mixed) && /[-_]/.test(mixed)).toBe(true);
    expect(decodeSignatureText(mixed)).toBeNull();
    expect(await verifyRsaSha256(data, mixed, PUBLIC)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. maxUnpackedBytes at the bound
// ---------------------------------------------------------------------------------------------

describe('offline packages: maxUnpackedBytes is inclusive', () => {
  it('a package unpacking to exactly maxUnpackedBytes verifies; with maxUnpackedBytes one less it is PACKAGE_SIGNATURE_INVALID "unpacks to more than maxUnpackedBytes"', async () => {
    const page = strToU8('<h1>bounded page</h1>');
    const cert = certFor({ 'index.html': page });
    const stored = (name: string, data: Uint8Array) => ({ name, data, method: 0 as const, size: data.length, crc: crc32(data) >>> 0 });
    const zip = rawZip([stored('index.html', page), stored('CERT.json', cert)]);
    const total = page.length + cert.length;
    const ok = await verifyPackage(zip, { publicKey: PUBLIC, maxUnpackedBytes: total });
    expect(new TextDecoder().decode(ok.files['index.html'])).toBe('<h1>bounded page</h1>');
    const e = await failure(verifyPackage(zip, { publicKey: PUBLIC, maxUnpackedBytes: total - 1 }));
    expect(e.code).toBe('PACKAGE_SIGNATURE_INVALID');
    expect(e.message).toContain(`unpacks to more than maxUnpackedBytes (${total - 1} bytes)`);
  });
});

// ---------------------------------------------------------------------------------------------
// 8, 9. maxBodyBytes: chunked bodies at the bound (node:http fast path, Request path), declared length
// ---------------------------------------------------------------------------------------------

describe('maxBodyBytes on chunked bodies is inclusive', () => {
  const MAX = 300;
  async function issueGateway() {
    const key = await signingKey();
    return createGateway({ profile: modernGatewayProfile({ signingKeys: { k1: key.pem } }), maxBodyBytes: MAX });
  }
  /** An issuance body padded with JSON whitespace to exactly n bytes. */
  const issueBody = async (n: number) => {
    const json = JSON.stringify({ clientKey: toBase64Url((await generateEcdh()).publicRaw) });
    expect(json.length).toBeLessThan(n);
    return json + ' '.repeat(n - json.length);
  };

  it('node:http fast path, Transfer-Encoding chunked (no Content-Length): exactly maxBodyBytes is answered 200 (an issuance); maxBodyBytes + 1 is 413', async () => {
    const { toNodeHandler } = await import('../../src/server/index.js');
    const gateway = await issueGateway();
    const handler = toNodeHandler(gateway);
    const framing: string[] = [];
    const srv = await listen((req, res) => {
      framing.push(`${req.headers['transfer-encoding']}/${req.headers['content-length']}`);
      handler(req, res);
    });
    try {
      const post = (body: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(srv.url + '/issue', { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, body: text }));
          });
          req.on('error', reject);
          // Two writes, no Content-Length: node frames the body as chunked.
          req.write(body.slice(0, 100));
          req.end(body.slice(100));
        });
      const at = await post(await issueBody(MAX));
      expect(at.status).toBe(200);
      expect(JSON.parse(at.body)).toMatchObject({ kid: 'k1' });
      const over = await post(await issueBody(MAX + 1));
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ error: 'BODY_TOO_LARGE' });
      expect(framing).toEqual(['chunked/undefined', 'chunked/undefined']);
    } finally {
      await srv.close();
    }
  });

  const streamOf = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    return new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.subarray(0, 100));
        c.enqueue(bytes.subarray(100));
        c.close();
      },
    });
  };
  const streamed = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);

  it('Request path, a streamed body without Content-Length: exactly maxBodyBytes is answered 200; maxBodyBytes + 1 is 413', async () => {
    const gateway = await issueGateway();
    const at = await gateway.handle(streamed(streamOf(await issueBody(MAX))));
    expect(at.status).toBe(200);
    const over = await gateway.handle(streamed(streamOf(await issueBody(MAX + 1))));
    expect(over.status).toBe(413);
  });

  it('Request path: a declared Content-Length over maxBodyBytes is 413 without reading the body (a short valid body, never pulled)', async () => {
    const gateway = await issueGateway();
    const body = await issueBody(MAX);
    let pulls = 0;
    const watched = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(new TextEncoder().encode(body));
        c.close();
      },
    }, { highWaterMark: 0 }); // pulled only when read
    const res = await gateway.handle(streamed(watched, { 'content-length': String(MAX + 1) }));
    expect(res.status).toBe(413);
    expect(JSON.parse(await res.text())).toMatchObject({ error: 'BODY_TOO_LARGE' });
    expect(pulls).toBe(0);
    // The same short body declared as what it is (or as exactly the bound) is read and answered.
    const ok = await gateway.handle(new Request('http://gw.test/issue', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(MAX) }, body }));
    expect(ok.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 10. fetchTransport: declared response size
// ---------------------------------------------------------------------------------------------

describe('fetchTransport: a declared Content-Length over maxResponseBytes', () => {
  const req: WireRequest = { path: '/x', method: 'POST', headers: {}, body: '{}', operationType: '/x' };
  const sendWith = (res: () => Response) => fetchTransport({ baseUrl: 'http://gw.test', maxResponseBytes: 100, fetch: (async () => res()) as typeof fetch }).send(req, { signal: new AbortController().signal });

  it('content-length 101 over a 100-byte bound is RESPONSE_UNREADABLE before the body is read (a 3-byte body, never pulled, cancelled)', async () => {
    let pulls = 0;
    let cancelled = false;
    const e = await failure(
      sendWith(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              pull(c) {
                pulls++;
                c.enqueue(new TextEncoder().encode('abc'));
                c.close();
              },
              cancel() {
                cancelled = true;
              },
            }, { highWaterMark: 0 }), // pulled only when read
            { headers: { 'content-length': '101' } },
          ),
      ),
    );
    expect(e.code).toBe('RESPONSE_UNREADABLE');
    expect(e.message).toContain('maxResponseBytes (100)');
    expect(pulls).toBe(0);
    expect(cancelled).toBe(true);
  });

  it('content-length exactly 100 with a 100-byte body is read whole', async () => {
    const text = 'x'.repeat(100);
    const res = await sendWith(() => new Response(text, { headers: { 'content-length': '100' } }));
    expect(res.body).toBe(text);
    expect(res.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// 11. credential manager: the 2 s expiry margin
// ---------------------------------------------------------------------------------------------

describe('credential manager: renews 2000 ms before expiresAt', () => {
  it('a credential expiring in 2001 ms is used as it is; in exactly 2000 ms (and less) it is renewed first', async () => {
    const E = NOW + 60_000;
    let t = NOW;
    let issued = 0;
    const m = new CredentialManager<string>({ store: memoryStore(), key: 'k', now: () => t, issue: async () => ({ value: `cred-${++issued}`, expiresAt: E + (issued - 1) * 60_000 }) });
    expect((await m.current()).value).toBe('cred-1');
    t = E - 2001;
    expect((await m.current()).value).toBe('cred-1');
    expect(issued).toBe(1);
    t = E - 2000;
    const renewed = await m.current();
    expect(renewed.value).toBe('cred-2');
    expect(issued).toBe(2);
    // The new one (expiring at E + 60000) is used in its turn.
    t = E - 1000;
    expect((await m.current()).value).toBe('cred-2');
    expect(issued).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// 12. the modern gateway's nonce-cache bound, and the HMAC key cache
// ---------------------------------------------------------------------------------------------

describe('modern gateway: the nonce cache holds exactly maxNonces', () => {
  it('maxNonces 8 (one nonce per credential): 8 calls from 8 credentials are answered; a 9th is 503 GATEWAY_BUSY, not run, nothing kept', async () => {
    const { gateway, issue, runs } = await sealedSetup({ maxNonces: 8 }, { now: () => NOW });
    const creds = [];
    for (let i = 0; i < 9; i++) creds.push(await issue(() => NOW));
    for (let i = 0; i < 8; i++) {
      expect(gateway.stats().caches.nonces).toBe(i);
      const r = await sealedCall(gateway, creds[i], '/echo', 'id' + i, { i }, NOW);
      expect(r).toEqual({ status: 200, envelope: `{"ok":true,"data":{"i":${i}}}` });
    }
    expect(runs()).toBe(8);
    const ninth = await sealedCall(gateway, creds[8], '/echo', 'id8', { i: 8 }, NOW);
    expect(ninth.status).toBe(503);
    expect(gateway.stats().rejections.GATEWAY_BUSY).toBe(1);
    expect(runs()).toBe(8);
    expect(gateway.stats().caches.nonces).toBe(8);
  });
});

describe('HMAC-SHA256: imported keys are cached by the whole key', () => {
  it('HMAC under key A, then under key B (same length, last byte differs), then A again: each is that key\'s MAC (node:crypto)', async () => {
    const data = new TextEncoder().encode('message under two keys');
    const a = new TextEncoder().encode('0123456789abcdef0123456789abcdeA');
    const b = new TextEncoder().encode('0123456789abcdef0123456789abcdeB');
    const want = (k: Uint8Array) => new Uint8Array(createHmac('sha256', k).update(data).digest());
    expect(await hmacSha256(a, data)).toEqual(want(a));
    expect(await hmacSha256(b, data)).toEqual(want(b));
    expect(await hmacSha256(a, data)).toEqual(want(a));
    expect(want(a)).not.toEqual(want(b));
  });
});

