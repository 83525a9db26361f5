/**
 * Hostile responses, every dialect: a seeded property suite over `profile.open()` (and the
 * issuance answer of the issued dialects). Random bytes, truncations, bit flips, wrong
 * encodings, 2 MB bodies, JSON of the wrong types, ciphertext under the wrong key or for
 * another request, random HTTP statuses and headers. Every case must end in an RpcError
 * whose code is in PROTOCOLS.md's list, or resolve exactly as a reference model of the
 * dialect says it may. For `modern`, only the genuine sealed response (or one the test
 * sealed with the real key) may ever resolve.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64, toBase64Url } from '../../src/codec/base64.js';
import { fromHex, toHex } from '../../src/codec/hex.js';
import { utf8Decode, utf8Encode } from '../../src/codec/utf8.js';
import { gcmSeal } from '../../src/crypto/aes.js';
import { ecdhFromScalar, generateEcdh } from '../../src/crypto/ec.js';
import { randomBytes } from '../../src/crypto/provider.js';
import { RpcError } from '../../src/errors.js';
import { appSecret, mgs, modern, sortedSign } from '../../src/index.js';
import { APP_SECRET_DEFAULTS } from '../../src/profiles/app-secret.js';
import { nodeAppSecretCipher, nodeSortedSignCipher } from '../helpers/node-legacy.js';
import { SORTED_SIGN_DEFAULTS } from '../../src/profiles/sorted-sign.js';
import { appSecret as appSecretGateway, createGateway, mgs as mgsGateway, OperationError, sortedSign as sortedSignGateway } from '../../src/server/index.js';
import type { CallInfo, ProfileContext, Transport, WireResponse } from '../../src/types.js';
import { bridgeResponse } from '../../src/transport/jsbridge.js';
import { inProcess } from '../helpers/in-process.js';
import { modernGateway } from '../helpers/servers.js';

/** PROTOCOLS.md, "Errors (RpcError.code)". */
const PROTOCOL_CODES = new Set([
  'CREDENTIAL_EXPIRED', 'CLOCK_SKEW', 'SIGNATURE_INVALID', 'SIGNATURE_MISSING', 'TIMESTAMP_MISSING', 'KEY_NOT_SET', 'SIGN_PARAMS_INSUFFICIENT',
  'REPLAYED_REQUEST', 'RESPONSE_TAMPERED', 'RESPONSE_REPLAYED', 'RESPONSE_UNREADABLE', 'BAD_REQUEST', 'GATEWAY', 'HTTP_STATUS', 'NETWORK',
  'TIMEOUT', 'ABORTED', 'BAD_CONFIG', 'PACKAGE_SIGNATURE_INVALID', 'RATE_LIMITED', 'GATEWAY_BUSY', 'CRYPTO_UNAVAILABLE',
]);

const SEED = 20240817;
const RUNS = 10_000;
const TWO_MB = 2 * 1024 * 1024;

function ctxFor(transport: Transport): ProfileContext {
  return { now: () => Date.now(), random: randomBytes, parseJson: JSON.parse, send: (r) => transport.send(r, {}) };
}

function callInfo(op: string, params: Record<string, unknown>): CallInfo {
  return { operationType: op, params, options: {}, memo: {} };
}

/** What the reference model says a response may do. */
type Verdict = { resolve: unknown } | 'reject';

interface Subject {
  name: string;
  /** Genuine responses to the request under test, and to other requests (replays). */
  genuine: WireResponse;
  others: WireResponse[];
  /** Bytes <-> wire text in the dialect's ciphertext encoding. */
  decode(body: string): Uint8Array | undefined;
  encode(bytes: Uint8Array): string;
  /** Seal a plaintext the way the real gateway would for this request (only the test can). */
  authentic?(plaintext: string): Promise<string>;
  /** Plain bodies the dialect knows (error strings, plain JSON). */
  plainBodies: string[];
  open(res: WireResponse): Promise<unknown>;
  reference(res: WireResponse): Promise<Verdict>;
}

type Case = { kind: string; status: number; headers: Record<string, string>; keepGenuineHeaders: boolean; body: string | ((s: Subject) => Promise<string>) };

const statusArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant(200) },
  { weight: 2, arbitrary: fc.constantFrom(201, 204, 301, 304, 400, 401, 403, 404, 405, 408, 413, 429, 500, 502, 503, 504) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 599 }) },
);

