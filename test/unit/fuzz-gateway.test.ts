/**
 * Hostile requests, every dialect's gateway half, in process (`gateway.handle(new Request)`):
 * random methods, paths, headers, bodies, encodings, invalid UTF-8, 2 MB bodies, and
 * genuine requests with one authenticated part changed. Every answer is an error in the
 * dialect's own form (4xx/503 JSON `{error}`, or its plain error body), never a 500, never
 * a stack trace, and no operation runs. Then the bounds: 413 over the body limit, and a
 * flood of 100,000 valid requests with unique nonces (and safeCodes) that leaves the replay
 * caches at or under their bound, fails closed with 503 GATEWAY_BUSY when full, and never
 * forgets a nonce that is still inside its window.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../src/codec/base64.js';
import { formEncode } from '../../src/codec/form.js';
import { toHex } from '../../src/codec/hex.js';
import { randomBytes } from '../../src/crypto/provider.js';
import { RpcError } from '../../src/errors.js';
import { appSecret, mgs, modern, sortedSign } from '../../src/index.js';
import { APP_SECRET_DEFAULTS } from '../../src/profiles/app-secret.js';
import { legacyCipher } from '../../src/profiles/legacy.js';
import { SORTED_SIGN_DEFAULTS } from '../../src/profiles/sorted-sign.js';
import { appSecret as appSecretGateway, createGateway, mgs as mgsGateway, modern as modernGatewayProfile, OperationError, sortedSign as sortedSignGateway, toNodeHandler, type Gateway } from '../../src/server/index.js';
import type { CallInfo, Profile, ProfileContext, Transport, WireRequest, WireResponse } from '../../src/types.js';
import { IN_PROCESS_BASE, inProcess, toRequest, toWire } from '../helpers/in-process.js';
import { listen, modernGateway } from '../helpers/servers.js';

const SEED = 20240818;
const RUNS = 10_000;
const TWO_MB = 2 * 1024 * 1024;
const BASE = IN_PROCESS_BASE;

function ctxFor(transport: Transport, now: () => number = Date.now): ProfileContext {
  return { now, random: randomBytes, parseJson: JSON.parse, send: (r) => transport.send(r, {}) };
}

function callInfo(op: string, params: Record<string, unknown>): CallInfo {
  return { operationType: op, params, options: {}, memo: {} };
}

/** What must never reach a client: stack frames, source paths, error class dumps. */
const STACK = /\bat [\w$.<>]+ \(|\bat (file|node):|\.[cm]?[jt]s:\d+|node_modules|\bTypeError\b|\bSyntaxError\b|\bReferenceError\b|\bRangeError\b/;

// ------------------------------------------------------------------------------------
// The generator: a request as parts, so the dialect can mix its own headers in.

interface Parts {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array;
}

const headerValueArb = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  fc.constantFrom('', '0', '-1', '1e3', '99999999999999999999', 'AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAA==', '/echo', 'null', '{}', 'OlFvMW0', 'zzzzzzzzzz', '%00'),
  fc.integer({ min: 0, max: 2 ** 53 }).map(String),
  fc.uint8Array({ minLength: 0, maxLength: 24 }).map(toBase64Url),
  // Latin-1 (valid in a header, not UTF-8)
  fc.stringMatching(/^[\xa0-\xff]{1,8}$/),
);

const bodyArb: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 400 }) }, // mostly invalid UTF-8
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map(toBase64Url) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }).map(toHex) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }).map((a) => JSON.stringify(a.map((x) => ({ _requestBody: typeof x === 'string' ? x : JSON.stringify(x) })))) },
  { weight: 3, arbitrary: fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 })), { maxLength: 6 }).map((e) => formEncode(e)) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9%+=&_.-]{0,200}$/) },
  { weight: 1, arbitrary: fc.constantFrom('\ufeff{}', '\u0000', '%', '{"appId":', 'appId=&params=', '[{"_requestBody":"{\\"a\\":1}"}]', '{"clientKey":"BAAA"}', '{"appId":"10001","params":"00"}') },
);

function partsArb(paths: string[], dialectHeaders: fc.Arbitrary<[string, string]>): fc.Arbitrary<Parts> {
  const pathArb = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...paths) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...paths), fc.stringMatching(/^[A-Za-z0-9%=&+._~-]{0,60}$/)).map(([p, q]) => `${p}?${q}`) },
    { weight: 2, arbitrary: fc.stringMatching(/^\/[A-Za-z0-9%._~!$&'()*+,;=:@/-]{0,80}$/) },
    { weight: 1, arbitrary: fc.constantFrom('/', '//echo', '/%ZZ', '/..%2f..%2fetc', '/echo/../issue', '/' + 'a'.repeat(8000)) },
  );
  const headerArb = fc.oneof({ weight: 3, arbitrary: dialectHeaders }, { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), headerValueArb) });
  return fc.record({
    method: fc.oneof({ weight: 6, arbitrary: fc.constant('POST') }, { weight: 3, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'PROPFIND', 'X-CUSTOM') }),
    path: pathArb,
    headers: fc.array(headerArb, { maxLength: 10 }),
    body: bodyArb,
  });
}

