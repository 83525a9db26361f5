/**
 * The legacy gateways and the Node adapter, mends from the third review of 2026-11-23: config
 * mistakes refused at construction (naming the option, never a secret), an unreadable body
 * answered in each dialect's own form, a paused body still read, a signer's text compared as is.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { appSecret, createClient, memoryStore } from '../../src/index.js';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.js';
import { createGateway } from '../../src/server/gateway.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { modern as modernGateway } from '../../src/server/modern.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { toNodeHandler } from '../../src/server/node.js';
import { encodeTs } from '../../src/profiles/mgs.js';
import { inProcess } from '../helpers/in-process.js';
import { listen, signingKey, type Running } from '../helpers/servers.js';

const PUBLIC_SECRET = '0123456789abcdef';
const APP_KEY = 'aPpKeY-16-chars!';
const NOW = 1_700_000_000_000;

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, timeout: 8_000, agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A signed mgs request for `echo` with an empty _requestBody, as a container sends it. */
function mgsRequest(headers: Record<string, string>, sign: (input: string) => string): Request {
  const body = JSON.stringify([{ _requestBody: '{}' }]);
  const ts = encodeTs(NOW);
  const input = `Operation-Type=echo&Request-Data=${Buffer.from(body).toString('base64')}&Ts=${ts}`;
  return new Request('http://gw.test/mgw.htm', {
    method: 'POST',
    headers: { 'Operation-Type': 'echo', Ts: ts, Sign: sign(input), 'Content-Type': 'application/json', ...headers },
    body,
  });
}

