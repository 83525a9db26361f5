/**
 * `modern` with a Java back end written from docs/modern-protocol.md alone
 * (test/interop/java-modern/*.java: JDK 17, javax.crypto, java.security, com.sun.net.httpserver,
 * no libraries). Both directions: the SDK's real client against the Java gateway over HTTP on
 * 127.0.0.1, and a Java client against the SDK's Node gateway. Then the Java gateway with one
 * realistic mistake switched on at a time, pinning what the client says about each. Without a
 * JDK these tests fail (CI installs one), they never skip.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, fetchTransport, memoryStore, modern, type Client, type Transport, type WireRequest } from '../../src/index.js';
import { createGateway, modern as modernGatewayProfile, OperationError } from '../../src/server/index.js';
import { compileJava, javaSources, JVM, startJavaServer, stopJava, type JavaServer } from '../helpers/java.js';
import { failure, serveGateway, type Running } from '../helpers/servers.js';
import { fromBase64UrlStrict, toBase64Url } from '../../src/codec/base64.js';
import { gcmOpen, gcmSeal, importGcmKey } from '../../src/crypto/aes.js';
import { ecdhDerive, generateEcdh } from '../../src/crypto/ec.js';
import { deriveSessionKeys, requestAad } from '../../src/profiles/modern.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const JAVA_DIR = join(HERE, 'java-modern');
const VECTORS = JSON.parse(readFileSync(join(HERE, '../../../shared/vectors/modern-v1.json'), 'utf8'));
/** The vectors' k1: its scalar for the Java gateway, its JWK for the client. */
const K1_SCALAR = VECTORS.serverKeys.k1.privateScalarHex as string;
const SERVER_KEYS = { k1: VECTORS.serverKeys.k1.jwk as JsonWebKey };

let classDir = '';
let java: JavaServer | undefined;
const nodeServers: Running[] = [];

beforeAll(async () => {
  classDir = compileJava('sealed-rpc-java-modern-', javaSources(JAVA_DIR));
  java = await startJavaServer(classDir, 'ModernGateway', ['serve', '--admin', '--key', `k1=${K1_SCALAR}`]);
}, 90_000);

afterAll(async () => {
  await Promise.all(nodeServers.splice(0).map((s) => s.close()));
  await stopJava(java?.proc); // the JVM gone before its classes are deleted
  if (classDir) rmSync(classDir, { recursive: true, force: true });
}, 15_000);

/** Every test starts from a correct Java gateway with its clock right. */
afterEach(async () => {
  await admin({ mistake: '', clock: '0', reset: '1' });
});