function buildRequest(p: Parts): Request {
  const headers = new Headers();
  for (const [k, v] of p.headers) headers.append(k, v);
  const method = p.method;
  const noBody = ['GET', 'HEAD'].includes(method.toUpperCase());
  return new Request(BASE + p.path, { method, headers, body: noBody ? undefined : (p.body as BodyInit | undefined) });
}

// ------------------------------------------------------------------------------------
// Per dialect: how a refusal looks, and how to make genuine requests to mutate.

interface Genuine {
  wire: WireRequest;
  params: Record<string, unknown>;
  open: (res: WireResponse) => Promise<unknown>;
}

interface Target {
  name: string;
  gateway: Gateway;
  paths: string[];
  headers: fc.Arbitrary<[string, string]>;
  /** Headers the dialect authenticates (the others, e.g. Content-Type, may change in transit). */
  authenticatedHeaders: string[];
  /** Whether the dialect refuses a second copy of a request (modern, sorted-sign). */
  replayProtected: boolean;
  /**
   * Whether every byte a mutation can change is authenticated (modern: AEAD over the body,
   * the signed headers, the method): then no changed request may run at all, not even with
   * the genuine params. The legacy dialects have encodings with slack (base64 padding bits,
   * unsigned form fields), so a changed request may still run, but only with the genuine params.
   */
  authenticatesAll: boolean;
  /** Params each operation run received. */
  ran: unknown[];
  /** A fresh genuine request (sealed by the client profile). */
  genuine(): Promise<Genuine>;
  /** The code of a refusal in the dialect's own form, or undefined if `res` is not a refusal. */
  refusal(res: WireResponse, genuine?: Genuine): Promise<string | undefined>;
}

/** A sealed 200 answer that the client opens into an error is a refusal too. */
async function openedError(res: WireResponse, genuine?: Genuine): Promise<string | undefined> {
  if (res.status !== 200 || !genuine) return undefined;
  try {
    await genuine.open(res);
    return undefined;
  } catch (e) {
    return e instanceof RpcError ? e.code : undefined;
  }
}

function jsonError(res: WireResponse): string | undefined {
  if (!(res.status >= 400 && res.status < 500) && res.status !== 503) return undefined;
  try {
    const v = JSON.parse(res.body) as { error?: unknown };
    return typeof v?.error === 'string' && /^[A-Z_]{3,40}$/.test(v.error) ? v.error : undefined;
  } catch {
    return undefined;
  }
}

async function modernTarget(): Promise<Target> {
  const { pem, serverKeys } = await modernGateway();
  const ran: unknown[] = [];
  // The helper's operations, with an /echo that records what ran (a name is registered once).
  const gateway = createGateway({ profile: modernGatewayProfile({ signingKeys: { k1: pem } }) })
    .operation('/echo', (p) => (ran.push(p), p))
    .operation('/sum', (p: { a: string; b: string }) => ({ sum: String(Number(p.a) + Number(p.b)) }))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = modern({ serverKeys });
  const cred = (await profile.issue!(ctx)).value;
  const appId = cred.appId;
  const headers = fc.oneof(
    fc.tuple(fc.constantFrom('x-app-id', 'x-op', 'x-ts', 'x-nonce', 'content-type', 'content-length'), headerValueArb),
    fc.constant<[string, string]>(['x-app-id', appId]),
    fc.constantFrom<[string, string]>(['x-op', '/echo'], ['x-op', '/fail'], ['x-op', '/nope'], ['x-op', '']),
    fc.constant<[string, string]>(['x-ts', String(Date.now())]),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b): [string, string] => ['x-nonce', toBase64Url(b)]),
  );
  return {
    name: 'modern',
    gateway,
    paths: ['/issue', '/echo', '/fail', '/sum'],
    headers,
    authenticatedHeaders: ['x-app-id', 'x-op', 'x-ts', 'x-nonce'],
    replayProtected: true,
    authenticatesAll: true,
    ran,
    async genuine() {
      const params = { v: toHex(randomBytes(4)) };
      const sealed = await profile.seal(callInfo('/echo', params), cred, ctx);
      return { wire: sealed.wire, params, open: (res) => profile.open(res, sealed, cred, ctx) };
    },
    async refusal(res, genuine) {
      return jsonError(res) ?? (await openedError(res, genuine));
    },
  };
}