const headerName = fc.oneof(fc.constantFrom('content-type', 'result-status', 'memo', 'tips', 'mgw-traceid', 'date', 'x-app-id', 'content-length', 'set-cookie'), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/));
const headerValue = fc.oneof(
  fc.constantFrom('1000', '8001', '7003', '7002', '2000', '1002', ' 1000 ', '1e3', '-1', '99999999999999999999', '', 'application/json', 'text/plain', 'Thu, 01 Jan 1970 00:00:00 GMT', '%E4%BD%A0%', '%'),
  fc.integer({ min: -10, max: 10_000 }).map(String),
  fc.string({ maxLength: 40 }),
);
const headersArb = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: fc.dictionary(headerName, headerValue, { maxKeys: 5 }) });

/** JSON values shaped like any dialect's envelope, with the wrong types mixed in. */
const envelopeish = fc.record(
  {
    ok: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
    success: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
    data: fc.jsonValue({ maxDepth: 3 }),
    error: fc.oneof(
      fc.record(
        {
          code: fc.oneof(fc.constantFrom('CLOCK_SKEW', 'REPLAYED_REQUEST', 'REQUEST_ID_REUSED', 'E_BIZ', ''), fc.jsonValue({ maxDepth: 1 })),
          message: fc.jsonValue({ maxDepth: 1 }),
          serverTime: fc.oneof(fc.constantFrom('0', '1700000000000', '99999999999999999', '-5', '1e3'), fc.jsonValue({ maxDepth: 1 })),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    code: fc.oneof(fc.constantFrom(0, '0', 1000, 1001, 1002, 1003, 1004, '1003', 42, -1, 'E_X', '00'), fc.jsonValue({ maxDepth: 1 })),
    msg: fc.jsonValue({ maxDepth: 1 }),
    timestamp: fc.oneof(fc.constantFrom(1700000000000, '1700000000000', 0, -1, 1e300, 'x'), fc.jsonValue({ maxDepth: 1 })),
    safeCode: fc.oneof(fc.constant('$SAFE'), fc.jsonValue({ maxDepth: 1 })),
  },
  { requiredKeys: [] },
);
const anyJson = fc.oneof({ weight: 3, arbitrary: envelopeish }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });

/** A 2 MB body from an alphabet (base64url-looking, or hex, or JSON-ish). */
function huge(seed: number): string {
  const alphabets = ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', '0123456789abcdef', '{"ok":true,"data":['];
  const a = alphabets[seed % alphabets.length];
  let chunk = '';
  for (let i = 0; i < 4096; i++) chunk += a[(seed * 31 + i * 7) % a.length];
  return chunk.repeat(TWO_MB / chunk.length);
}

function flipBit(bytes: Uint8Array, at: number, bit: number): Uint8Array {
  const b = bytes.slice();
  if (b.length) b[at % b.length] ^= 1 << bit;
  return b;
}

const bodyCases: fc.Arbitrary<{ kind: string; body: Case['body'] }>[] = [
  fc.string({ unit: 'binary', maxLength: 300 }).map((body) => ({ kind: 'random-text', body })),
  fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('b64u', 'b64', 'hex', 'latin1')).map(([bytes, enc]) => ({
    kind: 'random-bytes-' + enc,
    body: enc === 'b64u' ? toBase64Url(bytes) : enc === 'b64' ? toBase64(bytes) : enc === 'hex' ? toHex(bytes) : String.fromCharCode(...bytes),
  })),
  fc.nat().map((n) => ({ kind: 'truncated', body: async (s: Subject) => s.genuine.body.slice(0, n % Math.max(1, s.genuine.body.length)) })),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => ({
    kind: 'bit-flip',
    body: async (s: Subject) => {
      const raw = s.decode(s.genuine.body.trim());
      return raw ? s.encode(flipBit(raw, at, bit)) : s.genuine.body;
    },
  })),
  fc.tuple(fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })).map(([at, ch]) => ({
    kind: 'char-swap',
    body: async (s: Subject) => {
      const b = s.genuine.body;
      const i = at % Math.max(1, b.length);
      return b.slice(0, i) + ch + b.slice(i + 1);
    },
  })),
  fc.constantFrom('b64', 'b64u', 'b64-padded', 'hex', 'HEX', 'utf8', 'wrapped').map((enc) => ({
    kind: 'wrong-encoding',
    body: async (s: Subject) => {
      const raw = s.decode(s.genuine.body.trim());
      if (!raw) return s.genuine.body + '=';
      if (enc === 'b64') return toBase64(raw).replace(/=+$/, '');
      if (enc === 'b64u') return toBase64Url(raw);
      if (enc === 'b64-padded') return toBase64(raw);
      if (enc === 'hex') return toHex(raw);
      if (enc === 'HEX') return toHex(raw).toUpperCase();
      if (enc === 'wrapped') return s.genuine.body.replace(/(.{20})/g, '$1\n');
      try {
        return utf8Decode(raw);
      } catch {
        return String.fromCharCode(...raw.subarray(0, 4096));
      }
    },
  })),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([pre, post]) => ({ kind: 'padded-junk', body: async (s: Subject) => pre + s.genuine.body + post })),
  fc.nat().map((i) => ({ kind: 'replayed-other-response', body: async (s: Subject) => s.others[i % s.others.length].body })),
  anyJson.map((v) => ({ kind: 'json-wrong-types', body: JSON.stringify(v) })),
  anyJson.map((v) => ({ kind: 'authentic-json', body: async (s: Subject) => (s.authentic ? s.authentic(JSON.stringify(v)) : JSON.stringify(v)) })),
  fc.tuple(fc.string({ maxLength: 80 }), fc.boolean()).map(([text, asJson]) => ({
    kind: 'authentic-non-json',
    body: async (s: Subject) => (s.authentic ? s.authentic(asJson ? text : '\u0000' + text) : text),
  })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((junk) => ({
    kind: 'wrong-key',
    // Ciphertext of a valid envelope under a key the client does not hold.
    body: async (s: Subject) => {
      const key = randomBytes(32);
      const sealed = await gcmSeal(key, utf8Encode(JSON.stringify({ ok: true, success: true, code: 0, data: { stolen: toHex(junk) } })), undefined);
      return s.encode(sealed);
    },
  })),
  fc.nat().map((i) => ({ kind: 'plain-error', body: async (s: Subject) => s.plainBodies[i % s.plainBodies.length] })),
  fc.constant({ kind: 'genuine', body: async (s: Subject) => s.genuine.body }),
  fc.constant({ kind: 'empty', body: '' }),
];