describe('legacy gateway options refused at construction, naming the option', () => {
  it('sortedSign: apps written the wrong way round ({ [appKey]: appId }) is refused by entry number, without the appKey in the message', () => {
    const messageOf = (apps: Record<string, string>): string => {
      try {
        sortedSignGateway({ apps });
      } catch (e) {
        return (e as Error).message;
      }
      return '(not refused)';
    };
    const first = messageOf({ [APP_KEY]: '10001' });
    expect(first).toMatch(/apps \(entry number 1: its appKey\)/);
    expect(first).not.toContain(APP_KEY);
    // The wrong-way entry second, after a good one: refused too (every entry is checked), named 2.
    const second = messageOf({ '1': APP_KEY, [APP_KEY]: '10001' });
    expect(second).toMatch(/apps \(entry number 2: its appKey\)/);
    expect(second).not.toContain(APP_KEY);
  });

  it('mgs: an app without a secret is named by entry number, not by its key (which may be the secret, written the wrong way round)', () => {
    expect(() => mgsGateway({ apps: { 'mGs-SeCrEt-value': '' } })).toThrow(/^mgs gateway: apps \(entry number 1\) needs a secret$/);
    expect(() => mgsGateway({ apps: { A: { secret: 's', workspaceId: 7 as unknown as string } } })).toThrow(/workspaceId must be a string/);
  });

  it('appSecret: an issuePath that is not a path starting with / is refused naming issuePath, as the client refuses it', () => {
    expect(() => appSecretGateway({ publicSecret: PUBLIC_SECRET, issuePath: 'secret_key/generate.json' })).toThrow(/issuePath/);
    expect(() => appSecretGateway({ publicSecret: PUBLIC_SECRET, issuePath: 42 as unknown as string })).toThrow(/issuePath/);
    expect(() => appSecretGateway({ publicSecret: PUBLIC_SECRET, issuePath: '/keys/new' })).not.toThrow();
  });

  it('mgs: workspaceId or secret given beside apps is refused (it applied to no app, so a request from another workspace was served)', () => {
    expect(() => mgsGateway({ apps: { ONEX: 'secret-1' }, workspaceId: 'prod' })).toThrow(/workspaceId goes with appId/);
    expect(() => mgsGateway({ apps: { ONEX: 'secret-1' }, secret: 'secret-2' })).toThrow(/secret goes with appId/);
    // Per app, the workspace is checked.
    const gateway = createGateway({ profile: mgsGateway({ apps: { ONEX: { secret: 'secret-1', workspaceId: 'prod' } } }), now: () => NOW }).operation('echo', (p) => p);
    const sign = (input: string) => md5(input + 'secret-1');
    return Promise.all([
      gateway.handle(mgsRequest({ AppId: 'ONEX', WorkspaceId: 'dev' }, sign)).then((r) => r.headers.get('result-status')),
      gateway.handle(mgsRequest({ AppId: 'ONEX', WorkspaceId: 'prod' }, sign)).then((r) => r.headers.get('result-status')),
    ]).then((codes) => expect(codes).toEqual(['7000', '1000']));
  });

  it('options of the wrong type are refused at construction naming them (they failed every request with a 500, or flipped the echo)', async () => {
    const { pem } = await signingKey();
    expect(() => mgsGateway({ appId: 'ONEX', secret: 's', signer: 'hmac' as unknown as () => Promise<string> })).toThrow(/signer must be a function/);
    expect(() => appSecretGateway({ publicSecret: PUBLIC_SECRET, clientAddress: 'x-forwarded-for' as unknown as (r: Request) => string })).toThrow(/clientAddress must be a function/);
    expect(() => modernGateway({ signingKeys: { k1: pem }, clientAddress: 'x-real-ip' as unknown as (r: Request) => string })).toThrow(/clientAddress must be a function/);
    expect(() => sortedSignGateway({ apps: { '1': APP_KEY }, safeCodeEcho: 0 as unknown as boolean })).toThrow(/safeCodeEcho must be true or false/);
  });

  it('counts (rates, table sizes, bytes) must be at least 1: issuesPerMinute 0.5 had turned issuance off (1 <= 0.5 is never true)', async () => {
    const { pem } = await signingKey();
    expect(() => appSecretGateway({ publicSecret: PUBLIC_SECRET, issuesPerMinute: 0.5 })).toThrow(/issuesPerMinute must be at least 1/);
    expect(() => sortedSignGateway({ apps: { '1': APP_KEY }, maxSafeCodes: 0.9 })).toThrow(/maxSafeCodes must be at least 1/);
    expect(() => modernGateway({ signingKeys: { k1: pem }, callsPerMinute: 0.5 })).toThrow(/callsPerMinute must be at least 1/);
    expect(() => createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), maxInFlight: 0.5 })).toThrow(/maxInFlight must be at least 1/);
    // Durations may have fractions; a computed count above 1 is rounded down (0.1 MiB, 1.5 × cores).
    expect(() => sortedSignGateway({ apps: { '1': APP_KEY }, windowMs: 2500.5 })).not.toThrow();
    expect(() => createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), maxBodyBytes: 0.1 * 2 ** 20, maxInFlight: 12 * 1.5 + 0.5 })).not.toThrow();
    const small = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), maxBodyBytes: 10.9 }).operation('/op', () => 'ok');
    const res = await small.handle(new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '0123456789A' }));
    expect(res.status).toBe(413); // 11 bytes over a bound of 10
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET, issuesPerMinute: 1 }) }).operation('/op', () => 'ok');
    const client = createClient({ profile: appSecret({ publicSecret: PUBLIC_SECRET }), transport: inProcess(gateway), store: memoryStore() });
    expect(await client.call('/op', {})).toBe('ok');
  });

  it('toNodeHandler: a basePath without a leading slash is refused (no request URL could match it: every request went to next() or 404)', () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) });
    expect(() => toNodeHandler(gateway, { basePath: 'api' })).toThrow(/basePath must be a path starting with \//);
    expect(() => toNodeHandler(gateway, { basePath: '/api/' })).not.toThrow();
    expect(() => toNodeHandler(gateway, { basePath: '' })).not.toThrow(); // no prefix, as leaving it out
  });
});

describe('toNodeHandler reads a body an earlier middleware paused', () => {
  // e.g. an auth middleware that pauses the body while it checks something asynchronously
  for (const [path, wrap] of [
    ['fast path (the gateway itself)', (g: ReturnType<typeof createGateway>) => toNodeHandler(g)],
    ['Request path (a handler function)', (g: ReturnType<typeof createGateway>) => toNodeHandler((r: Request) => g.handle(r))],
  ] as const) {
    it(`${path}: the paused body is read and answered (plain 1000 "app not found"), not 408 after bodyTimeoutMs`, async () => {
      const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }), bodyTimeoutMs: 1_500 }).operation('/op', () => 'ok');
      const h = wrap(gateway);
      const srv = await listen((req, res) => {
        req.pause();
        setTimeout(() => h(req, res), 5);
      });
      running.push(srv);
      const res = await post(srv.url + '/op', { 'content-type': 'application/json' }, JSON.stringify({ appId: 'nobody', params: 'x' }));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).code).toBe(1000);
    });
  }
});