async function appSecretTarget(): Promise<Target> {
  const publicSecret = 'pUbLiC-sEcReT-16';
  const ran: unknown[] = [];
  const gateway = createGateway({ profile: appSecretGateway({ publicSecret, issuesPerMinute: 1e9 }) })
    .operation('/echo', (p) => (ran.push(p), p))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = appSecret({ publicSecret });
  const cred = (await profile.issue!(ctx)).value;
  const plain = new Set(['secret_pass_time_error', 'sign_error', 'param_error']);
  const cipher = legacyCipher(cred.appSecret, APP_SECRET_DEFAULTS);
  return {
    name: 'app-secret',
    gateway,
    paths: ['/secret_key/generate.json', '/echo', '/fail'],
    headers: fc.tuple(fc.constantFrom('content-type', 'content-length'), fc.oneof(headerValueArb, fc.constant('application/x-www-form-urlencoded; charset=utf-8'))),
    authenticatedHeaders: [],
    replayProtected: false,
    authenticatesAll: false,
    ran,
    async genuine() {
      const params = { v: toHex(randomBytes(4)) };
      const sealed = await profile.seal(callInfo('/echo', params), cred, ctx);
      return { wire: sealed.wire, params: { ...params, accessFrom: 'h5' }, open: (res) => profile.open(res, sealed, cred, ctx) };
    },
    async refusal(res) {
      if (res.status === 200 && plain.has(res.body)) return res.body;
      if (res.status === 404 && res.body === 'not_found') return 'not_found';
      if (res.status === 405 && res.body === 'method_not_allowed') return 'method_not_allowed';
      if (res.status === 200) {
        // An encrypted failure envelope (a resent genuine request may be answered, but not with success).
        try {
          const env = JSON.parse(await cipher.decrypt(res.body)) as { success?: unknown };
          if (env.success === false) return 'ENVELOPE_FAILURE';
        } catch {
          // not one
        }
        return undefined;
      }
      return jsonError(res);
    },
  };
}

async function sortedSignTarget(now?: () => number, maxSafeCodes?: number): Promise<Target & { profile: Profile<undefined, { safeCode: string }> }> {
  const appId = '10001';
  const appKey = 'aPpKeY-16-chars!';
  const ran: unknown[] = [];
  const gateway = createGateway({ profile: sortedSignGateway({ apps: { [appId]: appKey }, ...(maxSafeCodes ? { maxSafeCodes } : {}) }), ...(now ? { now } : {}) })
    .operation('/echo', (p) => (ran.push(p), p))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport, now);
  const profile = sortedSign({ appId, appKey, method: 'POST' });
  const getProfile = sortedSign({ appId, appKey });
  const cipher = legacyCipher(appKey, SORTED_SIGN_DEFAULTS);
  let flip = false;
  return {
    name: 'sorted-sign',
    gateway,
    profile,
    paths: ['/echo', '/fail', '/nope'],
    headers: fc.tuple(fc.constantFrom('content-type', 'content-length'), fc.oneof(headerValueArb, fc.constant('application/json'))),
    authenticatedHeaders: [],
    replayProtected: true,
    authenticatesAll: false,
    ran,
    async genuine() {
      const p = (flip = !flip) ? profile : getProfile;
      const params = { v: toHex(randomBytes(4)) };
      const sealed = await p.seal(callInfo('/echo', params), undefined, ctx);
      return { wire: sealed.wire, params, open: (res) => p.open(res, sealed, undefined, ctx) };
    },
    async refusal(res) {
      if (res.status === 404 && res.body === 'not_found') return 'not_found';
      if (res.status === 405 && res.body === 'method_not_allowed') return 'method_not_allowed';
      if (res.status !== 200) return jsonError(res);
      let reply: { code?: unknown };
      try {
        reply = JSON.parse(res.body.startsWith('{') ? res.body : await cipher.decrypt(res.body)) as { code?: unknown };
      } catch {
        return undefined;
      }
      return reply && reply.code !== 0 && reply.code !== undefined ? String(reply.code) : undefined;
    },
  };
}