const caseArb: fc.Arbitrary<Case> = fc
  .tuple(
    fc.oneof(
      ...bodyCases.map((arbitrary) => ({ weight: 40, arbitrary })),
      // A few 2 MB bodies (each costs a full decode).
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map((seed) => ({ kind: 'huge-2MB', body: huge(seed) })) },
    ),
    statusArb,
    headersArb,
    fc.boolean(),
  )
  .map(([b, status, headers, keepGenuineHeaders]) => ({ kind: b.kind, body: b.body, status, headers, keepGenuineHeaders }));

async function fuzzOpen(subject: Subject, runs = RUNS): Promise<{ cases: number; codes: Record<string, number>; resolved: number; kinds: Record<string, number> }> {
  const codes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let cases = 0;
  let resolved = 0;
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const body = typeof c.body === 'string' ? c.body : await c.body(subject);
      const res: WireResponse = { status: c.status, headers: { ...(c.keepGenuineHeaders ? subject.genuine.headers : {}), ...c.headers }, body };
      const verdict = await subject.reference(res);
      let outcome: { data: unknown } | { error: unknown };
      try {
        outcome = { data: await subject.open(res) };
      } catch (error) {
        outcome = { error };
      }
      cases++;
      kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
      if ('error' in outcome) {
        const e = outcome.error;
        if (!(e instanceof RpcError)) throw new Error(`${subject.name} ${c.kind}: open threw ${String((e as Error)?.name)}: ${String((e as Error)?.message)}`);
        if (!PROTOCOL_CODES.has(e.code)) throw new Error(`${subject.name} ${c.kind}: code ${e.code} is not in PROTOCOLS.md`);
        codes[e.code] = (codes[e.code] ?? 0) + 1;
        if (verdict !== 'reject') throw new Error(`${subject.name} ${c.kind}: the reference says this resolves, open refused with ${e.code}`);
      } else {
        resolved++;
        codes.resolved = (codes.resolved ?? 0) + 1;
        if (verdict === 'reject') throw new Error(`${subject.name} ${c.kind}: open resolved a response that must be refused (status ${res.status}, body ${JSON.stringify(body.slice(0, 80))})`);
        if (JSON.stringify(outcome.data) !== JSON.stringify(verdict.resolve)) throw new Error(`${subject.name} ${c.kind}: resolved with other data than the response carries`);
      }
    }),
    { seed: SEED, numRuns: runs, endOnFailure: true },
  );
  console.log(`fuzz ${subject.name} open: ${cases} cases, codes: ${JSON.stringify(codes)}`);
  return { cases, codes, resolved, kinds };
}