/** The Java gateway's test-only switches; answers its counters. */
async function admin(q: Record<string, string>): Promise<Record<string, number>> {
  const res = await fetch(`${java!.url}/__admin?${new URLSearchParams(q)}`);
  if (res.status !== 200) throw new Error(`admin: ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, number>>;
}

function client(extra: { transport?: Transport; clock?: { now(): number } } = {}): Client {
  return createClient({ profile: modern({ serverKeys: SERVER_KEYS }), transport: extra.transport ?? fetchTransport({ baseUrl: java!.url }), store: memoryStore(), ...(extra.clock ? { clock: extra.clock } : {}) });
}

/** A fetch transport that records what it sends, and may act between sends. */
function recording(around?: (req: WireRequest, send: () => Promise<import('../../src/index.js').WireResponse>) => Promise<import('../../src/index.js').WireResponse>) {
  const inner = fetchTransport({ baseUrl: java!.url });
  const sent: WireRequest[] = [];
  const transport: Transport = {
    send(req, o) {
      sent.push(req);
      const send = () => inner.send(req, o);
      return around ? around(req, send) : send();
    },
  };
  return { transport, sent };
}

function watch(c: Client) {
  const corrections: number[] = [];
  const retries: string[] = [];
  const issued: string[] = [];
  c.events.on('clock-corrected', (e) => corrections.push(e.offsetMs));
  c.events.on('retry', (e) => retries.push(e.cause));
  c.events.on('issued', () => issued.push('issued'));
  c.events.on('renewed', () => issued.push('renewed'));
  return { corrections, retries, issued };
}

/** Runs a Java main to its end (async: a Node gateway in this process must keep answering). */
function runJava(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn('java', [...JVM, '-cp', classDir, 'ModernGateway', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`java ${args[0]} ended with ${code ?? signal}:\n${err}`));
    });
  });
}

describe('the doc is enough for Java: §12 vectors from the §11 fixed inputs', () => {
  it('the Java gateway (its own issue() and call() paths, clock and random draws pinned) reproduces every §12 vector byte for byte, and its ECDSA signatures verify as the vector ones do', async () => {
    const out = JSON.parse(await runJava(['vectors', VECTORS.issuance.sig, VECTORS.issuanceRotated.sig], 60_000)) as Record<string, unknown>;
    const [c0, c1] = VECTORS.calls;
    const skew = VECTORS.sealedSignals.find((s: { name: string }) => s.name === 'clock-skew');
    const replay = VECTORS.sealedSignals.find((s: { name: string }) => s.name === 'replayed-request');
    // Signatures are randomized: the vector's must verify in Java, and Java's response body equals the vector's once its sig is swapped in.
    const withSig = (body: string, sig: string) => body.replace(/"sig":"[A-Za-z0-9_-]+"/, `"sig":"${sig}"`);
    expect({
      clientPublicRaw: out.clientPublicRaw,
      serverPublicRaw: out.serverPublicRaw,
      issuanceRequestBody: out.issuanceRequestBody,
      k1: [out['k1.status'], withSig(out['k1.responseBody'] as string, VECTORS.issuance.sig), out['k1.messageToSign'], out['k1.messageSha256'], out['k1.ourSigVerifies'], out['k1.vectorSigVerifies']],
      k2: [out['k2.status'], withSig(out['k2.responseBody'] as string, VECTORS.issuanceRotated.sig), out['k2.messageToSign'], out['k2.ourSigVerifies'], out['k2.vectorSigVerifies']],
      Z: out.ZHex,
      keys: [out.reqKeyHex, out.resKeyHex],
      call0: [out['call0.plaintextJson'], out['call0.aadHex'], out['call0.requestBody'], out['call0.status'], out['call0.contentType'], out['call0.responseBody'], out['call0.envelopeJson']],
      call1: [out['call1.plaintextJson'], out['call1.aadHex'], out['call1.requestBody'], out['call1.status'], out['call1.contentType'], out['call1.responseBody'], out['call1.envelopeJson']],
      clockSkew: [out['clockSkew.status'], out['clockSkew.responseBody'], out['clockSkew.envelopeJson']],
      replayed: [out['replayed.status'], out['replayed.responseBody'], out['replayed.envelopeJson']],
      plain: [out.plain400, out.plain401, out.plain403, out.plain429, out.plain503],
      negative: [out.tamperedStatus, out.otherOpStatus],
    }).toEqual({
      clientPublicRaw: VECTORS.ephemeral.client.publicRaw,
      serverPublicRaw: VECTORS.ephemeral.server.publicRaw,
      issuanceRequestBody: VECTORS.issuance.requestBody,
      k1: [200, VECTORS.issuance.responseBody, VECTORS.issuance.messageToSign, '0037414e54026ccd06b8b70d4cec4f6c33843655dc8c43280857678ecbb28885', true, true],
      k2: [200, VECTORS.issuanceRotated.responseBody, VECTORS.issuanceRotated.messageToSign, true, true],
      Z: VECTORS.issuance.ZHex,
      keys: [VECTORS.issuance.reqKeyHex, VECTORS.issuance.resKeyHex],
      call0: [c0.plaintextJson, Buffer.from(c0.aad).toString('hex'), c0.requestBody, 200, 'text/plain', c0.response.body, c0.response.envelopeJson],
      call1: [c1.plaintextJson, Buffer.from(c1.aad).toString('hex'), c1.requestBody, 200, 'text/plain', c1.response.body, c1.response.envelopeJson],
      clockSkew: [200, skew.body, skew.envelopeJson],
      replayed: [200, replay.body, replay.envelopeJson],
      plain: ['400', '401', '403', '429', '503'].map((k) => VECTORS.plainErrorBodies[k]),
      negative: [403, 403],
    });
  }, 70_000);
});

describe('SDK client -> Java gateway written from the doc', () => {
  it('issues (signature verified against the pinned k1) and round-trips Chinese, emoji, escapes, an empty object, empty strings and a 450 KB value', async () => {
    const c = client();
    const w = watch(c);
    const unicode = { text: '你好，世界 — héllo 🌏👍🏽 "quoted" \\ \n tab\t', nested: { x: [1, 2.5, true, null] }, empty: '' };
    expect(await c.call('/echo', unicode)).toEqual(unicode);
    expect(await c.call('/echo', {})).toEqual({});
    const big = '汉字ABC🌏'.repeat(30_000); // 450 KB of UTF-8, 600 KB of b64u on the wire
    expect(await c.call<{ big: string }>('/echo', { big })).toEqual({ big });
    expect(await c.call('/nothing', {})).toBeNull();
    expect(w.issued).toEqual(['issued']);
    expect((await admin({})).issuances).toBe(1);
  });

  it("a business error comes back sealed: RpcError GATEWAY with gatewayCode E_DEMO and the operation's message", async () => {
    const e = await failure(client().call('/fail', { a: '1' }));
    expect({ code: e.code, gatewayCode: e.gatewayCode, message: e.message }).toEqual({ code: 'GATEWAY', gatewayCode: 'E_DEMO', message: 'demo failure' });
  });

  it('an operation that throws a reserved code, or fails unexpectedly, is INTERNAL / "the operation failed" (no detail leaks)', async () => {
    const c = client();
    const reserved = await failure(c.call('/reserved', {}));
    const boom = await failure(c.call('/boom', {}));
    expect([reserved.code, reserved.gatewayCode, boom.code, boom.gatewayCode, boom.message]).toEqual(['GATEWAY', 'INTERNAL', 'GATEWAY', 'INTERNAL', 'the operation failed']);
    expect(JSON.stringify(boom)).not.toContain('secret detail');
  });

  it('an unregistered x-op is HTTP_STATUS 404 naming the operation; a body over 1 MiB is HTTP_STATUS 413 with the maxBodyBytes hint', async () => {
    const c = client();
    const missing = await failure(c.call('/no/such/op', {}));
    expect([missing.code, missing.status, missing.gatewayCode]).toEqual(['HTTP_STATUS', 404, 'NOT_FOUND']);
    const tooBig = await failure(c.call('/echo', { big: 'x'.repeat(800_000) })); // 1.07 MB of b64u
    expect([tooBig.code, tooBig.status, tooBig.gatewayCode]).toEqual(['HTTP_STATUS', 413, 'BODY_TOO_LARGE']);
    expect(tooBig.hint).toMatch(/maxBodyBytes/);
  });

  it('a tampered answer (one ciphertext bit flipped by the Java side) is refused: RESPONSE_TAMPERED, no data', async () => {
    const c = client();
    await c.call('/echo', {}); // issued first: the switch affects the call only
    await admin({ mistake: 'tamper' });
    const e = await failure(c.call('/echo', { a: '1' }));
    expect(e.code).toBe('RESPONSE_TAMPERED');
  });

  it("a forged answer (the previous call's sealed answer, replayed by the server for this call) is refused: RESPONSE_TAMPERED", async () => {
    const c = client();
    await c.call('/echo', {});
    await admin({ mistake: 'replay-response' });
    expect(await c.call('/echo', { first: '1' })).toEqual({ first: '1' }); // recorded by the Java side
    const e = await failure(c.call('/echo', { second: '2' }));
    expect(e.code).toBe('RESPONSE_TAMPERED');
  });

  it('Java clock 400 s ahead after issuance: one sealed CLOCK_SKEW, offset = serverTime − receive time (~ +400 s), one resend with the same request id, the operation runs once', async () => {
    const c = client();
    const w = watch(c);
    await c.call('/echo', {});
    await admin({ clock: '400000', reset: '1' });
    expect(await c.call('/count', {})).toEqual({ runs: 1 });
    expect(w.retries).toEqual(['CLOCK_SKEW']);
    expect(w.corrections).toHaveLength(2); // issuance (≈0), then the sealed CLOCK_SKEW
    expect(Math.abs(w.corrections[1] - 400_000)).toBeLessThan(5_000);
    expect((await admin({})).runs).toBe(1);
  });

  it('device clock 10 minutes behind on first contact: the signed issuance serverTime corrects it, no CLOCK_SKEW, no resend', async () => {
    const c = client({ clock: { now: () => Date.now() - 600_000 } });
    const w = watch(c);
    expect(await c.call('/echo', { x: '1' })).toEqual({ x: '1' });
    expect(w.retries).toEqual([]);
    expect(Math.abs(w.corrections[0] - 600_000)).toBeLessThan(5_000);
  });

  it('a replayed request (the same bytes sent twice by something on the way) gets the sealed REPLAYED_REQUEST: the client reports REPLAYED_REQUEST, does not resend, and the operation ran once', async () => {
    const { transport, sent } = recording(async (req, send) => {
      if (req.headers['x-op'] !== '/count') return send();
      await send(); // the first copy runs the operation; its answer is lost
      return send(); // the second copy is a replay
    });
    const c = client({ transport });
    await c.call('/echo', {});
    await admin({ reset: '1' });
    const e = await failure(c.call('/count', {}));
    expect(e.code).toBe('REPLAYED_REQUEST');
    expect(sent.filter((r) => r.headers['x-op'] === '/count')).toHaveLength(1);
    expect((await admin({})).runs).toBe(1);
  });

  it('step 8: a request stamped ahead of the window gets CLOCK_SKEW, and the same bytes sent once the clock has caught up are REPLAYED_REQUEST', async () => {
    const { transport, sent } = recording();
    const c = client({ transport });
    await c.call('/echo', {});
    await admin({ clock: '-400000', reset: '1' }); // the gateway 400 s behind: the client's x-ts is ahead
    expect(await c.call('/count', {})).toEqual({ runs: 1 }); // CLOCK_SKEW, corrected, resent
    const first = sent.find((r) => r.headers['x-op'] === '/count')!;
    await admin({ clock: '0' }); // the gateway's clock catches up with that first copy's x-ts
    const again = await fetch(java!.url + first.path, { method: 'POST', headers: first.headers, body: first.body });
    // Sealed (only the client could open it) and nothing run: the REPLAYED_REQUEST of step 9, not a second run.
    expect([again.status, again.headers.get('content-type')]).toEqual([200, 'text/plain']);
    expect((await admin({})).runs).toBe(1);
    expect((await admin({}))['sealed']).toBeGreaterThanOrEqual(3);
  });

  it('the credential expired on the Java side (401): exactly one renewal, the call resent once, the operation run once', async () => {
    const c = client();
    const w = watch(c);
    await c.call('/echo', {});
    await admin({ expire: '1', reset: '1' });
    expect(await c.call('/count', {})).toEqual({ runs: 1 });
    expect(w.issued).toEqual(['issued', 'renewed']);
    expect(w.retries).toEqual(['CREDENTIAL_EXPIRED']);
    expect((await admin({})).issuances).toBe(1);
  });

  it('idempotencyKey: a second call with the same key gets the stored result without a second run; other params under it are BAD_REQUEST (REQUEST_ID_REUSED)', async () => {
    const c = client();
    const key = `order-${Date.now()}-${Math.random()}`;
    expect(await c.call('/count', { a: '1' }, { idempotencyKey: key })).toEqual({ runs: 1 });
    expect(await c.call('/count', { a: '1' }, { idempotencyKey: key })).toEqual({ runs: 1 });
    const e = await failure(c.call('/count', { a: '2' }, { idempotencyKey: key }));
    expect([e.code, e.gatewayCode]).toEqual(['BAD_REQUEST', 'REQUEST_ID_REUSED']);
    expect((await admin({})).runs).toBe(1);
  });
});

describe('Java client written from the doc -> the SDK Node gateway', () => {
  it('the Java client issues (verifies the P1363 sig against the pinned SPKI), opens the Node gateway answers (echo, business error), gets the sealed REPLAYED_REQUEST for a resent copy and a plain 403 for a changed body', async () => {
    const gateway = createGateway({ profile: modernGatewayProfile({ signingKeys: { k1: VECTORS.serverKeys.k1.pkcs8Pem } }) })
      .operation('/echo', (p) => p)
      .operation('/fail', () => {
        throw new OperationError('E_DEMO', 'demo failure');
      });
    const srv = await serveGateway(gateway);
    nodeServers.push(srv);
    const lines = (await runJava(['client', srv.url, 'k1', VECTORS.serverKeys.k1.spkiBase64], 60_000))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const by = Object.fromEntries(lines.map((l) => [l.step, l]));
    expect(by.issued).toEqual({ step: 'issued', signatureVerified: true, appIdLength: 22 });
    expect(by.echo).toEqual({ step: 'echo', status: 200, contentType: 'text/plain', envelope: { ok: true, data: { text: 'héllo "你好" 🌏👍🏽\n', empty: '', n: 42 } } });
    expect(by.fail).toMatchObject({ status: 200, envelope: { ok: false, error: { code: 'E_DEMO', message: 'demo failure' } } });
    expect(by.replay).toMatchObject({ status: 200, envelope: { ok: false, error: { code: 'REPLAYED_REQUEST' } } });
    expect(by.tampered).toMatchObject({ status: 403, body: expect.stringMatching(/^\{"error":"SIGNATURE_INVALID","serverTime":"\d+"\}$/) });
    expect(gateway.stats().executions).toBe(2); // echo and fail; the replay ran nothing
    await srv.close();
    nodeServers.splice(nodeServers.indexOf(srv), 1);
  }, 70_000);
});

describe('a slightly wrong Java gateway: the client names the cause in its hint', () => {
  /** Each: the mistake switched on in the Java gateway before the client's first contact. */
  const cases: [mistake: string, what: string, expected: { code: string; status?: number; gatewayCode?: string; hint: RegExp; details?: Record<string, string> }][] = [
    ['der', 'signs with SHA256withECDSA (DER) instead of the P1363 form', { code: 'SIGNATURE_INVALID', hint: /sig is 7[0-2] bytes of DER; it must be 64.*SHA256withECDSAinP1363Format/, details: { field: 'sig' } }],
    ['bigint-point', "writes serverKey's coordinates with BigInteger.toByteArray() (a sign byte)", { code: 'SIGNATURE_INVALID', hint: /serverKey is 6[6-7] bytes; it must be 65.*BigInteger\.toByteArray/, details: { field: 'serverKey' } }],
    ['number-times', 'writes expiresAt and serverTime as JSON numbers (Jackson and a long)', { code: 'SIGNATURE_INVALID', hint: /expiresAt must be a JSON string of 1–16 decimal digits.*not a JSON number/, details: { field: 'expiresAt' } }],
    ['issuance-padded', 'writes the issuance salt with Base64.getUrlEncoder() (padded)', { code: 'SIGNATURE_INVALID', hint: /salt has '=' padding/, details: { field: 'salt' } }],
    ['trailing-newline', 'signs the eight lines with a trailing newline', { code: 'SIGNATURE_INVALID', hint: /Either serverKeys\.k1 is not the gateway's signing key.*or the gateway signs other bytes.*no trailing newline/ }],
    ['salt-text', "uses the salt's b64u text as the HKDF salt (the client's request cannot be opened: plain 403)", { code: 'SIGNATURE_INVALID', status: 403, gatewayCode: 'SIGNATURE_INVALID', hint: /32 raw salt bytes \(not their b64u text\)/ }],
    ['tag-first', 'puts the GCM tag in front of the ciphertext', { code: 'RESPONSE_TAMPERED', hint: /or the gateway seals otherwise.*iv 12 bytes ‖ ciphertext ‖ tag 16 bytes/ }],
    ['iv-16', 'uses a 16-byte GCM IV', { code: 'RESPONSE_TAMPERED', hint: /iv 12 bytes/ }],
    ['res-reqkey', 'seals answers with reqKey', { code: 'RESPONSE_TAMPERED', hint: /under resKey \(not reqKey\)/ }],
    ['res-aad-full', "uses the request's whole AAD for the answer", { code: 'RESPONSE_TAMPERED', hint: /AAD = this request's x-nonce text/ }],
    ['padded', 'writes base64url with = padding', { code: 'RESPONSE_TAMPERED', hint: /'=' padding.*withoutPadding/ }],
    ['std-b64', "uses Base64.getEncoder() ('+', '/', padding)", { code: 'RESPONSE_TAMPERED', hint: /'=' padding|standard base64 alphabet/ }],
    ['json-string', "returns the sealed text through a JSON converter (a quoted string)", { code: 'RESPONSE_TAMPERED', hint: /is a JSON string \(in quotes\)/ }],
  ];
  for (const [mistake, what, expected] of cases)
    it(`a gateway that ${what}: ${expected.code}${expected.status ? ` (${expected.status})` : ''} whose hint names the cause; nothing stored or returned`, async () => {
      await admin({ mistake });
      const e = await failure(client().call('/echo', {}));
      expect({ code: e.code, status: e.status, gatewayCode: e.gatewayCode, details: e.details }).toEqual({ code: expected.code, status: expected.status, gatewayCode: expected.gatewayCode, details: expected.details });
      expect(e.hint).toMatch(expected.hint);
    });

  it('a gateway that answers sealed bodies as application/json (but the bare b64u text): accepted, the client does not read Content-Type', async () => {
    await admin({ mistake: 'content-type' });
    expect(await client().call('/echo', { a: '1' })).toEqual({ a: '1' });
  });

  it('a gateway that answers CLOCK_SKEW as a plain 400: HTTP_STATUS whose hint says it must come sealed; no clock change, no resend', async () => {
    const c = client();
    const w = watch(c);
    await c.call('/echo', {});
    await admin({ mistake: 'plain-skew', clock: '400000' });
    const e = await failure(c.call('/echo', { a: '1' }));
    expect([e.code, e.status, e.gatewayCode]).toEqual(['HTTP_STATUS', 400, 'CLOCK_SKEW']);
    expect(e.hint).toMatch(/CLOCK_SKEW counts only sealed, in an HTTP 200 envelope/);
    expect(w.retries).toEqual([]);
    expect(w.corrections).toHaveLength(1); // the issuance's only
  });
});

describe('the same raw requests to the Java gateway and to the SDK Node gateway: the same answers (the order of checks in §3.2 and §5)', () => {
  let node: Running;
  beforeAll(async () => {
    const gateway = createGateway({ profile: modernGatewayProfile({ signingKeys: { k1: VECTORS.serverKeys.k1.pkcs8Pem } }) })
      .operation('/echo', (p) => p)
      .operation('/fail', () => {
        throw new OperationError('E_DEMO', 'demo failure');
      });
    node = await serveGateway(gateway);
    nodeServers.push(node);
  });

  type Raw = { method?: string; path?: string; headers?: Record<string, string>; body?: string | Uint8Array };
  /** Status and plain error code, or "sealed:<code>" for a 200 opened with the credential's resKey. */
  async function answer(base: string, r: Raw, cred?: Cred): Promise<string> {
    const res = await fetch(base + (r.path ?? '/echo'), { method: r.method ?? 'POST', headers: r.headers ?? {}, ...(r.method === 'GET' ? {} : { body: (r.body ?? '') as BodyInit }) });
    const text = await res.text();
    if (res.status !== 200) return `${res.status} ${(JSON.parse(text) as { error: string }).error} ${res.headers.get('content-type')}`;
    if (!cred || !r.headers?.['x-nonce']) return `200 ${res.headers.get('content-type')}`;
    const env = JSON.parse(new TextDecoder().decode(await gcmOpen(cred.resKey, fromBase64UrlStrict(text), new TextEncoder().encode(r.headers['x-nonce'])))) as { ok: boolean; error?: { code: string } };
    return `sealed ${env.ok ? 'ok' : env.error!.code} ${res.headers.get('content-type')}`;
  }

  type Cred = { appId: string; reqKey: Awaited<ReturnType<typeof importGcmKey>>; resKey: Awaited<ReturnType<typeof importGcmKey>> };
  /** An issuance by hand, as §3 says (the client's side). */
  async function issue(base: string): Promise<Cred> {
    const pair = await generateEcdh();
    const res = await fetch(base + '/issue', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey: toBase64Url(pair.publicRaw) }) });
    const f = (await res.json()) as Record<string, string>;
    const z = await ecdhDerive(pair, fromBase64UrlStrict(f.serverKey));
    const k = await deriveSessionKeys(z, fromBase64UrlStrict(f.salt), f.appId);
    return { appId: f.appId, reqKey: await importGcmKey(k.reqKey), resKey: await importGcmKey(k.resKey) };
  }

  const nonce = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  async function sealed(cred: Cred, plaintext: string | Uint8Array, o: { op?: string; ts?: string; n?: string } = {}): Promise<Raw> {
    const op = o.op ?? '/echo';
    const ts = o.ts ?? String(Date.now());
    const n = o.n ?? nonce();
    const pt = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
    const body = toBase64Url(await gcmSeal(cred.reqKey, pt, requestAad(cred.appId, op, ts, n)));
    return { headers: { 'content-type': 'text/plain', 'x-app-id': cred.appId, 'x-op': op, 'x-ts': ts, 'x-nonce': n }, body };
  }

  it('issuance and call refusals, step by step: Java and Node give the same status, code and Content-Type for each of 27 crafted requests', async () => {
    const ids = ['Java', 'Node'] as const;
    const bases = { Java: java!.url, Node: node.url };
    const creds = { Java: await issue(bases.Java), Node: await issue(bases.Node) };
    const offCurve = toBase64Url(Uint8Array.of(4, ...new Uint8Array(31), 1, ...new Uint8Array(31), 2));
    const good = toBase64Url((await generateEcdh()).publicRaw);
    const hdr = (c: Cred, extra: Record<string, string> = {}) => ({ 'x-app-id': c.appId, 'x-op': '/echo', 'x-ts': String(Date.now()), 'x-nonce': nonce(), ...extra });
    const cases: [string, (c: Cred) => Promise<Raw> | Raw][] = [
      ['GET /issue', () => ({ method: 'GET', path: '/issue' })],
      ['POST /elsewhere without x-op', () => ({ path: '/elsewhere', body: '{}' })],
      ['issuance body not JSON', () => ({ path: '/issue', body: 'clientKey=1' })],
      ['issuance clientKey a number', () => ({ path: '/issue', body: '{"clientKey":4}' })],
      ['issuance clientKey padded', () => ({ path: '/issue', body: JSON.stringify({ clientKey: good + '=' }) })],
      ['issuance clientKey off the curve', () => ({ path: '/issue', body: JSON.stringify({ clientKey: offCurve }) })],
      ['issuance clientKey 64 bytes', () => ({ path: '/issue', body: JSON.stringify({ clientKey: toBase64Url(fromBase64UrlStrict(good).subarray(1)) }) })],
      ['GET with x-op /echo', (c) => ({ method: 'GET', headers: hdr(c) })],
      ['GET with an unknown x-op', (c) => ({ method: 'GET', headers: hdr(c, { 'x-op': '/nope' }) })],
      ['unknown x-op, no other header', () => ({ headers: { 'x-op': '/nope' }, body: 'x' })],
      ['declared body over 1 MiB', (c) => ({ headers: hdr(c), body: 'A'.repeat(1_048_577) })],
      ['body not UTF-8', (c) => ({ headers: hdr(c), body: Uint8Array.of(0xff, 0xfe) })],
      ['x-ts missing', (c) => ({ headers: { 'x-app-id': c.appId, 'x-op': '/echo', 'x-nonce': nonce() }, body: 'AAAA' })],
      ['x-ts 17 digits', (c) => ({ headers: hdr(c, { 'x-ts': '17000000000000000' }), body: 'AAAA' })],
      ['x-ts with a sign', (c) => ({ headers: hdr(c, { 'x-ts': '-1' }), body: 'AAAA' })],
      ['x-nonce 15 bytes', (c) => ({ headers: hdr(c, { 'x-nonce': toBase64Url(new Uint8Array(15)) }), body: 'AAAA' })],
      ['body padded b64u', (c) => ({ headers: hdr(c), body: 'AAA=' })],
      ['unknown appId, well formed', () => ({ headers: { 'x-app-id': toBase64Url(new Uint8Array(16)), 'x-op': '/echo', 'x-ts': String(Date.now()), 'x-nonce': nonce() }, body: 'AAAA' })],
      ['unknown appId and a bad nonce (step 3 before 4)', () => ({ headers: { 'x-app-id': 'nobody', 'x-op': '/echo', 'x-ts': String(Date.now()), 'x-nonce': 'x' }, body: 'AAAA' })],
      ['body under 28 bytes', (c) => ({ headers: hdr(c), body: toBase64Url(new Uint8Array(27)) })],
      ['sealed under another x-op', async (c) => ({ ...(await sealed(c, '{"id":"a","params":{}}', { op: '/fail' })), headers: { ...(await sealed(c, '', {})).headers } })],
      ['plaintext not JSON', (c) => sealed(c, 'not json')],
      ['plaintext invalid UTF-8', (c) => sealed(c, Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d))],
      ['id of 129 UTF-16 units', (c) => sealed(c, JSON.stringify({ id: 'a'.repeat(129), params: {} }))],
      ['id of 64 emoji (128 UTF-16 units)', (c) => sealed(c, JSON.stringify({ id: '🌏'.repeat(64) + Math.random(), params: {} }).replace(/0\.\d+/, ''))],
      ['no params key', (c) => sealed(c, '{"id":"x"}')],
      ['x-ts 400 s ahead (sealed CLOCK_SKEW)', (c) => sealed(c, JSON.stringify({ id: nonce(), params: {} }), { ts: String(Date.now() + 400_000) })],
    ];
    const table: Record<string, Record<string, string>> = {};
    for (const [what, make] of cases) {
      table[what] = {};
      for (const id of ids) {
        const r = await make(creds[id]);
        table[what][id] = await answer(bases[id], r, creds[id]);
      }
    }
    const javaSide = Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v.Java]));
    const nodeSide = Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v.Node]));
    expect(javaSide).toEqual(nodeSide);
    // ...and both as §3.2 / §5 say (plain answers are application/json, sealed ones text/plain).
    const plain = (s: string) => `${s} application/json`;
    expect(Object.values(javaSide)).toEqual([
      plain('405 BAD_REQUEST'), ...Array(6).fill(plain('400 BAD_REQUEST')), plain('400 BAD_REQUEST'), plain('404 NOT_FOUND'), plain('404 NOT_FOUND'),
      plain('413 BODY_TOO_LARGE'), ...Array(6).fill(plain('400 BAD_REQUEST')), plain('401 CREDENTIAL_EXPIRED'), plain('400 BAD_REQUEST'),
      plain('403 SIGNATURE_INVALID'), plain('403 SIGNATURE_INVALID'), plain('400 BAD_REQUEST'), plain('400 BAD_REQUEST'), plain('400 BAD_REQUEST'),
      'sealed ok text/plain', plain('400 BAD_REQUEST'), 'sealed CLOCK_SKEW text/plain',
    ]);
  }, 30_000);
});