async function mgsTarget(): Promise<Target> {
  const options = { appId: 'APP_1', workspaceId: 'default', secret: 'mGs-SeCrEt-value' };
  const ran: unknown[] = [];
  const gateway = createGateway({ profile: mgsGateway(options) })
    .operation('com.echo', (p) => (ran.push(p), p))
    .operation('com.fail', () => {
      throw new OperationError('6666', 'business');
    });
  const transport = inProcess(gateway);
  const ctx = ctxFor(transport);
  const profile = mgs(options);
  const headers = fc.oneof(
    fc.tuple(fc.constantFrom('version', 'operation-type', 'appid', 'workspaceid', 'did', 'ts', 'sign', 'signtype', 'content-type'), headerValueArb),
    fc.constantFrom<[string, string]>(['appid', 'APP_1'], ['workspaceid', 'default'], ['operation-type', 'com.echo'], ['operation-type', 'com.nope'], ['signtype', 'md5'], ['version', '2']),
    fc.integer({ min: -400_000, max: 400_000 }).map((d): [string, string] => {
      const t = Date.now() + d;
      let s = '';
      const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/';
      for (let n = t; n > 0; n = Math.floor(n / 64)) s = A[n % 64] + s;
      return ['ts', s];
    }),
    fc.stringMatching(/^[0-9a-f]{32}$/).map((h): [string, string] => ['sign', h]),
  );
  return {
    name: 'mgs',
    gateway,
    paths: ['/mgw.htm', '/', '/other'],
    headers,
    // WorkspaceId is pinned for this app, so the gateway checks it too; Version, Did, signType are not signed.
    authenticatedHeaders: ['operation-type', 'appid', 'ts', 'sign', 'workspaceid'],
    replayProtected: false,
    authenticatesAll: false,
    ran,
    async genuine() {
      const params = { v: toHex(randomBytes(4)) };
      const sealed = await profile.seal(callInfo('com.echo', params), undefined, ctx);
      return { wire: sealed.wire, params, open: (res) => profile.open(res, sealed, undefined, ctx) };
    },
    async refusal(res) {
      if (res.status === 200) {
        const rs = res.headers['result-status'];
        return rs !== undefined && rs !== '1000' && rs !== '8001' ? rs : undefined;
      }
      return jsonError(res);
    },
  };
}

// ------------------------------------------------------------------------------------

/** Change one authenticated part of a genuine request. */
const mutationArb = fc.record({
  what: fc.constantFrom('header-value', 'header-drop', 'body-char', 'body-truncate', 'body-append', 'method', 'replay', 'body-bytes'),
  index: fc.nat(),
  value: headerValueArb,
});

function mutate(wire: WireRequest, m: { what: string; index: number; value: string }, attempt: number, authenticated: string[]): Parts {
  const headers = Object.entries(wire.headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
  const body = wire.body ?? '';
  const parts: Parts = { method: wire.method, path: wire.path, headers, body };
  const signed = headers.map((h, i) => [h, i] as const).filter(([h]) => authenticated.includes(h[0]));
  const what = (m.what === 'header-value' || m.what === 'header-drop') && signed.length === 0 ? 'body-char' : m.what;
  switch (what) {
    case 'header-value': {
      const [h] = signed[m.index % signed.length];
      h[1] = m.value === h[1] ? m.value + '0' : m.value;
      break;
    }
    case 'header-drop':
      headers.splice(signed[m.index % signed.length][1], 1);
      break;
    case 'body-char': {
      if (!body) {
        // GET: change the query instead
        const i = m.index % wire.path.length;
        parts.path = wire.path.slice(0, i) + (wire.path[i] === 'A' ? 'B' : 'A') + wire.path.slice(i + 1);
        break;
      }
      const i = m.index % body.length;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_%=&+/{}"';
      let c = alphabet[(alphabet.indexOf(body[i]) + 1 + (attempt % 7)) % alphabet.length];
      if (c === body[i]) c = '~';
      parts.body = body.slice(0, i) + c + body.slice(i + 1);
      break;
    }
    case 'body-truncate':
      parts.body = body.slice(0, m.index % Math.max(1, body.length));
      if (!body) parts.path = wire.path.slice(0, m.index % wire.path.length) || '/';
      break;
    case 'body-append':
      parts.body = body + m.value;
      if (!body) parts.path = wire.path + encodeURIComponent(m.value);
      break;
    case 'body-bytes':
      parts.body = new Uint8Array([...new TextEncoder().encode(body.slice(0, 10)), 0xff, 0xfe, ...new TextEncoder().encode(body.slice(10))]);
      break;
    case 'method':
      parts.method = ['PUT', 'DELETE', 'PATCH', 'OPTIONS'][m.index % 4];
      break;
    case 'replay':
      break; // sent twice below
  }
  return parts;
}

function bodyBytes(body: string | Uint8Array | undefined): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : (body ?? new Uint8Array(0));
}