// ------------------------------------------------------------------------------------
// Subjects.

async function modernSubject(): Promise<Subject> {
  const { gateway, serverKeys } = await modernGateway();
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = modern({ serverKeys });
  const cred = (await profile.issue!(ctx)).value;
  const sealed = await profile.seal(callInfo('/echo', { a: '1', text: '你好' }), cred, ctx);
  const genuine = await transport.send(sealed.wire, {});
  expect(genuine.status).toBe(200);
  const others: WireResponse[] = [];
  for (const op of ['/echo', '/fail', '/sum']) {
    const s = await profile.seal(callInfo(op, { a: '1', b: '2' }), cred, ctx);
    others.push(await transport.send(s.wire, {}));
  }
  const expected = { a: '1', text: '你好' };
  const sealedTexts = new Map<string, unknown>();
  return {
    name: 'modern',
    genuine,
    others,
    decode: (b) => {
      try {
        return fromBase64Url(b);
      } catch {
        return undefined;
      }
    },
    encode: toBase64Url,
    async authentic(plaintext) {
      const body = toBase64Url(await gcmSeal(cred.resKey, utf8Encode(plaintext), utf8Encode(sealed.state.nonce)));
      sealedTexts.set(body, plaintext);
      return body;
    },
    plainBodies: ['{"error":"CREDENTIAL_EXPIRED","serverTime":"1"}', '{"error":"BAD_REQUEST"}', '{"error":"SIGNATURE_INVALID"}', '{"error":"RATE_LIMITED"}', '{"error":"GATEWAY_BUSY"}', '{"error":5}', 'Internal Server Error', '{"ok":true,"data":"unsealed"}'],
    open: (res) => profile.open(res, sealed, cred, ctx),
    async reference(res) {
      if (res.status !== 200) return 'reject';
      const body = res.body.trim();
      if (body === genuine.body) return { resolve: expected };
      // Only what the test sealed under the real key and this nonce can authenticate.
      const text = sealedTexts.get(body);
      if (text === undefined) return 'reject';
      try {
        const env = JSON.parse(text as string) as { ok?: unknown; data?: unknown };
        return env?.ok === true ? { resolve: env.data } : 'reject';
      } catch {
        return 'reject';
      }
    },
  };
}

async function appSecretSubject(): Promise<Subject> {
  const publicSecret = 'pUbLiC-sEcReT-16';
  const gateway = createGateway({ profile: appSecretGateway({ publicSecret }) })
    .operation('/echo', (p) => p)
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = appSecret({ publicSecret });
  const cred = (await profile.issue!(ctx)).value;
  const sealed = await profile.seal(callInfo('/echo', { a: '1' }), cred, ctx);
  const genuine = await transport.send(sealed.wire, {});
  const others: WireResponse[] = [];
  for (const op of ['/echo', '/fail']) others.push(await transport.send((await profile.seal(callInfo(op, { b: '2' }), cred, ctx)).wire, {}));
  // The model decrypts with node:crypto (OpenSSL), not with the code under test, under the defaults it assumes.
  expect(APP_SECRET_DEFAULTS).toMatchObject({ cipher: 'AES-ECB', keyFrom: 'utf8', encoding: 'base64' });
  const cipher = nodeAppSecretCipher(cred.appSecret);
  const errors = ['secret_pass_time_error', 'sign_error', 'param_error'];
  return {
    name: 'app-secret',
    genuine,
    others,
    decode: (b) => {
      try {
        return Uint8Array.from(Buffer.from(b, 'base64'));
      } catch {
        return undefined;
      }
    },
    encode: toBase64,
    authentic: (plaintext) => cipher.encrypt(plaintext),
    plainBodies: [...errors, ' secret_pass_time_error\n', 'not_found', 'SIGN_ERROR', '{"success":true,"data":"plain"}'],
    open: (res) => profile.open(res, sealed, cred, ctx),
    async reference(res) {
      // No MAC in this dialect: whatever decrypts under the appSecret to a success envelope is data.
      if (res.status !== 200) return 'reject';
      const body = res.body.trim();
      if (errors.includes(body)) return 'reject';
      const text = cipher.decrypt(body);
      if (text === undefined) return 'reject';
      try {
        const env = JSON.parse(text) as { success?: unknown; data?: unknown };
        return env !== null && typeof env === 'object' && env.success === true ? { resolve: env.data } : 'reject';
      } catch {
        return 'reject';
      }
    },
  };
}

