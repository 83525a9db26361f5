/**
 * `modern` against the independent vectors (../shared/vectors/modern-v1.json) and against
 * docs/modern-protocol.md, whose `### Vector: <name>` blocks must stay equal to that file.
 * Both halves are driven with fixed ephemeral keys and scripted randomness, so every byte
 * the client sends and the gateway answers is compared with the Python implementation's.
 */
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createClient, type Client } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError } from '../../src/errors.js';
import { fromBase64UrlStrict, toBase64Url } from '../../src/codec/base64.js';
import { fromHex, toHex } from '../../src/codec/hex.js';
import { utf8Decode, utf8Encode } from '../../src/codec/utf8.js';
import { gcmOpen, gcmSeal, importGcmKey } from '../../src/crypto/aes.js';
import { ecdhDerive, ecdhFromScalar, ecdsaVerify, ecVerifyKey, type EcPublicKeyInput } from '../../src/crypto/ec.js';
import { deriveSessionKeys, issuanceMessage, modern, requestAad } from '../../src/profiles/modern.js';
import { createGateway, OperationError, type Gateway } from '../../src/server/gateway.js';
import { modern as modernGateway } from '../../src/server/modern.js';
import type { CredentialStore, WireRequest, WireResponse } from '../../src/types.js';
import { failure } from '../helpers/servers.js';

// ---------------------------------------------------------------------------------------
// The vectors and the document
// ---------------------------------------------------------------------------------------

interface CallVector {
  name: string;
  operationType: string;
  path: string;
  headers: Record<string, string>;
  requestId: string;
  requestIdBytesHex: string;
  ivHex: string;
  params: Record<string, unknown>;
  plaintextJson: string;
  aad: string;
  requestBody: string;
  response: { status: number; ivHex: string; envelopeJson: string; aad: string; body: string };
}

interface SignalVector {
  name: string;
  answers: string;
  status: number;
  ivHex: string;
  envelopeJson: string;
  aad: string;
  body: string;
}

interface Vectors {
  serverKeys: Record<string, { privateScalarHex: string; pkcs8Pem: string; spkiBase64: string; jwk: JsonWebKey }>;
  clientOptions: { serverKeys: Record<string, JsonWebKey>; issuePath: string; maxClockCorrectionMs: number };
  ephemeral: { client: { privateScalarHex: string; publicRaw: string }; server: { privateScalarHex: string; publicRaw: string } };
  issuance: {
    requestBody: string;
    kid: string;
    appId: string;
    appIdBytesHex: string;
    expiresAt: string;
    serverTime: string;
    salt: string;
    saltBytesHex: string;
    messageToSign: string;
    sig: string;
    responseBody: string;
    ZHex: string;
    hkdf: { infoReq: string; infoRes: string };
    reqKeyHex: string;
    resKeyHex: string;
  };
  issuanceRotated: { kid: string; messageToSign: string; sig: string; responseBody: string };
  calls: CallVector[];
  plainErrorBodies: Record<string, string>;
  sealedSignals: SignalVector[];
  negative: { what: string; expect: string; requestBody?: string; headers?: Record<string, string>; path?: string }[];
}

const vectorsText = readFileSync(new URL('../../../shared/vectors/modern-v1.json', import.meta.url), 'utf8');
const V = JSON.parse(vectorsText) as Vectors;
const docText = readFileSync(new URL('../../docs/modern-protocol.md', import.meta.url), 'utf8');

const [ECHO, FAIL] = V.calls;
const [SKEW, REPLAYED] = V.sealedSignals;
const ISS = V.issuance;

/** Every `### Vector: <name>` heading, with the first ```json block under it (before any other heading). */
function docVectors(markdown: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^### Vector: (\S+)\s*$/.exec(lines[i]);
    if (!m) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith('```') && !/^#{1,6} /.test(lines[j])) j++;
    if (lines[j] !== '```json') throw new Error(`vector ${m[1]}: no \`\`\`json block right under its heading`);
    const end = lines.indexOf('```', j + 1);
    if (end < 0) throw new Error(`vector ${m[1]}: unterminated block`);
    if (out.has(m[1])) throw new Error(`vector ${m[1]} appears twice`);
    out.set(m[1], JSON.parse(lines.slice(j + 1, end).join('\n')));
  }
  return out;
}

/** What each documented vector must equal, as a part of modern-v1.json. */
const DOC_SOURCES: Record<string, unknown> = {
  'server-signing-keys': V.serverKeys,
  'client-options': V.clientOptions,
  'ephemeral-keys': V.ephemeral,
  issuance: V.issuance,
  'issuance-rotated': V.issuanceRotated,
  'call-echo-unicode': ECHO,
  'call-business-error': FAIL,
  'plain-error-bodies': V.plainErrorBodies,
  'sealed-clock-skew': SKEW,
  'sealed-replayed-request': REPLAYED,
  'negative-cases': V.negative,
};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