/** Whether `parts` is byte for byte the genuine request (method, path, headers, body): then it is no mutation at all. */
function sameAsGenuine(parts: Parts, wire: WireRequest): boolean {
  if (parts.method !== wire.method || parts.path !== wire.path) return false;
  const norm = (h: [string, string][]) => JSON.stringify(h.map(([k, v]) => [k.toLowerCase(), v]).sort((a, b) => (a[0] + '\0' + a[1] < b[0] + '\0' + b[1] ? -1 : 1)));
  if (norm(parts.headers) !== norm(Object.entries(wire.headers))) return false;
  const a = bodyBytes(parts.body);
  const b = bodyBytes(wire.body);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function fuzzGateway(target: Target, runs = RUNS) {
  const codes: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let cases = 0;
  let mutated = 0;
  let unchanged = 0;
  const caseArb = fc.oneof({ weight: 3, arbitrary: partsArb(target.paths, target.headers).map((p) => ({ random: p })) }, { weight: 1, arbitrary: mutationArb.map((m) => ({ mutation: m })) });
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      if (cases >= runs) return; // the headroom below is spent: exactly `runs` requests were sent
      let parts: Parts;
      let genuine: Genuine | undefined;
      let legit = false;
      if ('random' in c) parts = c.random;
      else {
        genuine = await target.genuine();
        parts = mutate(genuine.wire, c.mutation, cases, target.authenticatedHeaders);
        if (c.mutation.what !== 'replay' && sameAsGenuine(parts, genuine.wire)) {
          // The "mutation" changed nothing (e.g. an empty append): it is the genuine request, which may run.
          unchanged++;
          return;
        }
        if (c.mutation.what === 'replay') {
          // The genuine request once (it runs), then the same bytes again: that copy must not run.
          const first = await target.gateway.handle(buildRequest(parts));
          expect(first.status).toBe(200);
          legit = true;
        }
        mutated++;
      }
      const before = target.gateway.stats().executions;
      let request: Request;
      try {
        request = buildRequest(parts);
      } catch {
        return; // not expressible as a Request (the Fetch API refuses it before any gateway sees it)
      }
      const res = await toWire(await target.gateway.handle(request));
      cases++;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const where = `${target.name} ${'random' in c ? 'random' : c.mutation.what} ${parts.method} ${parts.path.slice(0, 40)} -> ${res.status} ${res.body.slice(0, 120)}`;
      if (res.status >= 500 && res.status !== 503) throw new Error(`5xx: ${where}`);
      if (STACK.test(res.body) || Object.values(res.headers).some((v) => STACK.test(v))) throw new Error(`stack trace on the wire: ${where}`);
      const ranNow = target.gateway.stats().executions - before;
      if (ranNow > 0) {
        // Only a changed copy of a genuine request can run, and only with the genuine params
        // (e.g. a legacy base64 text whose unused bits changed decodes to the same bytes).
        if (!genuine) throw new Error(`an operation ran on a random request: ${where}`);
        if (legit && target.replayProtected) throw new Error(`a replayed request ran again: ${where}`);
        if (!legit && target.authenticatesAll) throw new Error(`a changed request ran (every byte of it is authenticated): ${where}`);
        if (JSON.stringify(target.ran.at(-1)) !== JSON.stringify(genuine.params)) throw new Error(`an operation ran with forged params ${JSON.stringify(target.ran.at(-1))}: ${where}`);
        const k = legit ? 'replay-ran (no replay protection)' : 'same-params-ran';
        codes[k] = (codes[k] ?? 0) + 1;
        return;
      }
      const code = await target.refusal(res, genuine);
      if (code === undefined) throw new Error(`not a refusal in the dialect's form: ${where}`);
      codes[code] = (codes[code] ?? 0) + 1;
    }),
    // Headroom for the generated cases that send nothing (byte-identical mutations, requests the
    // Fetch API cannot express): the gateway gets exactly `runs` requests.
    { seed: SEED, numRuns: Math.ceil(runs * 1.05), endOnFailure: true },
  );
  console.log(`fuzz ${target.name} gateway: ${cases} cases (${mutated} from genuine requests, ${unchanged} mutations skipped as byte-identical), statuses: ${JSON.stringify(statuses)}, codes: ${JSON.stringify(codes)}`);
  return { cases, codes, statuses, mutated, unchanged };
}

describe('hostile requests: every gateway answers with a refusal in its own form, never a 500 or a stack trace, and runs nothing', () => {
  for (const [name, make] of [
    ['modern', modernTarget],
    ['app-secret', appSecretTarget],
    ['sorted-sign', () => sortedSignTarget()],
    ['mgs', mgsTarget],
  ] as const) {
    it(`${name}: ${RUNS.toLocaleString('en')} malformed requests (random methods, paths, headers, bodies, invalid UTF-8, changed genuine requests) -> refusals only, never a 500 or a stack trace, no operation run with forged params`, async () => {
      const target = await make();
      const r = await fuzzGateway(target);
      expect(r.cases).toBe(RUNS);
      expect(r.mutated).toBeGreaterThan(RUNS / 8);
      if (target.replayProtected) expect(r.codes['replay-ran (no replay protection)'] ?? 0).toBe(0);
      // Fully authenticated: no changed copy of a genuine request ran, not even with the genuine params.
      if (target.authenticatesAll) expect(r.codes['same-params-ran'] ?? 0).toBe(0);
      expect(r.unchanged).toBeLessThan(RUNS / 100); // almost every mutation really changes the request
      expect(Object.keys(r.statuses).every((s) => Number(s) < 500 || Number(s) === 503)).toBe(true);
    }, 90_000);
  }
});