async function sortedSignSubject(): Promise<Subject> {
  const appId = '10001';
  const appKey = 'aPpKeY-16-chars!';
  const gateway = createGateway({ profile: sortedSignGateway({ apps: { [appId]: appKey } }) })
    .operation('/echo', (p) => p)
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = sortedSign({ appId, appKey });
  const sealed = await profile.seal(callInfo('/echo', { a: '1' }), undefined, ctx);
  const genuine = await transport.send(sealed.wire, {});
  const others: WireResponse[] = [];
  for (const op of ['/echo', '/fail']) others.push(await transport.send((await profile.seal(callInfo(op, { b: '2' }), undefined, ctx)).wire, {}));
  expect(SORTED_SIGN_DEFAULTS).toMatchObject({ cipher: 'AES-CBC', iv: 'key', keyFrom: 'utf8', encoding: 'hex' });
  const cipher = nodeSortedSignCipher(appKey);
  const safeCode = sealed.state.safeCode;
  const resultCode = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?[0-9]{1,9}$/.test(v) ? Number(v) : typeof v === 'string' && v ? v : undefined);
  return {
    name: 'sorted-sign',
    genuine,
    others,
    decode: (b) => (/^([0-9a-fA-F]{2})*$/.test(b) ? Uint8Array.from(Buffer.from(b, 'hex')) : undefined),
    encode: toHex,
    // '$SAFE' in a generated envelope stands for this request's safeCode.
    authentic: (plaintext) => cipher.encrypt(plaintext.replaceAll('"$SAFE"', JSON.stringify(safeCode))),
    plainBodies: ['{"code":1000,"msg":"app not found"}', '{"code":1001,"msg":"params invalid"}', '{"code":0,"data":"plain success"}', '{"code":1003,"timestamp":1}', '{', 'not_found'],
    open: (res) => profile.open(res, sealed, undefined, ctx),
    async reference(res) {
      if (res.status !== 200) return 'reject';
      const body = res.body.trim();
      if (body.startsWith('{')) return 'reject';
      const text = cipher.decrypt(body);
      if (text === undefined) return 'reject';
      try {
        const reply = JSON.parse(text) as { code?: unknown; data?: unknown; safeCode?: unknown };
        if (reply === null || typeof reply !== 'object') return 'reject';
        return resultCode(reply.code) === 0 && reply.safeCode === safeCode ? { resolve: reply.data } : 'reject';
      } catch {
        return 'reject';
      }
    },
  };
}

