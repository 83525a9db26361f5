import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createClient } from '../../src/client.js';
import { memoryStore } from '../../src/credentials/store.js';
import { RpcError, zeroSignHint, type RpcErrorCode } from '../../src/errors.js';
import { MGS_RESULT_CODES, decodeTs, encodeTs, mgs } from '../../src/profiles/mgs.js';
import { createGateway, OperationError } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { toNodeHandler } from '../../src/server/node.js';
import { fetchTransport } from '../../src/transport/fetch.js';
import type { ProfileContext, WireResponse } from '../../src/types.js';

const SECRET = 'mgs-test-secret-0123';
const APP = { appId: 'ONEX1234567890', workspaceId: 'default', secret: SECRET };
const T0 = 1700000000000;

function ctxAt(ms: number): ProfileContext {
  return {
    now: () => ms,
    random: (n) => new Uint8Array(n).fill(7),
    parseJson: JSON.parse,
    send: () => Promise.reject(new Error('mgs never sends on its own')),
  };
}

function call(operationType: string, params: unknown) {
  return { operationType, params: params as Record<string, unknown>, options: {}, memo: {} };
}

const md5Hex = (s: string) => createHash('md5').update(Buffer.from(s, 'utf8')).digest('hex');
const hmacHex = (key: string, s: string) => createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(s, 'utf8')).digest('hex');
/** The sign input written out independently of the profile. */
/** The RpcError a promise rejects with (fails the test if it resolves). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure, got a result');
    },
    (e: unknown) => e as RpcError,
  );
const signInputOf = (op: string, body: string, ts: string) => `Operation-Type=${op}&Request-Data=${Buffer.from(body, 'utf8').toString('base64')}&Ts=${ts}`;

describe('mgs Ts encoding', () => {
  it('writes 1700000000000 as OlFvMW0 and reads it back', () => {
    expect(encodeTs(1700000000000)).toBe('OlFvMW0');
    expect(decodeTs('OlFvMW0')).toBe(1700000000000);
  });

  it('round-trips random epoch times (0 .. year 2500) and is most-significant-digit first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 16_725_225_600_000 }), (ms) => {
        const s = encodeTs(ms);
        expect(s).toMatch(/^[0-9A-Za-z+/]+$/);
        expect(decodeTs(s)).toBe(ms);
        // Independent check: the digits as a base-64 number, computed with BigInt.
        const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/';
        let n = 0n;
        for (const ch of s) n = n * 64n + BigInt(A.indexOf(ch));
        expect(n).toBe(BigInt(ms));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses text that is not a base-64 time', () => {
    for (const bad of ['', 'Olf=', 'a b', '0123456789', 'é']) expect(() => decodeTs(bad)).toThrow(TypeError);
    expect(() => encodeTs(-1)).toThrow(TypeError);
    expect(() => encodeTs(1.5)).toThrow(TypeError);
  });
});

describe('mgs seal', () => {
  it('sends POST /mgw.htm with the protocol headers and the [{"_requestBody": …}] body', async () => {
    const profile = mgs({ ...APP, did: 'device-1', headers: { 'X-Caller': 'yes', Ts: 'caller-cannot-override' } });
    const { wire } = await profile.seal(call('com.example.echo', { key1: 'value1', n: 9 }), undefined, ctxAt(T0));
    expect(wire.method).toBe('POST');
    expect(wire.path).toBe('/mgw.htm');
    expect(wire.operationType).toBe('com.example.echo');
    expect(wire.body).toBe('[{"_requestBody":"{\\"key1\\":\\"value1\\",\\"n\\":9}"}]');
    expect(wire.headers).toMatchObject({
      'X-Caller': 'yes',
      Version: '2',
      'Operation-Type': 'com.example.echo',
      AppId: APP.appId,
      WorkspaceId: 'default',
      Did: 'device-1',
      Ts: 'OlFvMW0',
      signType: 'md5',
      'Content-Type': 'application/json',
    });
  });

  it('keeps params that are already a JSON string byte for byte (exact decimals)', async () => {
    const profile = mgs(APP);
    const { wire } = await profile.seal(call('op', '{"amount":"9.45","x":12345678901234567891.5}'), undefined, ctxAt(T0));
    expect(JSON.parse(wire.body!)[0]._requestBody).toBe('{"amount":"9.45","x":12345678901234567891.5}');
  });

  it('signs md5(input + secret) over the exact UTF-8 body bytes (checked with node:crypto)', async () => {
    const profile = mgs(APP);
    const { wire } = await profile.seal(call('pay.create', { memo: '中文 ✓', amount: '9.45' }), undefined, ctxAt(T0));
    const input = signInputOf('pay.create', wire.body!, 'OlFvMW0');
    expect(input).toContain('Request-Data=' + Buffer.from(wire.body!, 'utf8').toString('base64'));
    expect(wire.headers.Sign).toBe(md5Hex(input + SECRET));
  });

  it('signs hmac-sha256(key = secret, input + secret) when digest is hmac-sha256', async () => {
    const profile = mgs({ ...APP, digest: 'hmac-sha256' });
    const { wire } = await profile.seal(call('pay.create', { a: 'b' }), undefined, ctxAt(T0));
    expect(wire.headers.signType).toBe('hmac-sha256');
    expect(wire.headers.Sign).toBe(hmacHex(SECRET, signInputOf('pay.create', wire.body!, 'OlFvMW0') + SECRET));
  });

  it('hands the exact sign input to a pluggable signer and sends what it returns', async () => {
    const seen: string[] = [];
    const profile = mgs({ appId: 'a', workspaceId: 'w', signer: async (input) => (seen.push(input), 'native-signature'), signType: '0' });
    const { wire } = await profile.seal(call('op', { k: 'v' }), undefined, ctxAt(T0));
    expect(seen).toEqual([signInputOf('op', wire.body!, 'OlFvMW0')]);
    expect(wire.headers.Sign).toBe('native-signature');
    expect(wire.headers.signType).toBe('0');
  });

  it('fails at construction naming the option, and never puts the secret in the error', () => {
    const tries: [string, () => unknown][] = [
      ['appId', () => mgs({ ...APP, appId: '' })],
      ['workspaceId', () => mgs({ ...APP, workspaceId: '' })],
      ['secret', () => mgs({ appId: 'a', workspaceId: 'w' })],
      ['digest', () => mgs({ ...APP, digest: 'sha1' as 'md5' })],
      ['gatewayPath', () => mgs({ ...APP, gatewayPath: 'mgw.htm' })],
      ['signer', () => mgs({ ...APP, signer: 'md5' as unknown as () => Promise<string> })],
      ['did', () => mgs({ ...APP, did: '' })],
      ['parseJson', () => mgs({ ...APP, parseJson: 'JSON' as unknown as (t: string) => unknown })],
      ['headers.X-Trace', () => mgs({ ...APP, headers: { 'X-Trace': 1 as unknown as string } })],
    ];
    for (const [option, t] of tries) {
      let err: unknown;
      try {
        t();
      } catch (e) {
        err = e;
      }
      expect(err, option).toBeInstanceOf(RpcError);
      expect((err as RpcError).code, option).toBe('BAD_CONFIG');
      expect((err as RpcError).details?.option, option).toBe(option);
      expect((err as RpcError).message, option).toContain(option);
      expect(JSON.stringify(err) + String(err), option).not.toContain(SECRET);
    }
  });
});

/** PROTOCOLS.md §3, written out again here so the exported table is checked against the spec, not itself. */
const SPEC: Array<[number, RpcErrorCode, boolean]> = [
  [1001, 'GATEWAY', false],
  [1002, 'GATEWAY', true],
  [2000, 'GATEWAY', false],
  [3000, 'GATEWAY', false],
  [3001, 'GATEWAY', false],
  [3002, 'GATEWAY', false],
  [3003, 'GATEWAY', false],
  [4001, 'GATEWAY', true],
  [4002, 'GATEWAY', false],
  [4003, 'GATEWAY', false],
  [5000, 'GATEWAY', false],
  ...[6000, 6001, 6002, 6003, 6004, 6005, 6666].map((c): [number, RpcErrorCode, boolean] => [c, 'GATEWAY', false]),
  [7000, 'KEY_NOT_SET', false],
  [7001, 'SIGN_PARAMS_INSUFFICIENT', false],
  [7002, 'SIGNATURE_INVALID', false],
  [7015, 'SIGNATURE_INVALID', false],
  [7003, 'CLOCK_SKEW', false],
  [7007, 'TIMESTAMP_MISSING', false],
  [7014, 'SIGNATURE_MISSING', false],
  ...[7004, 7005, 7006, 7008, 7009, 7010, 7011, 7012, 7013, 7016, 7017, 7018, 7019].map((c): [number, RpcErrorCode, boolean] => [c, 'GATEWAY', false]),
];