describe('bounds', () => {
  const targets = [
    ['modern', modernTarget],
    ['app-secret', appSecretTarget],
    ['sorted-sign', () => sortedSignTarget()],
    ['mgs', mgsTarget],
  ] as const;

  for (const [name, make] of targets) {
    it(`${name}: a 2 MB body on a genuine request -> 413 {"error":"BODY_TOO_LARGE"}, nothing run; with a false small Content-Length too`, async () => {
      const target = await make();
      const g = await target.genuine();
      const big = 'A'.repeat(TWO_MB);
      const headers = { ...g.wire.headers };
      const path = g.wire.path.split('?')[0];
      // mgs signs the body, but the gateway must refuse the size before it reads (and so before it checks the sign).
      for (const extra of [{}, { 'content-length': String(TWO_MB) }] as Record<string, string>[]) {
        const res = await target.gateway.handle(new Request(BASE + path, { method: 'POST', headers: { ...headers, ...extra }, body: big }));
        expect(res.status).toBe(413);
        expect(await res.json()).toMatchObject({ error: 'BODY_TOO_LARGE' });
      }
      // A stream that sends more than it declared is cut off at the limit all the same.
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent >= TWO_MB) return c.close();
          sent += 64 * 1024;
          c.enqueue(new Uint8Array(64 * 1024).fill(65));
        },
      });
      const res = await target.gateway.handle(new Request(BASE + path, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit));
      expect(res.status).toBe(413);
      expect(sent).toBeLessThan(TWO_MB); // it stopped reading
      expect(target.gateway.stats().executions).toBe(0);
    });
  }

  it('a body stream that breaks mid-way (client gone) -> 400, not a 500', async () => {
    const target = await modernTarget();
    const g = await target.genuine();
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('abc'));
        c.error(new Error('socket hang up'));
      },
    });
    const res = await target.gateway.handle(new Request(BASE + g.wire.path, { method: 'POST', headers: g.wire.headers, body: stream, duplex: 'half' } as RequestInit));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'BAD_REQUEST' });
  });

  it('a body that stalls past bodyTimeoutMs -> 408, and the gateway does not wait for it', async () => {
    const { pem } = await modernGateway();
    const { modern: modernGw } = await import('../../src/server/modern.js');
    const gateway = createGateway({ profile: modernGw({ signingKeys: { k1: pem } }), bodyTimeoutMs: 100 }).operation('/echo', (p) => p);
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([65])); // and never closes
      },
      cancel() {
        cancelled = true;
      },
    });
    const res = await gateway.handle(new Request(BASE + '/echo', { method: 'POST', headers: { 'x-op': '/echo' }, body: stream, duplex: 'half' } as RequestInit));
    expect(res.status).toBe(408);
    expect(await res.json()).toMatchObject({ error: 'BODY_TIMEOUT' });
    // It let go of the body (cancelled the stream) rather than wait for it, and ran nothing.
    expect(cancelled).toBe(true);
    expect(gateway.stats().executions).toBe(0);
  });

  it('an operation whose handler throws a plain Error -> a sealed INTERNAL envelope, and a throwing onInternalError logger changes nothing', async () => {
    const { pem, serverKeys } = await modernGateway();
    const { modern: modernGw } = await import('../../src/server/modern.js');
    const gateway = createGateway({
      profile: modernGw({ signingKeys: { k1: pem } }),
      onInternalError: () => {
        throw new Error('logger down');
      },
    }).operation('/boom', () => {
      throw new TypeError('secret detail at /srv/app.ts:12');
    });
    const transport = inProcess(gateway);
    const ctx = ctxFor(transport);
    const profile = modern({ serverKeys });
    const cred = (await profile.issue!(ctx)).value;
    const sealed = await profile.seal(callInfo('/boom', {}), cred, ctx);
    const res = await transport.send(sealed.wire, {});
    expect(res.status).toBe(200);
    expect(STACK.test(res.body)).toBe(false);
    const err = await profile.open(res, sealed, cred, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).gatewayCode).toBe('INTERNAL');
    expect((err as RpcError).message).not.toContain('secret detail');
  });

  it('more requests at once than maxInFlight -> 503 GATEWAY_BUSY for the excess, the rest answered', async () => {
    const { pem } = await modernGateway();
    const { modern: modernGw } = await import('../../src/server/modern.js');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowProfile = modernGw({ signingKeys: { k1: pem } });
    const gateway = createGateway({
      profile: { name: 'slow', handle: async (req, core) => (await gate, slowProfile.handle(req, core)) },
      maxInFlight: 3,
    });
    const pending = Array.from({ length: 5 }, () => gateway.handle(new Request(BASE + '/x', { method: 'POST' })));
    await new Promise((r) => setTimeout(r, 10));
    release();
    const statuses = (await Promise.all(pending)).map((r) => r.status).sort();
    expect(statuses).toEqual([400, 400, 400, 503, 503]);
  });

  it('the rejection counters stay bounded whatever codes the profiles report', async () => {
    const gateway = createGateway({
      profile: {
        name: 'noisy',
        async handle(req, core) {
          core.reject(new URL(req.url).pathname);
          return new Response('no', { status: 400 });
        },
      },
    });
    for (let i = 0; i < 2_000; i++) await gateway.handle(new Request(`${BASE}/code-${i}`));
    const kinds = Object.keys(gateway.stats().rejections);
    expect(kinds.length).toBeLessThanOrEqual(257);
    expect(gateway.stats().rejections.OTHER).toBe(2_000 - 256);
  });
});