async function mgsSubject(): Promise<Subject> {
  const options = { appId: 'APP_1', workspaceId: 'default', secret: 'mGs-SeCrEt-value' };
  const gateway = createGateway({ profile: mgsGateway(options) })
    .operation('com.echo', (p) => p)
    .operation('com.fail', () => {
      throw new OperationError('6666', 'business failure');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = mgs(options);
  const sealed = await profile.seal(callInfo('com.echo', { a: '1' }), undefined, ctx);
  const genuine = await transport.send(sealed.wire, {});
  expect(genuine.headers['result-status']).toBe('1000');
  const others = [await transport.send((await profile.seal(callInfo('com.fail', {}), undefined, ctx)).wire, {})];
  return {
    name: 'mgs',
    genuine,
    others,
    decode: (b) => utf8Encode(b),
    encode: (bytes) => {
      try {
        return utf8Decode(bytes);
      } catch {
        return String.fromCharCode(...bytes.subarray(0, 2000));
      }
    },
    plainBodies: ['{"resultStatus":7002}', 'null', '[]', '<html>502 Bad Gateway</html>', ''],
    open: (res) => profile.open(res, sealed, undefined, ctx),
    async reference(res) {
      // Signed requests, plain answers: nothing to verify, so the model only fixes when a body is data.
      const raw = res.headers['result-status'];
      if (raw === undefined) {
        return 'reject'; // not the gateway (over HTTP; the container's answers carry one)
      } else {
        const code = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
        if (code !== 1000 && code !== 8001) return 'reject';
        if (res.status !== 200) return 'reject'; // a success code on a failed HTTP exchange is not a success
      }
      if (res.body.trim() === '') return { resolve: undefined };
      try {
        return { resolve: JSON.parse(res.body) };
      } catch {
        return /json/i.test(res.headers['content-type'] ?? 'application/json') ? 'reject' : { resolve: res.body };
      }
    },
  };
}

function expectCoverage(r: Awaited<ReturnType<typeof fuzzOpen>>, runs = RUNS) {
  expect(r.cases).toBeGreaterThanOrEqual(runs);
  for (const kind of ['random-text', 'truncated', 'bit-flip', 'wrong-encoding', 'replayed-other-response', 'json-wrong-types', 'wrong-key', 'plain-error']) expect(r.kinds[kind] ?? 0, kind).toBeGreaterThan(50);
  expect(r.kinds['huge-2MB'] ?? 0).toBeGreaterThan(0);
}

describe('hostile responses: open() of every dialect', () => {
  it('modern: 10,000 hostile responses -> RpcError with a PROTOCOLS.md code; only the genuine sealed response (or one sealed with the real key) ever resolves', async () => {
    const r = await fuzzOpen(await modernSubject());
    expectCoverage(r);
    // Whatever did not authenticate was refused as tampered, never read.
    expect(r.codes.RESPONSE_TAMPERED).toBeGreaterThan(RUNS / 4);
    expect(Object.keys(r.codes).every((c) => c === 'resolved' || PROTOCOL_CODES.has(c))).toBe(true);
  }, 60_000);

  it('app-secret: 10,000 hostile responses -> RpcError with a PROTOCOLS.md code; data only from bodies that decrypt under the appSecret to a success envelope', async () => {
    const r = await fuzzOpen(await appSecretSubject());
    expectCoverage(r);
    expect(r.codes.RESPONSE_UNREADABLE).toBeGreaterThan(RUNS / 4);
  }, 60_000);

  it('sorted-sign: 10,000 hostile responses -> RpcError with a PROTOCOLS.md code; data only from a code-0 reply under the appKey that echoes this safeCode', async () => {
    const r = await fuzzOpen(await sortedSignSubject());
    expectCoverage(r);
    expect(r.codes.RESPONSE_REPLAYED).toBeGreaterThan(0);
  }, 60_000);

  it('mgs: 10,000 hostile responses -> RpcError with a PROTOCOLS.md code or the body as data exactly when Result-Status says success on HTTP 200', async () => {
    const r = await fuzzOpen(await mgsSubject());
    expectCoverage(r);
    expect(r.codes.GATEWAY).toBeGreaterThan(0);
  }, 60_000);
});

/** Data in text form (a string callback, or a string resData): its JSON value if it is JSON, else the text; blank is no data. */
function textData(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What a successful callback's data is, by PROTOCOLS.md's JSAPI section (independent of
 * bridgeResponse): `{resData}` / `{header, resData}` carry it in resData, any other object
 * or array is the parsed body itself, a string is the body text. JSON is the only thing a
 * container can hand over, so the value is compared as JSON would carry it (-0 is 0).
 */
function bridgeData(data: unknown): unknown {
  const asJson = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)) as unknown);
  if (typeof data === 'string') return textData(data);
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'resData' in data && Object.keys(data).every((k) => k === 'resData' || k === 'header')) {
    const resData = (data as { resData: unknown }).resData;
    return typeof resData === 'string' ? textData(resData) : asJson(resData);
  }
  return asJson(data);
}