const hex = (h: string) => fromHex(h);
const scalar = (byte: string) => hex(byte.repeat(32));
const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** A random source that must be asked for exactly these byte strings, in this order. */
function scripted(...chunks: Uint8Array[]): ((n: number) => Uint8Array) & { push(...c: Uint8Array[]): void; left(): number } {
  const queue = [...chunks];
  const random = (n: number) => {
    const next = queue.shift();
    if (!next) throw new Error(`random(${n}) asked for more bytes than the test scripted`);
    if (next.length !== n) throw new Error(`random(${n}) asked where the script has ${next.length} bytes: draw order differs`);
    return next.slice();
  };
  return Object.assign(random, { push: (...c: Uint8Array[]) => void queue.push(...c), left: () => queue.length });
}

/** The local (device) clock: 4.321 s behind the gateway, so the offset is visible and small. */
const LOCAL_AT_ISSUANCE = Number(ISS.serverTime) - 4321;

type Answer = WireResponse | ((req: WireRequest) => WireResponse | Promise<WireResponse>);

interface ClientRig {
  client: Client;
  sends: WireRequest[];
  answers: Answer[];
  random: ReturnType<typeof scripted>;
  clock: { local: number };
  store: CredentialStore;
  storeKey: string;
}

const ok = (body: string, status = 200): WireResponse => ({ status, headers: {}, body });

function clientRig(opts: { answers?: Answer[]; random?: Uint8Array[]; serverKeys?: Record<string, EcPublicKeyInput> } = {}): ClientRig {
  const sends: WireRequest[] = [];
  const answers = [...(opts.answers ?? [])];
  const clock = { local: LOCAL_AT_ISSUANCE };
  const random = scripted(...(opts.random ?? []));
  const store = memoryStore();
  const storeKey = 'modern-vectors';
  const client = createClient({
    profile: modern({ serverKeys: opts.serverKeys ?? V.clientOptions.serverKeys, ephemeral: () => ecdhFromScalar(hex(V.ephemeral.client.privateScalarHex)) }),
    transport: {
      async send(req) {
        sends.push(req);
        const a = answers.shift();
        if (!a) throw new Error(`unexpected send #${sends.length} to ${req.path}`);
        return typeof a === 'function' ? a(req) : a;
      },
    },
    store,
    storeKey,
    clock: { now: () => clock.local },
    random,
  });
  return { client, sends, answers, random, clock, store, storeKey };
}

/** The random draws of one call's first send: request id, nonce, IV. */
const callRandom = (c: CallVector) => [hex(c.requestIdBytesHex), fromBase64UrlStrict(c.headers['x-nonce']), hex(c.ivHex)];

/** Issue (answering with `responseBody`) and move the local clock so the corrected time is `ts`. */
async function issueThenAt(rig: ClientRig, ts: string, responseBody = ISS.responseBody): Promise<void> {
  rig.answers.unshift(ok(responseBody));
  await rig.client.credentials!.current();
  expect(rig.client.clockOffset).toBe(Number(ISS.serverTime) - LOCAL_AT_ISSUANCE);
  rig.clock.local = Number(ts) - rig.client.clockOffset;
}

function expectIssuanceRequest(req: WireRequest): void {
  expect(req.path).toBe(V.clientOptions.issuePath);
  expect(req.method).toBe('POST');
  expect(lower(req.headers)).toEqual({ 'content-type': 'application/json' });
  expect(req.body).toBe(ISS.requestBody);
}

/** Header names compare case-insensitively (HTTP); values and the body byte for byte. */
function expectCallRequest(req: WireRequest, c: CallVector): void {
  expect(req.path).toBe(c.path);
  expect(req.method).toBe('POST');
  expect(lower(req.headers)).toEqual(lower(c.headers));
  expect(req.body).toBe(c.requestBody);
}


const envelopeData = (json: string) => (JSON.parse(json) as { data: unknown }).data;

/** The `/echo` operation whose answer the vectors recorded. */
const echo = (params: Record<string, unknown>) => ({ ...params, serverTime: '1700000000123' });

interface GatewayRig {
  gateway: Gateway;
  random: ReturnType<typeof scripted>;
  clock: { now: number };
  echoed: unknown[];
}

function gatewayRig(
  signingKeys: Record<string, string> = { k1: V.serverKeys.k1.pkcs8Pem },
  activeKid?: string,
  limits: { maxInFlight?: number; maxCredentials?: number } = {},
): GatewayRig {
  const clock = { now: Number(ISS.serverTime) };
  const random = scripted(hex(ISS.saltBytesHex), hex(ISS.appIdBytesHex));
  const echoed: unknown[] = [];
  const gateway = createGateway({
    profile: modernGateway({
      signingKeys,
      ...(activeKid ? { activeKid } : {}),
      ...(limits.maxCredentials ? { maxCredentials: limits.maxCredentials } : {}),
      ephemeral: () => ecdhFromScalar(hex(V.ephemeral.server.privateScalarHex)),
    }),
    now: () => clock.now,
    random,
    ...(limits.maxInFlight ? { maxInFlight: limits.maxInFlight } : {}),
  });
  gateway
    .operation('/echo', (params: Record<string, unknown>) => {
      echoed.push(params);
      return echo(params);
    })
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    })
    .operation('/sum', (p: { a: number; b: number }) => ({ sum: p.a + p.b }));
  return { gateway, random, clock, echoed };
}

const BASE = 'http://gateway.test';

function issueRequest(): Request {
  return new Request(BASE + V.clientOptions.issuePath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ISS.requestBody });
}