describe('replay caches under a flood', () => {
  it('a flood of 100,000 unique nonces leaves the gateway\'s nonce cache at or under its configured bound (maxNonces 1000): 503 GATEWAY_BUSY when full, no live nonce ever evicted', async () => {
    let t = 1_700_000_000_000;
    const now = () => t;
    const windowMs = 1_000;
    const maxNonces = 1_000;
    const total = 100_000;
    const batch = 16; // requests in flight at once (the crypto runs on the thread pool)
    const { gateway, serverKeys } = await modernGateway({ now, windowMs, maxNonces, callsPerMinute: 1e9, maxRequestIds: 1e9 });
    const ctx = ctxFor(inProcess(gateway), now);
    const profile = modern({ serverKeys });
    // One credential per slot of a batch: a single credential may hold only an eighth of the
    // record (429 past that), so the flood comes from 16 to reach the shared bound itself.
    type Cred = Awaited<ReturnType<NonNullable<typeof profile.issue>>>['value'];
    const creds: Cred[] = [];
    while (creds.length < batch) creds.push((await profile.issue!(ctx)).value);
    const accepted: { at: number; wire: WireRequest; nonce: string; cred: Cred }[] = [];
    const status: Record<string, number> = {};
    const busyBodies = new Set<string>();
    let maxSeen = 0;
    let replays = 0;
    let seq = 0;
    for (let i = 0; i < total; i += batch) {
      t += batch; // 1 ms per request: a nonce lives 2 × window = 2000 requests, twice the bound
      const sealed = await Promise.all(Array.from({ length: batch }, (_, j) => profile.seal(callInfo('/echo', { i: seq++ }), creds[j], ctx)));
      const answers = await Promise.all(sealed.map((s) => gateway.handle(toRequest(s.wire))));
      for (let j = 0; j < batch; j++) {
        const res = answers[j];
        status[res.status] = (status[res.status] ?? 0) + 1;
        if (res.status === 200) accepted.push({ at: t, wire: sealed[j].wire, nonce: sealed[j].state.nonce, cred: creds[j] });
        else busyBodies.add(`${res.status} ${(JSON.parse(await res.text()) as { error: string }).error}`);
      }
      const size = gateway.stats().caches.nonces;
      if (size > maxSeen) maxSeen = size;
      expect(size).toBeLessThanOrEqual(maxNonces);
      // Every few batches, replay a nonce accepted within the window: it must still be remembered.
      if ((i / batch) % 6 === 0) {
        while (accepted.length && t - accepted[0].at > windowMs) accepted.shift();
        if (accepted.length) {
          const pick = accepted[(i * 7919) % accepted.length];
          const replay = await toWire(await gateway.handle(toRequest(pick.wire)));
          expect(replay.status).toBe(200);
          const err = await profile.open(replay, { wire: pick.wire, state: { appId: pick.cred.appId, nonce: pick.nonce } }, pick.cred, ctx).catch((e: unknown) => e);
          expect((err as RpcError).code).toBe('REPLAYED_REQUEST');
          replays++;
        }
      }
    }
    const stats = gateway.stats();
    console.log(`flood modern: ${total} unique nonces, statuses ${JSON.stringify(status)}, nonce cache max ${maxSeen}/${maxNonces}, ${replays} live replays refused, executions ${stats.executions}`);
    expect(status[200] + status[503]).toBe(total);
    expect([...busyBodies]).toEqual(['503 GATEWAY_BUSY']); // fails closed, one way only
    expect(status[503]).toBeGreaterThan(total / 10); // it did fill...
    expect(status[200]).toBeGreaterThan(total / 10); // ...and recovered as nonces left their window
    expect(maxSeen).toBe(maxNonces);
    expect(replays).toBeGreaterThan(500);
    expect(stats.rejections.REPLAYED_REQUEST).toBe(replays);
    expect(stats.executions).toBe(status[200]); // a busy answer never ran the operation
  }, 120_000);

  it('a flood of 10,000 unique safeCodes leaves the sorted-sign safeCode cache at or under its bound (maxSafeCodes 500): 503 GATEWAY_BUSY when full, live safeCodes still refused as 1004', async () => {
    let t = 1_700_000_000_000;
    const now = () => t;
    const maxSafeCodes = 500;
    const total = 10_000;
    const batch = 10;
    const target = await sortedSignTarget(now, maxSafeCodes);
    const ctx = ctxFor(inProcess(target.gateway), now);
    const status: Record<string, number> = {};
    let maxSeen = 0;
    let replays = 0;
    const accepted: { at: number; wire: WireRequest }[] = [];
    for (let i = 0; i < total; i += batch) {
      t += 10 * batch; // window 5000 ms: a safeCode lives 10 s = 1000 requests, twice the bound
      const sealed = await Promise.all(Array.from({ length: batch }, (_, j) => target.profile.seal(callInfo('/echo', { i: String(i + j) }), undefined, ctx)));
      const answers = await Promise.all(sealed.map((s) => target.gateway.handle(toRequest(s.wire))));
      for (let j = 0; j < batch; j++) {
        const res = answers[j];
        const body = await res.text();
        const key = res.status === 200 ? 'ok' : String(res.status);
        status[key] = (status[key] ?? 0) + 1;
        if (res.status === 200) accepted.push({ at: t, wire: sealed[j].wire });
        else expect(JSON.parse(body)).toMatchObject({ error: 'GATEWAY_BUSY' });
      }
      const size = target.gateway.stats().caches.safeCodes;
      if (size > maxSeen) maxSeen = size;
      expect(size).toBeLessThanOrEqual(maxSafeCodes);
      if ((i / batch) % 5 === 0) {
        while (accepted.length && t - accepted[0].at > 5_000) accepted.shift();
        if (accepted.length) {
          const pick = accepted[(i * 7919) % accepted.length];
          const replay = await toWire(await target.gateway.handle(toRequest(pick.wire)));
          expect(await target.refusal(replay)).toBe('1004');
          replays++;
        }
      }
    }
    console.log(`flood sorted-sign: ${total} unique safeCodes, statuses ${JSON.stringify(status)}, safeCode cache max ${maxSeen}/${maxSafeCodes}, ${replays} live replays refused`);
    expect(maxSeen).toBe(maxSafeCodes);
    expect(status['503']).toBeGreaterThan(1_000);
    expect(status.ok).toBeGreaterThan(1_000);
    expect(replays).toBeGreaterThan(100);
  }, 120_000);
});