describe('hostile container callbacks: mgs through the JSBridge', () => {
  it('mgs via AlipayJSBridge: 10,000 hostile callback payloads (failure shapes, {header,resData}, bodies of any JSON) -> RpcError with a PROTOCOLS.md code, or data only when the result code says success', async () => {
    const profile = mgs({ appId: 'APP_1', workspaceId: 'default', secret: 'mGs-SeCrEt-value' });
    const ctx = ctxFor({ send: async () => ({ status: 200, headers: {}, body: '' }) });
    const sealed = await profile.seal(callInfo('com.echo', { a: '1' }), undefined, ctx);
    const code = fc.oneof(fc.constantFrom(0, 1, 2, 10, 11, 1000, 1001, 1002, 2000, 3000, 4001, 6666, 7000, 7001, 7002, 7003, 7007, 7014, 7015, 8001, 9999, -1, 1.5), fc.integer(), fc.constantFrom('10', '1000', '7002', 'x', ''));
    const header = fc.dictionary(fc.constantFrom('Result-Status', 'result-status', 'Memo', 'Tips', 'Mgw-TraceId', 'Date', 'Content-Type', 'x'), fc.oneof(code.map(String), fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 4 });
    const payload = fc.oneof(
      fc.record({ error: code, errorMessage: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: ['error'] }),
      fc.record({ header, resData: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 80 }), fc.constant(undefined)) }, { requiredKeys: ['resData'] }),
      fc.record({ resData: fc.oneof(fc.string({ maxLength: 80 }), fc.jsonValue({ maxDepth: 2 })) }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ maxLength: 80 }),
      fc.constantFrom(undefined, null, 0, true, [], {}),
    );
    const codes: Record<string, number> = {};
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (data) => {
        cases++;
        try {
          const res = bridgeResponse(data);
          const value = await profile.open(res, sealed, undefined, ctx);
          codes.resolved = (codes.resolved ?? 0) + 1;
          const rs = res.headers['result-status'];
          if (rs !== undefined) expect([1000, 8001]).toContain(Number(rs.trim()));
          // The data is what the container handed over, and nothing else.
          expect(value, JSON.stringify(data)?.slice(0, 100)).toEqual(bridgeData(data));
        } catch (e) {
          if (!(e instanceof RpcError)) throw new Error(`threw ${(e as Error)?.name}: ${(e as Error)?.message} for ${JSON.stringify(data)?.slice(0, 100)}`);
          expect(PROTOCOL_CODES.has(e.code)).toBe(true);
          codes[e.code] = (codes[e.code] ?? 0) + 1;
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`fuzz mgs (JSBridge) open: ${cases} cases, codes: ${JSON.stringify(codes)}`);
    expect(cases).toBe(RUNS);
    expect(codes.resolved).toBeGreaterThan(0);
    expect(codes.GATEWAY).toBeGreaterThan(100);
    expect(codes.NETWORK).toBeGreaterThan(10);
  }, 60_000);

  it('a callback value JSON cannot serialize (a BigInt from a page-side bridge stub) is RESPONSE_UNREADABLE, not a TypeError', () => {
    for (const data of [{ resData: { n: 10n } }, { n: 10n }, [10n]]) {
      let thrown: unknown;
      try {
        bridgeResponse(data);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(RpcError);
      expect((thrown as RpcError).code).toBe('RESPONSE_UNREADABLE');
    }
  });
});

// ------------------------------------------------------------------------------------
// Issuance answers (the other response a client opens).