function callRequest(c: { path?: string; headers: Record<string, string>; requestBody: string }, path = c.path ?? '/echo'): Request {
  return new Request(BASE + path, { method: 'POST', headers: c.headers, body: c.requestBody });
}

async function issuedGateway(limits?: Parameters<typeof gatewayRig>[2]): Promise<GatewayRig> {
  const rig = gatewayRig(undefined, undefined, limits);
  const res = await rig.gateway.handle(issueRequest());
  expect(res.status).toBe(200);
  expect(rig.random.left()).toBe(0);
  return rig;
}

// ---------------------------------------------------------------------------------------

describe('docs/modern-protocol.md cannot drift from modern-v1.json', () => {
  const blocks = docVectors(docText);

  it('documents exactly the expected vector blocks', () => {
    expect([...blocks.keys()].sort()).toEqual(Object.keys(DOC_SOURCES).sort());
  });

  for (const [name, source] of Object.entries(DOC_SOURCES)) {
    it(`vector block "${name}" equals the shared file`, () => {
      expect(blocks.get(name)).toEqual(source);
    });
  }
});

describe('modern-v1: the shared file holds the vectors tested here, no more, no fewer', () => {
  it('two calls, two sealed signals, five plain error bodies (a vector added or removed fails here)', () => {
    expect(V.calls.map((c) => c.name)).toEqual(['echo-unicode', 'business-error']);
    expect(V.sealedSignals.map((s) => [s.name, s.answers])).toEqual([
      ['clock-skew', 'calls[0]'],
      ['replayed-request', 'calls[0]'],
    ]);
    expect(Object.keys(V.plainErrorBodies)).toEqual(Object.keys(PLAIN));
  });
});

describe('modern-v1: derived values', () => {
  it('ecdhDerive(client scalar 11…, server publicRaw) is ZHex, and both ephemeral public keys match', async () => {
    const client = await ecdhFromScalar(hex(V.ephemeral.client.privateScalarHex));
    const server = await ecdhFromScalar(hex(V.ephemeral.server.privateScalarHex));
    expect(toBase64Url(client.publicRaw)).toBe(V.ephemeral.client.publicRaw);
    expect(toBase64Url(server.publicRaw)).toBe(V.ephemeral.server.publicRaw);
    expect(toHex(await ecdhDerive(client, server.publicRaw))).toBe(ISS.ZHex);
    expect(toHex(await ecdhDerive(server, client.publicRaw))).toBe(ISS.ZHex);
  });

  it('deriveSessionKeys(Z, salt bytes, appId) gives reqKeyHex and resKeyHex', async () => {
    const keys = await deriveSessionKeys(hex(ISS.ZHex), hex(ISS.saltBytesHex), ISS.appId);
    expect(toHex(keys.reqKey)).toBe(ISS.reqKeyHex);
    expect(toHex(keys.resKey)).toBe(ISS.resKeyHex);
    expect(ISS.hkdf.infoReq).toBe('sealed-rpc/v1 req ' + ISS.appId);
    expect(ISS.hkdf.infoRes).toBe('sealed-rpc/v1 res ' + ISS.appId);
  });

  it('issuanceMessage and requestAad build the vectors’ texts; appId and salt are the b64u of their bytes', () => {
    const fields = { kid: ISS.kid, appId: ISS.appId, expiresAt: ISS.expiresAt, serverTime: ISS.serverTime, clientKey: V.ephemeral.client.publicRaw, serverKey: V.ephemeral.server.publicRaw, salt: ISS.salt };
    expect(issuanceMessage(fields)).toBe(ISS.messageToSign);
    expect(issuanceMessage({ ...fields, kid: V.issuanceRotated.kid })).toBe(V.issuanceRotated.messageToSign);
    expect(toBase64Url(hex(ISS.appIdBytesHex))).toBe(ISS.appId);
    expect(toBase64Url(hex(ISS.saltBytesHex))).toBe(ISS.salt);
    for (const c of V.calls) {
      expect(utf8Decode(requestAad(c.headers['x-app-id'], c.headers['x-op'], c.headers['x-ts'], c.headers['x-nonce']))).toBe(c.aad);
      expect(toBase64Url(hex(c.requestIdBytesHex))).toBe(c.requestId);
      expect(JSON.stringify({ id: c.requestId, params: c.params })).toBe(c.plaintextJson);
    }
  });

  it('the vectors’ issuance signatures verify under serverKeys[kid] (JWK, SPKI and PEM-derived forms alike)', async () => {
    for (const [kid, msg, sig] of [
      ['k1', ISS.messageToSign, ISS.sig],
      ['k2', V.issuanceRotated.messageToSign, V.issuanceRotated.sig],
    ] as const) {
      for (const form of [V.serverKeys[kid].jwk, V.serverKeys[kid].spkiBase64]) {
        expect(await ecdsaVerify(ecVerifyKey(form), utf8Encode(msg), fromBase64UrlStrict(sig))).toBe(true);
      }
    }
    expect(await ecdsaVerify(ecVerifyKey(V.serverKeys.k2.jwk), utf8Encode(ISS.messageToSign), fromBase64UrlStrict(ISS.sig))).toBe(false);
  });

  it('request bodies open under reqKey and response bodies under resKey with the nonce as AAD', async () => {
    const reqKey = await importGcmKey(hex(ISS.reqKeyHex));
    const resKey = await importGcmKey(hex(ISS.resKeyHex));
    for (const c of V.calls) {
      const body = fromBase64UrlStrict(c.requestBody);
      expect(toHex(body.subarray(0, 12))).toBe(c.ivHex);
      expect(utf8Decode(await gcmOpen(reqKey, body, utf8Encode(c.aad)))).toBe(c.plaintextJson);
      expect(c.response.aad).toBe(c.headers['x-nonce']);
      const res = fromBase64UrlStrict(c.response.body);
      expect(toHex(res.subarray(0, 12))).toBe(c.response.ivHex);
      expect(utf8Decode(await gcmOpen(resKey, res, utf8Encode(c.response.aad)))).toBe(c.response.envelopeJson);
    }
    for (const s of V.sealedSignals) {
      expect(s.aad).toBe(ECHO.headers['x-nonce']);
      expect(utf8Decode(await gcmOpen(resKey, fromBase64UrlStrict(s.body), utf8Encode(s.aad)))).toBe(s.envelopeJson);
      expect(toBase64Url(await gcmSeal(resKey, utf8Encode(s.envelopeJson), utf8Encode(s.aad), hex(s.ivHex)))).toBe(s.body);
    }
  });
});