describe('a body that is not UTF-8 is refused in the dialect\'s own form (PROTOCOLS §1–3), not a 400 its client reads as HTTP_STATUS', () => {
  it('app-secret: plain-text param_error at HTTP 200, which the client reads as BAD_REQUEST', async () => {
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret: PUBLIC_SECRET }) }).operation('/op', () => 'ok');
    const res = await gateway.handle(new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new Uint8Array([0x61, 0x3d, 0xff]) }));
    expect(`${res.status} ${await res.text()}`).toBe('200 param_error');
  });

  it('sorted-sign: the plain 1001 (params invalid) at HTTP 200', async () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) }).operation('/op', () => 'ok');
    const res = await gateway.handle(new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0xff, 0x7d]) }));
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text()).code).toBe(1001);
  });

  it('mgs: Result-Status 3002 (bad format) at HTTP 200, also on the Node fast path', async () => {
    const gateway = createGateway({ profile: mgsGateway({ appId: 'ONEX', secret: 'secret-1' }), now: () => NOW }).operation('echo', (p) => p);
    const headers = { 'Operation-Type': 'echo', AppId: 'ONEX', Ts: encodeTs(NOW), Sign: 'ab', 'Content-Type': 'application/json' };
    const res = await gateway.handle(new Request('http://gw.test/mgw.htm', { method: 'POST', headers, body: new Uint8Array([0x5b, 0xff, 0x5d]) }));
    expect([res.status, res.headers.get('result-status')]).toEqual([200, '3002']);
    const srv = await listen(toNodeHandler(gateway));
    running.push(srv);
    const wire = await new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
      const req = httpRequest(srv.url + '/mgw.htm', { method: 'POST', headers, agent: false, timeout: 8_000 }, (r) => {
        r.resume();
        r.on('end', () => resolve({ status: r.statusCode ?? 0, code: r.headers['result-status'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(Buffer.from([0x5b, 0xff, 0x5d]));
    });
    expect(wire).toEqual({ status: 200, code: '3002' });
  });
});

describe('a body the server already read is the operator\'s 500, not the client\'s bad params', () => {
  it('sortedSign POST whose body a middleware already consumed: HTTP 500 (told to onInternalError), not the plain 1001 "params invalid" (only a body that is not UTF-8 is the dialect\'s)', async () => {
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': APP_KEY } }) }).operation('/op', () => 'ok');
    const req = new Request('http://gw.test/op', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"appId":"1","params":"x"}' });
    await req.text(); // e.g. a logging middleware
    expect((await gateway.handle(req)).status).toBe(500);
  });
});

describe('mgs: a pluggable signer', () => {
  it('returning base64 (where case matters): a Sign differing only in letter case is refused (7002); the exact one is served', async () => {
    const signer = async (input: string) => createHash('sha256').update(input + 'k').digest('base64');
    const gateway = createGateway({ profile: mgsGateway({ appId: 'ONEX', secret: 'unused', signer }), now: () => NOW }).operation('echo', (p) => p);
    const good = (input: string) => createHash('sha256').update(input + 'k').digest('base64');
    const swapped = (input: string) => [...good(input)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    const codes = await Promise.all([good, swapped].map((sign) => gateway.handle(mgsRequest({ AppId: 'ONEX' }, sign)).then((r) => r.headers.get('result-status'))));
    expect(codes).toEqual(['1000', '7002']);
  });

  it('the built-in hex digest is still read in either case', async () => {
    const gateway = createGateway({ profile: mgsGateway({ appId: 'ONEX', secret: 'secret-1' }), now: () => NOW }).operation('echo', (p) => p);
    const res = await gateway.handle(mgsRequest({ AppId: 'ONEX' }, (input) => md5(input + 'secret-1').toUpperCase()));
    expect(res.headers.get('result-status')).toBe('1000');
  });
});