function gatewayAnswer(resultStatus: number, extra: Record<string, string> = {}, body = '{}'): WireResponse {
  return { status: 200, headers: { 'result-status': String(resultStatus), memo: 'gateway memo', 'mgw-traceid': 'trace-1', 'content-type': 'application/json', ...extra }, body };
}

describe('mgs open: every result code of the table', () => {
  const profile = mgs(APP);
  const open = async (res: WireResponse) => {
    const sealed = await profile.seal(call('op', {}), undefined, ctxAt(T0));
    return profile.open(res, sealed, undefined, ctxAt(T0));
  };

  it('the exported table holds exactly the spec rows plus 1000 and 8001 (not errors) and the vendor\'s 1005 (jsbridge-container-codes.test.ts)', () => {
    const codes = Object.keys(MGS_RESULT_CODES).map(Number).sort((a, b) => a - b);
    expect(codes).toEqual([...SPEC.map(([c]) => c), 1000, 1005, 8001].sort((a, b) => a - b));
    expect(MGS_RESULT_CODES[1000].error).toBeNull();
    expect(MGS_RESULT_CODES[8001].error).toBeNull();
  });

  it.each(SPEC)('result code %i -> RpcError %s (retryable %s) with gatewayCode, memo, tips and a hint', async (resultCode, code, retryable) => {
    expect(MGS_RESULT_CODES[resultCode]).toMatchObject({ error: code, retryable });
    const err = await failure(open(gatewayAnswer(resultCode, { tips: 'Please+try%20again%20%E7%A8%8D%E5%90%8E' })));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(code);
    expect(err.gatewayCode).toBe(resultCode);
    expect(err.retryable).toBe(retryable);
    expect(err.message).toContain('gateway memo');
    expect(err.details).toMatchObject({ memo: 'gateway memo', tips: 'Please try again 稍后', traceId: 'trace-1' });
    // The gateway's own user-facing text is the hint when it sends one…
    expect(err.hint).toBe('Please try again 稍后');
    // …and the table's hint otherwise.
    const bare = await failure(open({ status: 200, headers: { 'result-status': String(resultCode) }, body: '' }));
    // (This call's Sign begins with 0, so a 7002 adds the note on Java hex that drops it: java-sign-zeros.test.ts.)
    const sign = (await profile.seal(call('op', {}), undefined, ctxAt(T0))).wire.headers.Sign;
    expect(bare.hint).toBe(MGS_RESULT_CODES[resultCode].hint + (resultCode === 7002 ? zeroSignHint(sign) : ''));
    expect(bare.hint.length).toBeGreaterThan(10);
  });

  it('7003 carries the Date header as serverTime (ms) for the client clock policy', async () => {
    const err = await open(gatewayAnswer(7003, { date: 'Tue, 14 Nov 2023 22:13:20 GMT' })).catch((e) => e);
    expect(err).toMatchObject({ code: 'CLOCK_SKEW', gatewayCode: 7003, serverTime: 1700000000000 });
  });

  it('1000 gives the parsed body; 8001 (not modified) is not an error', async () => {
    await expect(open(gatewayAnswer(1000, {}, '{"sum":3}'))).resolves.toEqual({ sum: 3 });
    await expect(open(gatewayAnswer(8001, {}, ''))).resolves.toBeUndefined();
    await expect(open(gatewayAnswer(8001, {}, '{"cached":true}'))).resolves.toEqual({ cached: true });
  });

  it('an unknown result code is GATEWAY with the code kept; junk is RESPONSE_UNREADABLE; no Result-Status and HTTP 502 is HTTP_STATUS', async () => {
    await expect(open(gatewayAnswer(9123))).rejects.toMatchObject({ code: 'GATEWAY', gatewayCode: 9123 });
    await expect(open(gatewayAnswer(1000, {}, '<html>'))).rejects.toMatchObject({ code: 'RESPONSE_UNREADABLE' });
    await expect(open({ status: 200, headers: { 'result-status': 'abc' }, body: '' })).rejects.toMatchObject({ code: 'RESPONSE_UNREADABLE' });
    await expect(open({ status: 502, headers: {}, body: 'Bad Gateway' })).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 502 });
  });

  it('uses its own parseJson option (e.g. a lossless parser) for the body', async () => {
    const lossless = mgs({ ...APP, parseJson: (t) => ({ raw: t }) });
    const sealed = await lossless.seal(call('op', {}), undefined, ctxAt(T0));
    await expect(lossless.open(gatewayAnswer(1000, {}, '{"x":12345678901234567891.5}'), sealed, undefined, ctxAt(T0))).resolves.toEqual({ raw: '{"x":12345678901234567891.5}' });
  });
});