describe('modern-v1: the client reproduces the vectors', () => {
  it('issuance: sends issuance.requestBody, accepts responseBody, sets offset = serverTime − local receive time', async () => {
    const rig = clientRig({ answers: [ok(ISS.responseBody)] });
    const record = await rig.client.credentials!.current();
    expect(rig.sends).toHaveLength(1);
    expectIssuanceRequest(rig.sends[0]);
    expect(rig.client.clockOffset).toBe(Number(ISS.serverTime) - LOCAL_AT_ISSUANCE);
    expect(record.expiresAt).toBe(Number(ISS.expiresAt));
    expect((record.value as { appId: string }).appId).toBe(ISS.appId);
    expect(await rig.store.get(rig.storeKey)).toBeDefined();
  });

  it('calls[0] echo-unicode: headers and body byte for byte, and the data of the envelope comes back', async () => {
    const rig = clientRig({ random: callRandom(ECHO) });
    await issueThenAt(rig, ECHO.headers['x-ts']);
    rig.answers.push(ok(ECHO.response.body));
    const data = await rig.client.call(ECHO.operationType, ECHO.params);
    expect(rig.sends).toHaveLength(2);
    expectIssuanceRequest(rig.sends[0]);
    expectCallRequest(rig.sends[1], ECHO);
    expect(data).toEqual(envelopeData(ECHO.response.envelopeJson));
    expect(rig.random.left()).toBe(0);
  });

  it('issuance followed directly by calls[0] (no explicit issuance step): the same bytes', async () => {
    const rig = clientRig({ answers: [ok(ISS.responseBody), ok(ECHO.response.body)], random: callRandom(ECHO) });
    rig.clock.local = LOCAL_AT_ISSUANCE; // corrected time at seal = serverTime = calls[0] x-ts
    expect(ECHO.headers['x-ts']).toBe(ISS.serverTime);
    const data = await rig.client.call(ECHO.operationType, ECHO.params);
    expectIssuanceRequest(rig.sends[0]);
    expectCallRequest(rig.sends[1], ECHO);
    expect(data).toEqual(envelopeData(ECHO.response.envelopeJson));
  });

  it('calls[1] business-error: same bytes; the answer is RpcError GATEWAY, gatewayCode E_DEMO, message "demo failure"', async () => {
    const rig = clientRig({ random: callRandom(FAIL) });
    await issueThenAt(rig, FAIL.headers['x-ts']);
    rig.answers.push(ok(FAIL.response.body));
    const err = await failure(rig.client.call(FAIL.operationType, FAIL.params));
    expectCallRequest(rig.sends[1], FAIL);
    expect(err.code).toBe('GATEWAY');
    expect(err.gatewayCode).toBe('E_DEMO');
    expect(err.message).toBe('demo failure');
    expect(rig.sends).toHaveLength(2);
  });

  it('issuanceRotated: with serverKeys {k1, k2} the k2-signed issuance is accepted and derives the same keys (same calls[0] bytes)', async () => {
    const rig = clientRig({ random: callRandom(ECHO), serverKeys: { k1: V.clientOptions.serverKeys.k1, k2: V.clientOptions.serverKeys.k2 } });
    await issueThenAt(rig, ECHO.headers['x-ts'], V.issuanceRotated.responseBody);
    rig.answers.push(ok(ECHO.response.body));
    const data = await rig.client.call(ECHO.operationType, ECHO.params);
    expectCallRequest(rig.sends[1], ECHO);
    expect(data).toEqual(envelopeData(ECHO.response.envelopeJson));
  });

  it('issuanceRotated: a client that pins only k1 refuses the k2-signed issuance (SIGNATURE_INVALID)', async () => {
    const rig = clientRig({ answers: [ok(V.issuanceRotated.responseBody)], serverKeys: { k1: V.clientOptions.serverKeys.k1 } });
    const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
    expect(err.code).toBe('SIGNATURE_INVALID');
    expect(rig.sends).toHaveLength(1);
  });
});

