/**
 * The verifiers' refusals go through the constant-time helpers, observed at run time: the
 * source scan of constant-time.test.ts goes by operand names, so a plain `!==` on a sign held
 * in a variable named e.g. `provided`/`computed` passes it. Here the helper is wrapped and a
 * wrong sign, signature or echo must reach it (and be refused by it).
 */
import { describe, expect, it, vi } from 'vitest';

const calls: { a: string; b: string; result: boolean }[] = [];
vi.mock('../../src/codec/bytes.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/codec/bytes.js')>();
  return {
    ...real,
    constantTimeEqualString: (a: string, b: string) => {
      const result = real.constantTimeEqualString(a, b);
      calls.push({ a, b, result });
      return result;
    },
  };
});

const { appSecret, createClient, memoryStore } = await import('../../src/index.js');
const { appSecret: appSecretGateway } = await import('../../src/server/app-secret.js');
const { mgs } = await import('../../src/profiles/mgs.js');
const { sortedSign } = await import('../../src/profiles/sorted-sign.js');
const { createGateway } = await import('../../src/server/gateway.js');
const { mgs: mgsGateway } = await import('../../src/server/mgs.js');
const { sortedSign: sortedSignGateway } = await import('../../src/server/sorted-sign.js');
const { inProcess } = await import('../helpers/in-process.js');
const { failure } = await import('../helpers/servers.js');
import type { WireRequest, WireResponse } from '../../src/types.js';

/** A refused comparison one of whose sides is `given` (letter case aside). */
const refusedWith = (given: string) => calls.some((c) => !c.result && [c.a, c.b].some((x) => x.toLowerCase() === given.toLowerCase()));

describe('refusals go through constantTimeEqualString', () => {
  it('mgs gateway: a Sign made with another secret is 7002 after a constant-time comparison of that Sign', async () => {
    const gateway = createGateway({ profile: mgsGateway({ appId: 'APP', secret: 'the-right-secret' }) }).operation('com.echo', (p) => p);
    const sent: WireRequest[] = [];
    const client = createClient({ profile: mgs({ appId: 'APP', workspaceId: 'default', secret: 'a-wrong-secret!!' }), transport: inProcess(gateway, { sent }), store: memoryStore() });
    calls.length = 0;
    expect(await failure(client.call('com.echo', { a: '1' }))).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
    const sign = sent.at(-1)!.headers.Sign ?? sent.at(-1)!.headers.sign;
    expect(sign).toMatch(/^[0-9a-f]{32}$/);
    expect(refusedWith(sign)).toBe(true);
  });

  it('sorted-sign gateway: a signature under another sign rule is 1002 after a constant-time comparison', async () => {
    const key = 'aPpKeY-16-chars!';
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': key }, signRule: 'timestamp-key' }) }).operation('/api/echo', (p) => p);
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: key }), transport: inProcess(gateway), store: memoryStore() });
    calls.length = 0;
    expect(await failure(client.call('/api/echo', { a: '1' }))).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 1002 });
    expect(calls.filter((c) => !c.result).length).toBeGreaterThan(0);
  });

  it('app-secret gateway: a sign under another digest is sign_error after a constant-time comparison', async () => {
    const publicSecret = '0123456789abcdef';
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret }) }).operation('/api/echo', (p) => p);
    const client = createClient({ profile: appSecret({ publicSecret, digest: 'hmac-sha256' }), transport: inProcess(gateway), store: memoryStore() });
    calls.length = 0;
    expect(await failure(client.call('/api/echo', { a: '1' }))).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 'sign_error' });
    expect(calls.filter((c) => !c.result && /^[0-9a-f]{64}$/.test(c.a)).length).toBeGreaterThan(0);
  });

  it("sorted-sign client: an answer echoing another request's safeCode is RESPONSE_REPLAYED after a constant-time comparison of the echo", async () => {
    const key = 'aPpKeY-16-chars!';
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { '1': key } }) }).operation('/api/echo', (p) => p);
    let first: WireResponse | undefined;
    const client = createClient({ profile: sortedSign({ appId: 1, appKey: key }), transport: inProcess(gateway, { edit: (res) => (first ??= res) }), store: memoryStore() });
    expect(await client.call('/api/echo', { a: '1' })).toEqual({ a: '1' });
    const echoed = calls.filter((c) => c.result).map((c) => c.a);
    calls.length = 0;
    expect(await failure(client.call('/api/echo', { a: '2' }))).toMatchObject({ code: 'RESPONSE_REPLAYED' });
    expect(echoed.some((safeCode) => /^\d{13}$/.test(safeCode) && refusedWith(safeCode))).toBe(true);
  });
});