describe('mgs gateway half (createGateway + handle)', () => {
  const NOW = T0;
  const gateway = createGateway({ profile: mgsGateway({ apps: { [APP.appId]: SECRET }, windowMs: 300_000 }), now: () => NOW })
    .operation('echo', (p) => ({ echo: p }))
    .operation('refuse', () => {
      throw new OperationError('6666', 'out of stock');
    })
    .operation('boom', () => {
      throw new Error('internal detail that must not leak');
    });

  /** A request signed independently with node:crypto; `tweak` changes it after signing. */
  function signedRequest(op: string, params: unknown, tweak: { headers?: Record<string, string | null>; body?: (b: string) => string; ts?: number } = {}) {
    const body = JSON.stringify([{ _requestBody: JSON.stringify(params) }]);
    const ts = encodeTs(tweak.ts ?? NOW);
    const headers: Record<string, string> = {
      Version: '2',
      'Operation-Type': op,
      AppId: APP.appId,
      WorkspaceId: APP.workspaceId,
      Did: 'd1',
      Ts: ts,
      Sign: md5Hex(signInputOf(op, body, ts) + SECRET),
      signType: 'md5',
      'Content-Type': 'application/json',
    };
    for (const [k, v] of Object.entries(tweak.headers ?? {})) {
      if (v === null) delete headers[k];
      else headers[k] = v;
    }
    return new Request('http://gw.test/mgw.htm', { method: 'POST', headers, body: tweak.body ? tweak.body(body) : body });
  }

  const resultOf = async (req: Request) => {
    const res = await gateway.handle(req);
    expect(res.status).toBe(200);
    return { code: Number(res.headers.get('result-status')), res, body: await res.text() };
  };

  it('runs a correctly signed call: 1000, JSON body, Mgw-TraceId and Date', async () => {
    const { code, res, body } = await resultOf(signedRequest('echo', { key1: 'value1' }));
    expect(code).toBe(1000);
    expect(JSON.parse(body)).toEqual({ echo: { key1: 'value1' } });
    expect(res.headers.get('mgw-traceid')).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(res.headers.get('date')!)).toBe(NOW);
  });

  it('answers 7007 without Ts', async () => {
    expect((await resultOf(signedRequest('echo', {}, { headers: { Ts: null } }))).code).toBe(7007);
  });

  it('answers 7014 without Sign (checked before Ts)', async () => {
    expect((await resultOf(signedRequest('echo', {}, { headers: { Sign: null, Ts: null } }))).code).toBe(7014);
  });

  it('answers 7002 when one body byte changed after signing', async () => {
    const flipped = (b: string) => b.replace('value1', 'value2');
    expect((await resultOf(signedRequest('echo', { key1: 'value1' }, { body: flipped }))).code).toBe(7002);
  });

  it('answers 7001 without AppId, 7000 for an unknown appId, 7003 for a Ts 10 minutes off', async () => {
    expect((await resultOf(signedRequest('echo', {}, { headers: { AppId: null } }))).code).toBe(7001);
    expect((await resultOf(signedRequest('echo', {}, { headers: { AppId: 'nobody' } }))).code).toBe(7000);
    expect((await resultOf(signedRequest('echo', {}, { ts: NOW - 600_000 }))).code).toBe(7003);
  });

  it('answers 3000 for an unknown operation, 3001/3002 for an empty or malformed body', async () => {
    expect((await resultOf(signedRequest('nope', {}))).code).toBe(3000);
    const resign = (body: string) => {
      const ts = encodeTs(NOW);
      return new Request('http://gw.test/mgw.htm', {
        method: 'POST',
        headers: { 'Operation-Type': 'echo', AppId: APP.appId, Ts: ts, Sign: md5Hex(signInputOf('echo', body, ts) + SECRET) },
        body,
      });
    };
    expect((await resultOf(resign(''))).code).toBe(3001);
    expect((await resultOf(resign('[]'))).code).toBe(3001);
    expect((await resultOf(resign('{"not":"an array"}'))).code).toBe(3002);
    expect((await resultOf(resign('[{"_requestBody":"{not json"}]'))).code).toBe(3002);
  });

  it('a numeric OperationError code is the result code (6666 with URL-encoded Tips); other failures leak nothing', async () => {
    const refused = await resultOf(signedRequest('refuse', {}));
    expect(refused.code).toBe(6666);
    expect(refused.res.headers.get('tips')).toBe(encodeURIComponent('out of stock'));
    const boom = await resultOf(signedRequest('boom', {}));
    expect(boom.code).toBe(4002);
    expect(boom.body + JSON.stringify([...boom.res.headers])).not.toContain('internal detail');
  });

  it('counts rejections by result code in stats()', async () => {
    // Self-contained: whatever earlier tests sent, one bad request adds exactly one to its own code.
    const before = gateway.stats();
    expect((await resultOf(signedRequest('echo', { key1: 'value1' }, { body: (b) => b.replace('value1', 'value2') }))).code).toBe(7002);
    const after = gateway.stats();
    expect((after.rejections['7002'] ?? 0) - (before.rejections['7002'] ?? 0)).toBe(1);
    // ...and to nothing else.
    const others = (r: Record<string, number>) => Object.entries(r).filter(([k]) => k !== '7002');
    expect(others(after.rejections)).toEqual(others(before.rejections));
    expect((await resultOf(signedRequest('echo', {}, { headers: { Ts: null } }))).code).toBe(7007);
    expect((gateway.stats().rejections['7007'] ?? 0) - (after.rejections['7007'] ?? 0)).toBe(1);
  });
});