describe('modern-v1: the gateway reproduces the vectors', () => {
  it('POST /issue with issuance.requestBody: the vector’s fields, in its order, and a sig that verifies over messageToSign', async () => {
    const rig = gatewayRig();
    const res = await rig.gateway.handle(issueRequest());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const text = await res.text();
    const body = JSON.parse(text) as Record<string, string>;
    expect(body).toMatchObject({ kid: ISS.kid, appId: ISS.appId, expiresAt: ISS.expiresAt, serverTime: ISS.serverTime, serverKey: V.ephemeral.server.publicRaw, salt: ISS.salt });
    // ECDSA is randomized: byte-equal except for sig, and sig verifies.
    expect(JSON.stringify({ ...body, sig: ISS.sig })).toBe(ISS.responseBody);
    expect(fromBase64UrlStrict(body.sig)).toHaveLength(64);
    expect(await ecdsaVerify(ecVerifyKey(V.serverKeys.k1.jwk), utf8Encode(ISS.messageToSign), fromBase64UrlStrict(body.sig))).toBe(true);
    expect(rig.random.left()).toBe(0);
  });

  it('activeKid k2 (rotation): kid k2 and a sig that verifies over issuanceRotated.messageToSign', async () => {
    const rig = gatewayRig({ k1: V.serverKeys.k1.pkcs8Pem, k2: V.serverKeys.k2.pkcs8Pem }, 'k2');
    const body = (await (await rig.gateway.handle(issueRequest())).json()) as Record<string, string>;
    expect(JSON.stringify({ ...body, sig: V.issuanceRotated.sig })).toBe(V.issuanceRotated.responseBody);
    expect(await ecdsaVerify(ecVerifyKey(V.serverKeys.k2.jwk), utf8Encode(V.issuanceRotated.messageToSign), fromBase64UrlStrict(body.sig))).toBe(true);
  });

  it('calls[0] echo-unicode: 200, text/plain, body equals calls[0].response.body exactly', async () => {
    const rig = await issuedGateway();
    rig.random.push(hex(ECHO.response.ivHex));
    const res = await rig.gateway.handle(callRequest(ECHO));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe(ECHO.response.body);
    expect(rig.echoed).toEqual([ECHO.params]);
    expect(rig.random.left()).toBe(0);
  });

  it('calls[1] business-error: OperationError(E_DEMO) at serverTime 1700000001005 gives calls[1].response.body exactly', async () => {
    const rig = await issuedGateway();
    rig.clock.now = 1700000001005;
    rig.random.push(hex(FAIL.response.ivHex));
    const res = await rig.gateway.handle(callRequest(FAIL));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(FAIL.response.body);
  });

  it('sealedSignals: the gateway seals CLOCK_SKEW and REPLAYED_REQUEST for calls[0] to the vectors’ bytes', async () => {
    const rig = await issuedGateway();
    rig.clock.now = 1700000400000; // x-ts 1700000000000 is 400 s off: outside the 300 s window
    rig.random.push(hex(SKEW.ivHex));
    const skew = await rig.gateway.handle(callRequest(ECHO));
    expect(skew.status).toBe(200);
    expect(await skew.text()).toBe(SKEW.body);
    expect(rig.echoed).toHaveLength(0);

    rig.clock.now = Number(ISS.serverTime);
    rig.random.push(hex(ECHO.response.ivHex));
    expect(await (await rig.gateway.handle(callRequest(ECHO))).text()).toBe(ECHO.response.body);
    rig.clock.now = 1700000000200;
    rig.random.push(hex(REPLAYED.ivHex));
    const replay = await rig.gateway.handle(callRequest(ECHO));
    expect(replay.status).toBe(200);
    expect(await replay.text()).toBe(REPLAYED.body);
    expect(rig.echoed).toHaveLength(1);
  });
});

/**
 * PROTOCOLS.md §4: the plain (unsealed) error answers, status -> error code; the client's
 * RpcError code for each (all five are in the spec's list and the client maps each).
 */
const PLAIN: Record<string, { error: string; code: RpcError['code'] }> = {
  '400': { error: 'BAD_REQUEST', code: 'BAD_REQUEST' },
  '401': { error: 'CREDENTIAL_EXPIRED', code: 'CREDENTIAL_EXPIRED' },
  '403': { error: 'SIGNATURE_INVALID', code: 'SIGNATURE_INVALID' },
  '429': { error: 'RATE_LIMITED', code: 'RATE_LIMITED' },
  '503': { error: 'GATEWAY_BUSY', code: 'GATEWAY_BUSY' },
};
/** The gateway time the plain bodies were recorded at (123 ms after the issuance). */
const PLAIN_AT = 1700000000123;