describe('hostile issuance answers', () => {
  it('modern issue(): 2,000 forged or broken issuance answers -> RpcError (SIGNATURE_INVALID, RESPONSE_UNREADABLE, HTTP codes); only the untouched signed answer issues', async () => {
    const { gateway, serverKeys } = await modernGateway();
    const real = inProcess(gateway);
    const pair = await ecdhFromScalar(fromHex('5a'.repeat(32)));
    const genuine = await real.send({ path: '/issue', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey: toBase64Url(pair.publicRaw) }), operationType: '/issue' }, {});
    expect(genuine.status).toBe(200);
    const fields = JSON.parse(genuine.body) as Record<string, string>;
    const other = JSON.parse((await real.send({ path: '/issue', method: 'POST', headers: {}, body: JSON.stringify({ clientKey: toBase64Url((await generateEcdh()).publicRaw) }), operationType: '/issue' }, {})).body) as Record<string, string>;
    const profile = modern({ serverKeys, ephemeral: () => ecdhFromScalar(fromHex('5a'.repeat(32))) });
    const codes: Record<string, number> = {};
    let cases = 0;
    const fieldArb = fc.constantFrom('kid', 'appId', 'expiresAt', 'serverTime', 'serverKey', 'salt', 'sig');
    const answerArb = fc.oneof(
      fc.tuple(fieldArb, fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => JSON.stringify({ ...fields, [k]: v })),
      fc.tuple(fieldArb, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([k, at, bit]) => {
        let raw: Uint8Array;
        try {
          raw = fromBase64Url(fields[k]);
        } catch {
          raw = utf8Encode(fields[k]);
        }
        const flipped = flipBit(raw, at, bit);
        return JSON.stringify({ ...fields, [k]: /^[0-9]+$/.test(fields[k]) || k === 'kid' ? utf8Decode(flipped.map((b) => b & 0x7f)) : toBase64Url(flipped) });
      }),
      fieldArb.map((k) => {
        const f: Record<string, unknown> = { ...fields };
        delete f[k];
        return JSON.stringify(f);
      }),
      // A field taken from a genuine answer made for another client.
      fieldArb.map((k) => JSON.stringify({ ...fields, [k]: other[k] })),
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.constant(JSON.stringify(other)),
      fc.constant(genuine.body),
    );
    let issued = 0;
    let untouched = 0;
    const forgedIssued: string[] = [];
    /** The answer as the gateway signed it: HTTP 200 and the very same fields (a forged field that happens to equal the real one is no forgery). */
    const isUntouched = (body: string, status: number) => {
      if (status !== 200) return false;
      try {
        return JSON.stringify(JSON.parse(body)) === JSON.stringify(fields);
      } catch {
        return false;
      }
    };
    await fc.assert(
      fc.asyncProperty(answerArb, statusArb, async (body, status) => {
        const ctx: ProfileContext = { ...ctxFor(real), send: async () => ({ status, headers: { 'content-type': 'application/json' }, body }) };
        cases++;
        const genuineAnswer = isUntouched(body, status);
        if (genuineAnswer) untouched++;
        let ok = false;
        try {
          await profile.issue!(ctx);
          ok = true;
        } catch (e) {
          if (!(e instanceof RpcError)) throw new Error(`issue threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
          expect(PROTOCOL_CODES.has(e.code)).toBe(true);
          codes[e.code] = (codes[e.code] ?? 0) + 1;
        }
        if (ok) {
          issued++;
          if (!genuineAnswer) forgedIssued.push(`${status} ${body.slice(0, 200)}`);
          expect(status).toBe(200);
          expect(JSON.parse(body)).toEqual(fields);
        }
      }),
      { seed: SEED, numRuns: 2_000, endOnFailure: true },
    );
    console.log(`fuzz modern issue: ${cases} cases, issued ${issued} (of ${untouched} untouched answers), codes: ${JSON.stringify(codes)}`);
    expect(cases).toBe(2_000);
    expect(codes.SIGNATURE_INVALID).toBeGreaterThan(500);
    // Nothing forged issued, and the untouched signed answer did, every time it came with HTTP 200.
    expect(forgedIssued).toEqual([]);
    expect(untouched).toBeGreaterThan(0);
    expect(issued).toBe(untouched);
  }, 60_000);

  it('app-secret issue(): 2,000 broken issuance answers -> RpcError with a PROTOCOLS.md code, never a credential without a usable appSecret', async () => {
    const publicSecret = 'pUbLiC-sEcReT-16';
    const profile = appSecret({ publicSecret });
    const cipher = nodeAppSecretCipher(publicSecret);
    const codes: Record<string, number> = {};
    let cases = 0;
    let issued = 0;
    const answerArb = fc.oneof(
      fc.string({ maxLength: 200 }).map((s) => ({ body: async () => s })),
      anyJson.map((v) => ({ body: () => cipher.encrypt(JSON.stringify(v)) })),
      fc.record({ appId: fc.jsonValue({ maxDepth: 1 }), appSecret: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.string({ maxLength: 40 })) }, { requiredKeys: [] }).map((data) => ({
        body: () => cipher.encrypt(JSON.stringify({ success: true, data })),
      })),
      fc.constantFrom('secret_pass_time_error', 'sign_error', 'param_error').map((s) => ({ body: async () => s })),
      // Well-formed issuances: these may issue (appSecret of 32 hex characters, as the gateway makes).
      fc.tuple(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{32}$/)).map(([appId, secret]) => ({
        body: () => cipher.encrypt(JSON.stringify({ data: { appId, appSecret: secret }, success: true })),
      })),
    );
    await fc.assert(
      fc.asyncProperty(answerArb, statusArb, async (a, status) => {
        const body = await a.body();
        const ctx: ProfileContext = { now: Date.now, random: randomBytes, parseJson: JSON.parse, send: async () => ({ status, headers: {}, body }) };
        cases++;
        try {
          const r = await profile.issue!(ctx);
          issued++;
          expect(status).toBe(200);
          // Only a success envelope with a string appId and a secret that gives an AES key.
          expect(typeof r.value.appId).toBe('string');
          expect(r.value.appId.length).toBeGreaterThan(0);
          expect([16, 24, 32]).toContain(utf8Encode(r.value.appSecret).length);
        } catch (e) {
          expect(e).toBeInstanceOf(RpcError);
          expect(PROTOCOL_CODES.has((e as RpcError).code)).toBe(true);
          codes[(e as RpcError).code] = (codes[(e as RpcError).code] ?? 0) + 1;
        }
      }),
      { seed: SEED, numRuns: 2_000, endOnFailure: true },
    );
    console.log(`fuzz app-secret issue: ${cases} cases, issued ${issued}, codes: ${JSON.stringify(codes)}`);
    expect(cases).toBe(2_000);
    expect(issued).toBeGreaterThan(0);
  }, 60_000);
});