describe('mgs end to end over real HTTP', () => {
  let server: Server;
  let baseUrl = '';
  const gateway = createGateway({ profile: mgsGateway({ apps: { [APP.appId]: SECRET } }) }).operation('sum', (p: { a: string; b: string }) => ({ sum: Number(p.a) + Number(p.b) }));

  beforeAll(async () => {
    server = createServer(toNodeHandler(gateway));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a client clock 10 minutes slow gets exactly one 7003, corrects from the Date header, and succeeds', async () => {
    const client = createClient({
      profile: mgs(APP),
      transport: fetchTransport({ baseUrl }),
      store: memoryStore(),
      clock: { now: () => Date.now() - 600_000 },
    });
    const retries: string[] = [];
    client.events.on('retry', (e) => retries.push(e.cause));
    const before = gateway.stats().rejections['7003'] ?? 0;
    await expect(client.call('sum', { a: '1', b: '2' })).resolves.toEqual({ sum: 3 });
    expect((gateway.stats().rejections['7003'] ?? 0) - before).toBe(1);
    expect(retries).toEqual(['CLOCK_SKEW']);
    // Date has 1 s resolution: the offset is 10 minutes give or take a couple of seconds.
    expect(Math.abs(client.clockOffset - 600_000)).toBeLessThan(3_000);
    // The next call needs no correction.
    await expect(client.call('sum', { a: '2', b: '2' })).resolves.toEqual({ sum: 4 });
    expect((gateway.stats().rejections['7003'] ?? 0) - before).toBe(1);
  });

  it('a wrong secret surfaces as SIGNATURE_INVALID with gatewayCode 7002 and no secret in the error', async () => {
    const client = createClient({ profile: mgs({ ...APP, secret: 'not-the-secret' }), transport: fetchTransport({ baseUrl }), store: memoryStore() });
    const err = await failure(client.call('sum', { a: '1', b: '2' }));
    expect(err).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
    expect(JSON.stringify(err) + String(err) + err.hint).not.toMatch(/not-the-secret|mgs-test-secret/);
  });
});

describe('mgs open: HTTP status and Result-Status together', () => {
  it('Result-Status 1000 on an HTTP 502 is HTTP_STATUS, never data', async () => {
    const { mgs: mgsProfile } = await import('../../src/profiles/mgs.js');
    const profile = mgsProfile({ appId: 'A', workspaceId: 'W', secret: 's'.repeat(16) });
    const ctx = { now: () => 1_700_000_000_000, random: (n: number) => new Uint8Array(n), parseJson: JSON.parse, send: async () => ({ status: 200, headers: {}, body: '' }) };
    const sealed = await profile.seal({ operationType: 'OP', params: {}, options: {}, memo: {} }, undefined, ctx);
    let err: unknown;
    try {
      await profile.open({ status: 502, headers: { 'result-status': '1000' }, body: '{"data":"stolen"}' }, sealed, undefined, ctx);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('HTTP_STATUS');
    expect((err as { status?: number }).status).toBe(502);
  });
});