describe('modern-v1: plain error bodies', () => {
  it('each body is the compact JSON of {error, serverTime} for its status', () => {
    for (const [status, body] of Object.entries(V.plainErrorBodies))
      expect(body, status).toBe(JSON.stringify({ error: PLAIN[status].error, serverTime: String(PLAIN_AT) }));
  });

  for (const status of Object.keys(PLAIN)) {
    it(`client: ${status} with plainErrorBodies["${status}"] as the answer to calls[0] -> RpcError ${PLAIN[status].code}, never a clock source`, async () => {
      const { error, code } = PLAIN[status];
      const body = V.plainErrorBodies[status];
      const renews = status === '401';
      // 401: the client renews (the same issuance) and resends once, sealed afresh; the second 401 surfaces.
      const rig = clientRig({ random: [...callRandom(ECHO), ...(renews ? [hex('e0'.repeat(16)), hex('f0'.repeat(12))] : [])] });
      await issueThenAt(rig, ECHO.headers['x-ts']);
      const before = rig.client.clockOffset;
      rig.answers.push(ok(body, Number(status)), ...(renews ? [ok(ISS.responseBody), ok(body, Number(status))] : []));
      const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
      expect(err).toBeInstanceOf(RpcError);
      expect(err).toMatchObject({ code, status: Number(status), gatewayCode: error });
      expectCallRequest(rig.sends[1], ECHO);
      expect(rig.sends.map((r) => r.path)).toEqual(renews ? [V.clientOptions.issuePath, ECHO.path, V.clientOptions.issuePath, ECHO.path] : [V.clientOptions.issuePath, ECHO.path]);
      expect(rig.client.clockOffset).toBe(before);
      expect(rig.answers).toHaveLength(0);
      expect(rig.random.left()).toBe(0);
    });
  }

  /** The gateway's plain answer (its clock at PLAIN_AT): status, JSON content type and the vector's bytes exactly. */
  async function expectVectorBody(res: Response, status: string): Promise<void> {
    expect(res.status).toBe(Number(status));
    expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(await res.text()).toBe(V.plainErrorBodies[status]);
  }

  it('gateway 400: calls[0] without its x-nonce header -> plainErrorBodies["400"] byte for byte', async () => {
    const rig = await issuedGateway();
    rig.clock.now = PLAIN_AT;
    const { 'x-nonce': _nonce, ...headers } = ECHO.headers;
    await expectVectorBody(await rig.gateway.handle(callRequest({ ...ECHO, headers })), '400');
    expect(rig.gateway.stats().executions).toBe(0);
  });

  it('gateway 401: calls[0] to a gateway that never issued its appId -> plainErrorBodies["401"] byte for byte', async () => {
    const rig = gatewayRig();
    rig.clock.now = PLAIN_AT;
    await expectVectorBody(await rig.gateway.handle(callRequest(ECHO)), '401');
    expect(rig.gateway.stats().executions).toBe(0);
  });

  it('gateway 403: calls[0] with a changed body character -> plainErrorBodies["403"] byte for byte', async () => {
    const rig = await issuedGateway();
    rig.clock.now = PLAIN_AT;
    const changed = V.negative[0];
    await expectVectorBody(await rig.gateway.handle(callRequest({ ...ECHO, requestBody: changed.requestBody!, headers: changed.headers! })), '403');
    expect(rig.gateway.stats().executions).toBe(0);
  });

  it('gateway 429: a second issuance past maxCredentials 1 -> plainErrorBodies["429"] byte for byte', async () => {
    const rig = await issuedGateway({ maxCredentials: 1 });
    rig.clock.now = PLAIN_AT;
    await expectVectorBody(await rig.gateway.handle(issueRequest()), '429');
  });

  it('gateway 503: calls[0] past maxInFlight 1 (an issuance still reading its body) -> plainErrorBodies["503"] byte for byte', async () => {
    const rig = await issuedGateway({ maxInFlight: 1 });
    rig.clock.now = PLAIN_AT;
    let body!: ReadableStreamDefaultController<Uint8Array>;
    let reading = false;
    const stream = new ReadableStream<Uint8Array>(
      {
        start(c) {
          body = c;
        },
        pull() {
          reading = true; // the gateway is waiting for the body: that request is in flight
        },
      },
      { highWaterMark: 0 },
    );
    const held = rig.gateway.handle(new Request(BASE + V.clientOptions.issuePath, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit));
    await vi.waitFor(() => expect(reading).toBe(true), { timeout: 5000, interval: 5 });
    await expectVectorBody(await rig.gateway.handle(callRequest(ECHO)), '503');
    expect(rig.echoed).toHaveLength(0);
    // Let the held one finish (not JSON: 400), so nothing is left running.
    body.enqueue(utf8Encode('not json'));
    body.close();
    expect((await held).status).toBe(400);
  });
});

