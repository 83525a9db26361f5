/**
 * The legacy dialects' client side and the JSAPI shim, mends from the third review of 2026-11-23:
 * mgs options fetch could never send refused at construction, a page that is not the mgs
 * gateway never taken for data, a page's long timeout honoured by the shim, and app-secret's
 * failure code the same whichever JSON parser reads it.
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient, jsBridgeTransport, memoryStore } from '../../src/index.js';
import { appSecret } from '../../src/profiles/app-secret.js';
import { mgs } from '../../src/profiles/mgs.js';
import { sortedSign } from '../../src/profiles/sorted-sign.js';
import { installRpcShim } from '../../src/transport/shim.js';
import { createGateway } from '../../src/server/index.js';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.js';
import { RpcError } from '../../src/errors.js';
import type { ProfileContext } from '../../src/types.js';
import { thrown } from '../helpers/client-doubles.js';
import { inProcess } from '../helpers/in-process.js';
import { LosslessNumber, losslessParse } from '../helpers/lossless.js';

const ctx = (): ProfileContext => ({
  now: () => 1_700_000_000_000,
  random: (n) => new Uint8Array(n).fill(7),
  parseJson: JSON.parse,
  send: async () => {
    throw new Error('no transport');
  },
});
const callInfo = (operationType: string, params: unknown) => ({ operationType, params: params as Record<string, unknown>, options: {}, memo: {} });

describe('mgs: headers fetch would refuse are BAD_CONFIG at construction (they failed every call as a retryable NETWORK error)', () => {
  const base = { appId: 'APP1', workspaceId: 'default', secret: 'sign-secret' };

  it('a non-Latin-1 header value, a line break in did, a string for headers, an empty signType: each BAD_CONFIG naming its option, the value not in the message', () => {
    for (const [options, option] of [
      [{ headers: { 'X-User-Name': '张三' } }, 'headers'],
      [{ headers: { 'X Bad Name': 'v' } }, 'headers'],
      [{ headers: 'X-Env: prod' }, 'headers'],
      [{ did: 'device\n1' }, 'did'],
      [{ appId: 'APP\r\n1' }, 'appId'],
      [{ workspaceId: '工作区' }, 'workspaceId'],
      [{ signType: '' }, 'signType'],
    ] as const) {
      const e = thrown(() => mgs({ ...base, ...(options as object) }));
      expect(e, JSON.stringify(options)).toBeInstanceOf(RpcError);
      expect(e!.code).toBe('BAD_CONFIG');
      expect(e!.details?.option).toBe(option);
      expect(e!.message).not.toMatch(/张三|device|工作区/);
    }
    expect(() => mgs({ ...base, headers: { 'X-Env': 'prod' }, did: 'device-1' })).not.toThrow();
  });
});

describe('mgs: an answer with no Result-Status is not the gateway', () => {
  const profile = mgs({ appId: 'APP1', workspaceId: 'default', secret: 'sign-secret' });

  it('over HTTP, a 200 HTML page (a wrong gatewayPath behind an SPA fallback, a captive portal) is RESPONSE_UNREADABLE with a hint naming gatewayPath, never data', async () => {
    const sealed = await profile.seal(callInfo('com.example.get', { a: '1' }), undefined, ctx());
    const html = '<!doctype html><html><body>app</body></html>';
    const pages: [Record<string, string>, string][] = [
      [{ 'content-type': 'text/html; charset=utf-8' }, html],
      [{ 'content-type': 'application/json' }, '{"a":1}'],
      [{}, html],
    ];
    for (const [headers, body] of pages) {
      const e = (await profile.open({ status: 200, headers, body }, sealed, undefined, ctx()).catch((x: unknown) => x)) as RpcError;
      expect(e).toBeInstanceOf(RpcError);
      expect(e.code).toBe('RESPONSE_UNREADABLE');
      expect(e.hint).toMatch(/gatewayPath/);
    }
  });

  it('through the container, whose callbacks carry no headers, the data still arrives (the transport marks them 1000)', async () => {
    const win = globalThis as unknown as { AlipayJSBridge?: unknown };
    win.AlipayJSBridge = { call: (_api: string, _o: unknown, cb: (d: unknown) => void) => setTimeout(() => cb({ ok: 1 }), 1) };
    try {
      const client = createClient({ profile, transport: jsBridgeTransport(), store: memoryStore() });
      expect(await client.call('com.example.get', {})).toEqual({ ok: 1 });
      win.AlipayJSBridge = { call: (_api: string, _o: unknown, cb: (d: unknown) => void) => setTimeout(() => cb({ resData: 'plain text answer' }), 1) };
      expect(await client.call('com.example.get', {})).toBe('plain text answer');
    } finally {
      delete win.AlipayJSBridge;
    }
  });
});

describe('the shim', () => {
  it('a page timeout longer than a timer can wait (3e9 ms, Infinity) makes the call with the longest wait, instead of error 2 (bad parameters)', async () => {
    const target: Record<string, { call: (api: string, o: unknown, cb: (d: unknown) => void) => void }> = {};
    const gw = createGateway({ profile: sortedSignGateway({ apps: { '1': 'ZVNH8HUW5K3VQZKK' } }) }).operation('/api/echo', (x) => x);
    const client = createClient({ profile: sortedSign({ appId: '1', appKey: 'ZVNH8HUW5K3VQZKK' }), transport: inProcess(gw), store: memoryStore() });
    const shim = installRpcShim(client, { target });
    try {
      for (const timeout of [3e9, Infinity]) {
        const r = await new Promise((resolve) => target.AlipayJSBridge.call('rpc', { operationType: '/api/echo', requestData: [{ _requestBody: '{"a":"1"}' }], timeout }, resolve));
        expect(r).toEqual({ a: '1' });
      }
    } finally {
      shim.uninstall();
    }
  });
});

describe('app-secret: a failure code read by a lossless parseJson', () => {
  const APP_SECRET = 'appSecret-16byte';
  const enc = (t: string) => {
    const c = createCipheriv('aes-128-ecb', Buffer.from(APP_SECRET), null);
    return Buffer.concat([c.update(t, 'utf8'), c.final()]).toString('base64');
  };

  it('success:false with a numeric code gives the same gatewayCode as under JSON.parse (a number where exact, else its digits); a string code stays a string', async () => {
    const cases = [
      ['{"success":false,"code":40001,"msg":"余额不足"}', 40001],
      ['{"success":false,"code":12345678901234567890,"msg":"x"}', '12345678901234567890'],
      ['{"success":false,"code":"40001","msg":"x"}', '40001'],
    ] as const;
    for (const [text, code] of cases)
      for (const parseJson of [JSON.parse, losslessParse]) {
        if (parseJson === JSON.parse && typeof code === 'string' && code.length > 15) continue; // JSON.parse rounds it
        const p = appSecret({ publicSecret: 'pubSecret-16byte', parseJson });
        const sealed = await p.seal(callInfo('/api/pay', {}), { appId: 'A1', appSecret: APP_SECRET }, ctx());
        const e = (await p.open({ status: 200, headers: {}, body: enc(text) }, sealed, undefined, ctx()).catch((x: unknown) => x)) as RpcError;
        expect(e.code).toBe('GATEWAY');
        expect(e.gatewayCode).toStrictEqual(code);
      }
  });
});


describe('legacy client profiles refuse an option they do not read, as modern() does', () => {
  it('appSecret renewOnstart, sortedSign windowMS, mgs digst: BAD_CONFIG naming the misspelt option (its default would have stayed without a word); the right names are taken', () => {
    const cases: [string, () => unknown, () => unknown][] = [
      ['renewOnstart', () => appSecret({ publicSecret: 'pubSecret-16byte', renewOnstart: 'load' } as never), () => appSecret({ publicSecret: 'pubSecret-16byte', renewOnStart: 'load', digest: 'md5' })],
      ['windowMS', () => sortedSign({ appId: 7, appKey: 'aPpKeY-16-chars!', windowMS: 60_000 } as never), () => sortedSign({ appId: 7, appKey: 'aPpKeY-16-chars!', windowMs: 60_000, token: 't', machineCode: 'm', iv: 'key' })],
      ['digst', () => mgs({ appId: 'A', workspaceId: 'w', secret: 's', digst: 'hmac-sha256' } as never), () => mgs({ appId: 'A', workspaceId: 'w', secret: 's', digest: 'hmac-sha256', signType: 'md5' })],
    ];
    for (const [name, bad, good] of cases) {
      const e = thrown(bad);
      expect(e, name).toBeInstanceOf(RpcError);
      expect({ code: e?.code, option: e?.details?.option }, name).toEqual({ code: 'BAD_CONFIG', option: name });
      expect(good, name).not.toThrow();
    }
  });
});