describe('node:http adapter', () => {
  it('a Host header that is not a URL, an unsupported method and an asterisk target -> 4xx answers, and the process keeps running', async () => {
    const { gateway } = await modernGateway();
    const srv = await listen(toNodeHandler(gateway));
    const net = await import('node:net');
    const port = Number(new URL(srv.url).port);
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(text));
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('close', () => resolve(out));
        s.on('error', () => resolve(out));
      });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const badHost = await raw('POST /echo HTTP/1.1\r\nHost: [::1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      const trace = await raw('TRACE /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      const star = await raw('OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      expect(badHost).toMatch(/^HTTP\/1\.1 400 /);
      expect(trace).toMatch(/^HTTP\/1\.1 405 /);
      expect(star).toMatch(/^HTTP\/1\.1 400 /);
      for (const r of [badHost, trace, star]) expect(STACK.test(r)).toBe(false);
      const ok = await fetch(srv.url + '/issue', { method: 'POST', body: '{}' });
      expect(ok.status).toBe(400);
    } finally {
      process.off('uncaughtException', onUncaught);
      await srv.close();
    }
    expect(uncaught).toEqual([]);
  });

  it('a 2 MB upload over real HTTP -> 413 delivered to the client (not a reset)', async () => {
    const { gateway } = await modernGateway();
    const srv = await listen(toNodeHandler(gateway));
    try {
      const res = await fetch(srv.url + '/echo', { method: 'POST', headers: { 'x-op': '/echo' }, body: 'x'.repeat(TWO_MB) });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'BODY_TOO_LARGE' });
    } finally {
      await srv.close();
    }
  });
});