describe('modern-v1: negative cases', () => {
  const [changedChar, otherOp, otherPath, crossedResponse, crossedSkew, plainSkew, kidK2, kidK3, serverTimeChanged] = V.negative;

  it('the shared file lists the nine negative cases tested here', () => {
    expect(V.negative).toHaveLength(9);
    expect(changedChar.expect).toBe('403 SIGNATURE_INVALID');
    expect(otherOp.expect).toBe('403 SIGNATURE_INVALID');
    expect(otherPath.path).toBe('/rewritten/by/a/proxy');
    expect(crossedResponse.expect).toMatch(/RESPONSE_TAMPERED/);
    expect(crossedSkew.expect).toMatch(/RESPONSE_TAMPERED/);
    expect(plainSkew.expect).toMatch(/HTTP_STATUS/);
    expect(kidK2.what).toMatch(/"k2"/);
    expect(kidK3.what).toMatch(/"k3"/);
    expect(serverTimeChanged.what).toMatch(/serverTime/);
  });

  async function expectPlain(res: Response, status: number, error: string): Promise<void> {
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error, serverTime: ISS.serverTime });
  }

  it(`gateway: ${changedChar.what} -> 403 SIGNATURE_INVALID, nothing run`, async () => {
    const rig = await issuedGateway();
    await expectPlain(await rig.gateway.handle(callRequest({ ...ECHO, requestBody: changedChar.requestBody!, headers: changedChar.headers! })), 403, 'SIGNATURE_INVALID');
    expect(rig.echoed).toHaveLength(0);
    // The nonce was not recorded: the genuine request still goes through.
    rig.random.push(hex(ECHO.response.ivHex));
    expect(await (await rig.gateway.handle(callRequest(ECHO))).text()).toBe(ECHO.response.body);
  });

  it(`gateway: ${otherOp.what} -> 403 SIGNATURE_INVALID (an existing op, so not 404)`, async () => {
    const rig = await issuedGateway();
    await expectPlain(await rig.gateway.handle(callRequest({ ...ECHO, headers: otherOp.headers! })), 403, 'SIGNATURE_INVALID');
    expect(rig.gateway.stats().executions).toBe(0);
  });

  it(`gateway: ${otherPath.what} -> accepted, routed by x-op`, async () => {
    const rig = await issuedGateway();
    rig.random.push(hex(ECHO.response.ivHex));
    const res = await rig.gateway.handle(callRequest(ECHO, otherPath.path!));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(ECHO.response.body);
    expect(rig.echoed).toEqual([ECHO.params]);
  });

  it(`client: ${crossedResponse.what} -> RESPONSE_TAMPERED`, async () => {
    const rig = clientRig({ random: callRandom(FAIL) });
    await issueThenAt(rig, FAIL.headers['x-ts']);
    rig.answers.push(ok(ECHO.response.body));
    const err = await failure(rig.client.call(FAIL.operationType, FAIL.params));
    expect(err.code).toBe('RESPONSE_TAMPERED');
    expect(rig.sends).toHaveLength(2);
  });

  it(`client: ${crossedSkew.what} -> RESPONSE_TAMPERED, clock offset unchanged, no resend`, async () => {
    const rig = clientRig({ random: callRandom(FAIL) });
    await issueThenAt(rig, FAIL.headers['x-ts']);
    const before = rig.client.clockOffset;
    rig.answers.push(ok(SKEW.body));
    const err = await failure(rig.client.call(FAIL.operationType, FAIL.params));
    expect(err.code).toBe('RESPONSE_TAMPERED');
    expect(rig.client.clockOffset).toBe(before);
    expect(rig.sends).toHaveLength(2);
  });

  it(`client: ${plainSkew.what} -> HTTP_STATUS, no clock change, no resend`, async () => {
    const rig = clientRig({ random: callRandom(ECHO) });
    await issueThenAt(rig, ECHO.headers['x-ts']);
    const before = rig.client.clockOffset;
    const body = V.plainErrorBodies['400'].replace('"BAD_REQUEST"', '"CLOCK_SKEW"');
    expect(body).toBe('{"error":"CLOCK_SKEW","serverTime":"1700000000123"}');
    rig.answers.push(ok(body, 400));
    const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
    expect(err.code).toBe('HTTP_STATUS');
    expect(err.status).toBe(400);
    expect(rig.client.clockOffset).toBe(before);
    expect(rig.sends).toHaveLength(2);
  });

  async function refusedIssuance(responseBody: string): Promise<void> {
    expect(responseBody).not.toBe(ISS.responseBody);
    const rig = clientRig({ answers: [ok(responseBody)] });
    const set = vi.spyOn(rig.store, 'set');
    const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
    expect(err.code).toBe('SIGNATURE_INVALID');
    expect(set).not.toHaveBeenCalled();
    expect(await rig.store.get(rig.storeKey)).toBeUndefined();
    expect(rig.client.clockOffset).toBe(0);
    expect(rig.sends).toHaveLength(1);
  }

  it(`client: ${kidK2.what} -> SIGNATURE_INVALID, nothing stored`, async () => {
    await refusedIssuance(ISS.responseBody.replace('"kid":"k1"', '"kid":"k2"'));
  });

  it(`client: ${kidK3.what} -> SIGNATURE_INVALID, nothing stored`, async () => {
    await refusedIssuance(ISS.responseBody.replace('"kid":"k1"', '"kid":"k3"'));
  });

  it(`client: ${serverTimeChanged.what} (+1 ms) -> SIGNATURE_INVALID, nothing stored`, async () => {
    await refusedIssuance(ISS.responseBody.replace(`"serverTime":"${ISS.serverTime}"`, `"serverTime":"${Number(ISS.serverTime) + 1}"`));
  });

  it(`client: ${serverTimeChanged.what} (−1 ms) -> SIGNATURE_INVALID, nothing stored`, async () => {
    await refusedIssuance(ISS.responseBody.replace(`"serverTime":"${ISS.serverTime}"`, `"serverTime":"${Number(ISS.serverTime) - 1}"`));
  });
});

describe('modern-v1: sealed signals at the client', () => {
  it('clock-skew as the answer to calls[0]: offset = serverTime − receive time, one resend with a fresh nonce and the same request id', async () => {
    const freshNonce = hex('e0e1e2e3e4e5e6e7e8e9eaebecedeeef');
    const freshIv = hex('f0f1f2f3f4f5f6f7f8f9fafb');
    const rig = clientRig({ random: [...callRandom(ECHO), freshNonce, freshIv] });
    await issueThenAt(rig, ECHO.headers['x-ts']);
    const receivedAt = rig.clock.local;
    const skewTime = Number((JSON.parse(SKEW.envelopeJson) as { error: { serverTime: string } }).error.serverTime);
    const resKey = await importGcmKey(hex(ISS.resKeyHex));
    const reply = { ok: true, data: { resent: true } };
    rig.answers.push(ok(SKEW.body), async (req) => ok(toBase64Url(await gcmSeal(resKey, utf8Encode(JSON.stringify(reply)), utf8Encode(req.headers['x-nonce']), hex('c0c1c2c3c4c5c6c7c8c9cacb')))));
    const corrected = vi.fn();
    rig.client.events.on('clock-corrected', corrected);

    const data = await rig.client.call(ECHO.operationType, ECHO.params);
    expect(data).toEqual(reply.data);
    expect(rig.client.clockOffset).toBe(skewTime - receivedAt);
    expect(corrected).toHaveBeenCalledTimes(1);
    expect(rig.sends).toHaveLength(3);
    expectCallRequest(rig.sends[1], ECHO);
    const resent = rig.sends[2];
    expect(resent.headers['x-nonce']).toBe(toBase64Url(freshNonce));
    expect(resent.headers['x-nonce']).not.toBe(ECHO.headers['x-nonce']);
    expect(resent.headers['x-ts']).toBe(String(skewTime));
    expect(resent.headers['x-app-id']).toBe(ISS.appId);
    const body = fromBase64UrlStrict(resent.body!);
    expect(toHex(body.subarray(0, 12))).toBe(toHex(freshIv));
    const reqKey = await importGcmKey(hex(ISS.reqKeyHex));
    const plaintext = utf8Decode(await gcmOpen(reqKey, body, requestAad(ISS.appId, ECHO.operationType, String(skewTime), resent.headers['x-nonce'])));
    expect(JSON.parse(plaintext)).toEqual({ id: ECHO.requestId, params: ECHO.params });
    expect(plaintext).toBe(ECHO.plaintextJson);
    expect(rig.random.left()).toBe(0);
  });

  it('clock-skew twice in one call: corrected and resent once only, then CLOCK_SKEW surfaces', async () => {
    const rig = clientRig({ random: [...callRandom(ECHO), hex('e0'.repeat(16)), hex('f0'.repeat(12))] });
    await issueThenAt(rig, ECHO.headers['x-ts']);
    const resKey = await importGcmKey(hex(ISS.resKeyHex));
    rig.answers.push(ok(SKEW.body), async (req) => ok(toBase64Url(await gcmSeal(resKey, utf8Encode(SKEW.envelopeJson), utf8Encode(req.headers['x-nonce']), hex(SKEW.ivHex)))));
    const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
    expect(err.code).toBe('CLOCK_SKEW');
    expect(rig.sends).toHaveLength(3);
  });

  it('replayed-request as the answer to calls[0] -> RpcError REPLAYED_REQUEST, no resend', async () => {
    const rig = clientRig({ random: callRandom(ECHO) });
    await issueThenAt(rig, ECHO.headers['x-ts']);
    const before = rig.client.clockOffset;
    rig.answers.push(ok(REPLAYED.body));
    const err = await failure(rig.client.call(ECHO.operationType, ECHO.params));
    expect(err.code).toBe('REPLAYED_REQUEST');
    expect(err.gatewayCode).toBe('REPLAYED_REQUEST');
    expect(rig.client.clockOffset).toBe(before);
    expect(rig.sends).toHaveLength(2);
  });
});

describe('modern-v1: client and gateway together on the vector keys', () => {
  it('the client’s calls[0] request, handed to the gateway, comes back as calls[0].response.body and opens', async () => {
    const gw = gatewayRig();
    const rig = clientRig({ random: callRandom(ECHO) });
    const toGateway = async (req: WireRequest): Promise<WireResponse> => {
      const res = await gw.gateway.handle(new Request(BASE + req.path, { method: req.method, headers: req.headers, body: req.body }));
      return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
    };
    rig.answers.push(toGateway);
    await rig.client.credentials!.current();
    gw.random.push(hex(ECHO.response.ivHex));
    rig.answers.push(async (req) => {
      const res = await toGateway(req);
      expect(res.body).toBe(ECHO.response.body);
      return res;
    });
    rig.clock.local = Number(ECHO.headers['x-ts']) - rig.client.clockOffset;
    expect(await rig.client.call(ECHO.operationType, ECHO.params)).toEqual(envelopeData(ECHO.response.envelopeJson));
    expectCallRequest(rig.sends[1], ECHO);
  });
});
