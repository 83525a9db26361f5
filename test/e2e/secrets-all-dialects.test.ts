/**
 * One secret scan over the failure scenarios of every dialect, over real HTTP on 127.0.0.1:
 * wrong secrets, wrong digests, tampered and replayed answers, expired credentials, clock
 * skew, operation failures (including a handler whose error text holds a server secret),
 * network failures, config mistakes, storage faults. Everything a user or a log could see
 * (messages, String(err), JSON.stringify(err), the Node inspector's view, hints, details,
 * gatewayCode, every event, every console line, and each client's own inspector and JSON
 * view after its calls) is searched for every secret in every form
 * (raw, hex, base64, base64url, partial windows; derived AES keys too).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/codec/base64.js';
import { fromHex } from '../../src/codec/hex.js';
import { ecdhDerive, ecdhFromScalar } from '../../src/crypto/ec.js';
import { appSecret, createClient, fetchTransport, indexedDbStore, memoryStore, mgs, modern, sortedSign, type Client, type Transport, type WireResponse } from '../../src/index.js';
import { deriveSessionKeys } from '../../src/profiles/modern.js';
import { appSecret as appSecretGateway, createGateway, mgs as mgsGateway, modern as modernGateway, OperationError, sortedSign as sortedSignGateway, toNodeHandler } from '../../src/server/index.js';
import { RpcError } from '../../src/errors.js';
import { collectFailure, collectInspected, findSecrets, findSecretsDeep, loadInspector, OutputCollector, safeStringify, withDerivedKeys } from '../helpers/secret-scan.js';
import { listen, signingKey, type Running } from '../helpers/servers.js';

/** Servers the current test started: each test's own are stopped when it ends. */
const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});
beforeAll(loadInspector);

/** A secret the server holds that an operation's error text mentions: it must never reach a client. */
const SERVER_SIDE = 'db-password-Zq7xWv9Lk2Mn4Pr8';

type Mode = 'pass' | 'flip' | 'replay' | 'garbage' | 'drop' | 'slow';

/** fetch, with a switch to change answers in transit the way an attacker or a broken proxy would. */
function hostileTransport(baseUrl: string) {
  const base = fetchTransport({ baseUrl });
  const state = { mode: 'pass' as Mode, last: undefined as WireResponse | undefined };
  const transport: Transport & { id: string } = {
    id: baseUrl,
    async send(req, o) {
      if (state.mode === 'drop') throw new TypeError('fetch failed: ECONNRESET');
      const res = await base.send(req, o);
      const issuance = /issue|generate/.test(req.path);
      if (issuance) return res;
      if (state.mode === 'flip' && res.body.length > 24) {
        const i = 20;
        return { ...res, body: res.body.slice(0, i) + (res.body[i] === 'A' ? 'B' : 'A') + res.body.slice(i + 1) };
      }
      if (state.mode === 'replay' && state.last) return state.last;
      if (state.mode === 'garbage') return { ...res, body: '{"ok":true,"success":true,"code":0,"data":"unsealed"}' };
      state.last = res;
      return res;
    },
  };
  return { transport, state };
}

async function serve(gateway: Parameters<typeof toNodeHandler>[0]): Promise<string> {
  const srv = await listen(toNodeHandler(gateway));
  running.push(srv);
  return srv.url;
}

function watch(out: OutputCollector, client: Client): Client {
  out.events(client);
  return client;
}

/** Runs `fn`; a config mistake thrown synchronously is collected like any failure. */
function attempt(out: OutputCollector, label: string, fn: () => Promise<unknown>): Promise<string> {
  let p: Promise<unknown>;
  try {
    p = fn();
  } catch (e) {
    p = Promise.reject(e);
  }
  return collectFailure(out, p, label);
}

async function withBrokenIndexedDb<T>(fn: () => Promise<T>): Promise<T> {
  const realOpen = indexedDB.open;
  (indexedDB as { open: unknown }).open = () => {
    throw new DOMException('blocked', 'InvalidStateError');
  };
  try {
    return await fn();
  } finally {
    (indexedDB as { open: unknown }).open = realOpen;
  }
}

/** One scan run: the collector, the outcome code of every scenario, and the shared moves. */
interface Scan {
  out: OutputCollector;
  codes: string[];
  /** Runs one scenario (a config mistake thrown synchronously counts too); its code, or 'ok', goes to `codes`. */
  step(label: string, fn: () => Promise<unknown>): Promise<void>;
  /** A client whose every event is collected. */
  watch(client: Client): Client;
  /** Each [mode, op] in turn through the hostile transport's `state`, as a call of `op` with `params`; back to 'pass' after. */
  hostile(client: Client, state: { mode: Mode }, steps: readonly (readonly [Mode, string])[], params: Record<string, unknown>): Promise<void>;
}

/** Console captured for the whole of `run` (and released even if it throws). */
async function scan(run: (s: Scan) => Promise<void>): Promise<{ out: OutputCollector; codes: string[] }> {
  const out = new OutputCollector();
  const codes: string[] = [];
  const s: Scan = {
    out,
    codes,
    step: async (label, fn) => void codes.push(await attempt(out, label, fn)),
    watch: (client) => watch(out, client),
    async hostile(client, state, steps, params) {
      for (const [mode, op] of steps) {
        state.mode = mode;
        await s.step(`${mode} ${op}`, () => client.call(op, params));
      }
      state.mode = 'pass';
    },
  };
  const clients: Client[] = [];
  s.watch = (client) => (clients.push(client), watch(out, client));
  out.captureConsole();
  try {
    await run(s);
  } finally {
    out.stop();
  }
  // What a developer or an error reporter sees of each client after its calls: Node's inspector and JSON.
  for (const client of clients) {
    collectInspected(out, client);
    out.lines.push(JSON.stringify(client));
  }
  return { out, codes };
}

describe('no secret in any error, event or console line, in any dialect', () => {
  it('app-secret: publicSecret, every issued appSecret and their AES keys never appear, across 12 failure scenarios', async () => {
    const publicSecret = 'pUbLiC-sEcReT-16';
    const gateway = createGateway({ profile: appSecretGateway({ publicSecret }) })
      .operation('/echo', (p) => p)
      .operation('/fail', () => {
        throw new OperationError('E_DEMO', 'demo failure');
      })
      .operation('/boom', () => {
        throw new Error(`connect failed with ${SERVER_SIDE}`);
      });
    const url = await serve(gateway);
    const issued = new Set<string>();
    const seen = (c: Client) => {
      const v = c.credentials?.peek()?.value as { appSecret?: string } | undefined;
      if (v?.appSecret) issued.add(v.appSecret);
    };
    const { out, codes } = await scan(async ({ step, watch, hostile }) => {
      const { transport, state } = hostileTransport(url);
      const client = watch(createClient({ profile: appSecret({ publicSecret }), transport, store: memoryStore() }));
      await step('first call', () => client.call('/echo', { a: '1' }));
      seen(client);
      await hostile(client, state, [['flip', '/echo'], ['replay', '/echo'], ['garbage', '/echo'], ['drop', '/echo'], ['pass', '/fail'], ['pass', '/boom'], ['pass', '/missing']], { b: '2' });
      gateway.expireCredentials();
      await step('renewal', () => client.call('/echo', { c: '3' }));
      seen(client);
      // Wrong publicSecret (param_error), wrong digest (sign_error), config mistakes.
      const wrongPublic = watch(createClient({ profile: appSecret({ publicSecret: 'wRoNg-PuBlIc-016' }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() }));
      await step('wrong publicSecret', () => wrongPublic.call('/echo', {}));
      seen(wrongPublic);
      const wrongDigest = watch(createClient({ profile: appSecret({ publicSecret, digest: 'sha256' }), transport: fetchTransport({ baseUrl: url }), store: memoryStore() }));
      await step('wrong digest', () => wrongDigest.call('/echo', {}));
      seen(wrongDigest);
      await step('bad config: 15-byte publicSecret', async () => appSecret({ publicSecret: 'pUbLiC-sEcReT-1' }));
      await step('bad config: reserved param', () => client.call('/echo', { sign: 'x' }));
      // Storage fault: IndexedDB refuses; the client falls back to memory and is issued its own appSecret.
      await withBrokenIndexedDb(async () => {
        const c = watch(createClient({ profile: appSecret({ publicSecret }), transport: fetchTransport({ baseUrl: url }), store: indexedDbStore({ dbName: 'scan-app-secret' }) }));
        await step('storage fault', () => c.call('/echo', { d: '4' }));
        seen(c);
      });
    });
    expect(codes).toEqual(['ok', 'RESPONSE_UNREADABLE', 'ok', 'RESPONSE_UNREADABLE', 'NETWORK', 'GATEWAY', 'GATEWAY', 'HTTP_STATUS', 'ok', 'BAD_REQUEST', 'SIGNATURE_INVALID', 'BAD_CONFIG', 'BAD_REQUEST', 'ok']);
    // Exactly the issuances the gateway made: the first, the renewal, the storage-fault client's.
    expect(gateway.stats().issuances).toBe(3);
    expect(issued.size).toBe(3);
    const secrets = await withDerivedKeys({ publicSecret, serverSide: SERVER_SIDE, ...Object.fromEntries([...issued].map((s, i) => [`appSecret#${i}`, s])) }, 'utf8');
    expect(out.lines.length).toBeGreaterThan(60);
    expect(findSecretsDeep(out.lines, secrets)).toEqual([]);
  });

  it('sorted-sign: the appKey (and its AES key under md5) never appears, across 11 failure scenarios', async () => {
    const appKey = 'aPpKeY-16-chars!';
    const appId = '20001';
    let skew = 0;
    const gateway = createGateway({ profile: sortedSignGateway({ apps: { [appId]: appKey } }) })
      .operation('/echo', (p) => p)
      .operation('/fail', () => {
        throw new OperationError('2001', 'business failure');
      })
      .operation('/boom', () => {
        throw new Error(`leaked ${SERVER_SIDE}`);
      });
    const url = await serve(gateway);
    const md5Gateway = createGateway({ profile: sortedSignGateway({ apps: { [appId]: appKey }, keyFrom: 'md5', digest: 'hmac-sha256' }) }).operation('/echo', (p) => p);
    const md5Url = await serve(md5Gateway);
    const { out, codes } = await scan(async ({ step, watch, hostile }) => {
      const { transport, state } = hostileTransport(url);
      const client = watch(createClient({ profile: sortedSign({ appId, appKey }), transport, clock: { now: () => Date.now() + skew } }));
      await step('first call', () => client.call('/echo', { a: '1' }));
      await hostile(client, state, [['flip', '/echo'], ['replay', '/echo'], ['garbage', '/echo'], ['drop', '/echo'], ['pass', '/fail'], ['pass', '/boom']], { b: '2' });
      skew = 60_000; // the device clock jumps a minute ahead: 1003, corrected, resent
      await step('clock skew', () => client.call('/echo', { c: '3' }));
      const wrongKey = watch(createClient({ profile: sortedSign({ appId, appKey: 'wRoNg-KeY-16-chr' }), transport: fetchTransport({ baseUrl: url }) }));
      await step('wrong appKey', () => wrongKey.call('/echo', {}));
      const unknownApp = watch(createClient({ profile: sortedSign({ appId: '999', appKey }), transport: fetchTransport({ baseUrl: url }) }));
      await step('unknown app', () => unknownApp.call('/echo', {}));
      await step('value with &', () => client.call('/echo', { q: 'a&b' }));
      await step('bad config: 17-byte appKey', async () => sortedSign({ appId, appKey: appKey + 'x' }));
      const md5Client = watch(createClient({ profile: sortedSign({ appId, appKey, keyFrom: 'md5', digest: 'sha256' }), transport: fetchTransport({ baseUrl: md5Url }) }));
      await step('digest mismatch under keyFrom md5', () => md5Client.call('/echo', {}));
    });
    expect(codes).toEqual(['ok', 'RESPONSE_UNREADABLE', 'RESPONSE_REPLAYED', 'RESPONSE_TAMPERED', 'NETWORK', 'GATEWAY', 'GATEWAY', 'ok', 'BAD_REQUEST', 'KEY_NOT_SET', 'BAD_REQUEST', 'BAD_CONFIG', 'SIGNATURE_INVALID']);
    const secrets = { ...(await withDerivedKeys({ appKey, serverSide: SERVER_SIDE }, 'utf8')), ...(await withDerivedKeys({ appKey }, 'md5')) };
    expect(out.lines.length).toBeGreaterThan(60);
    expect(findSecretsDeep(out.lines, secrets)).toEqual([]);
  });

  it('mgs: the signing secret never appears, across 8 failure scenarios', async () => {
    const secret = 'mGs-SeCrEt-value-0042';
    const options = { appId: 'APP_1', workspaceId: 'default', secret };
    let skew = 0;
    const gateway = createGateway({ profile: mgsGateway({ apps: { APP_1: secret } }) })
      .operation('com.echo', (p) => p)
      .operation('com.fail', () => {
        throw new OperationError('6666', 'business failure');
      })
      .operation('com.boom', () => {
        throw new Error(`leaked ${SERVER_SIDE}`);
      });
    const url = await serve(gateway);
    const { out, codes } = await scan(async ({ step, watch, hostile }) => {
      const { transport, state } = hostileTransport(url);
      const client = watch(createClient({ profile: mgs(options), transport, clock: { now: () => Date.now() + skew } }));
      await step('first call', () => client.call('com.echo', { a: '1' }));
      await hostile(client, state, [['drop', 'com.echo'], ['pass', 'com.fail'], ['pass', 'com.boom'], ['pass', 'com.missing']], { b: '2' });
      skew = 30 * 60_000; // 7003, corrected from the Date header, resent
      await step('clock skew', () => client.call('com.echo', { c: '3' }));
      const wrongSecret = watch(createClient({ profile: mgs({ ...options, secret: 'wRoNg-SeCrEt-0042' }), transport: fetchTransport({ baseUrl: url }) }));
      await step('wrong secret', () => wrongSecret.call('com.echo', {}));
      await step('bad config: no secret', async () => mgs({ appId: 'APP_1', workspaceId: 'default' }));
    });
    expect(codes).toEqual(['ok', 'NETWORK', 'GATEWAY', 'GATEWAY', 'GATEWAY', 'ok', 'SIGNATURE_INVALID', 'BAD_CONFIG']);
    expect(out.lines.length).toBeGreaterThan(40);
    expect(findSecretsDeep(out.lines, { secret, serverSide: SERVER_SIDE })).toEqual([]);
  });

  it('modern: signing key, ephemeral scalars, ECDH secret, reqKey and resKey of every issuance never appear, across 11 failure scenarios', async () => {
    const clientScalar = fromHex('5a'.repeat(32));
    const serverScalar = fromHex('6b'.repeat(32));
    const key = await signingKey();
    const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem }, ephemeral: () => ecdhFromScalar(serverScalar) }) })
      .operation('/echo', (p) => p)
      .operation('/fail', () => {
        throw new OperationError('E_DEMO', 'demo failure');
      })
      .operation('/boom', () => {
        throw new Error(`leaked ${SERVER_SIDE}`);
      });
    const url = await serve(gateway);
    const issuances: string[] = [];
    /** Records every issuance answer that reaches a client, so every session's keys can be recomputed. */
    const spy = (inner: Transport): Transport => ({
      async send(req, o) {
        const res = await inner.send(req, o);
        if (req.path === '/issue' && res.status === 200) issuances.push(res.body);
        return res;
      },
    });
    const { out, codes } = await scan(async ({ step, watch, hostile }) => {
      const { transport, state } = hostileTransport(url);
      const client = watch(createClient({ profile: modern({ serverKeys: { k1: key.jwk }, ephemeral: () => ecdhFromScalar(clientScalar) }), transport: spy(transport), store: memoryStore() }));
      await step('first call', () => client.call('/echo', { a: '1' }));
      await hostile(client, state, [['flip', '/echo'], ['replay', '/echo'], ['garbage', '/echo'], ['drop', '/echo'], ['pass', '/fail'], ['pass', '/boom'], ['pass', '/missing']], { b: '2' });
      gateway.expireCredentials();
      await step('renewal', () => client.call('/echo', { c: '3' }));
      const other = await signingKey();
      const pinnedWrong = watch(createClient({ profile: modern({ serverKeys: { k1: other.jwk }, ephemeral: () => ecdhFromScalar(clientScalar) }), transport: spy(fetchTransport({ baseUrl: url })), store: memoryStore() }));
      await step('wrong pinned key', () => pinnedWrong.call('/echo', {}));
      // Storage fault: IndexedDB refuses; the client falls back to memory (storage-fallback event) with a session of its own.
      await withBrokenIndexedDb(async () => {
        const fallback = watch(createClient({ profile: modern({ serverKeys: { k1: key.jwk }, ephemeral: () => ecdhFromScalar(clientScalar) }), transport: spy(fetchTransport({ baseUrl: url })), store: indexedDbStore({ dbName: 'scan-modern' }) }));
        await step('storage fault', () => fallback.call('/echo', { d: '4' }));
      });
    });
    expect(codes).toEqual(['ok', 'RESPONSE_TAMPERED', 'RESPONSE_TAMPERED', 'RESPONSE_TAMPERED', 'NETWORK', 'GATEWAY', 'GATEWAY', 'HTTP_STATUS', 'ok', 'SIGNATURE_INVALID', 'ok']);
    const secrets: Record<string, Uint8Array | string> = { clientScalar, serverScalar, serverSide: SERVER_SIDE, signingKeyPem: key.pem.replace(/-----[^-]+-----|\s/g, '').slice(40, 100) };
    for (const [i, body] of issuances.entries()) {
      const f = JSON.parse(body) as { appId: string; salt: string; serverKey: string };
      const z = await ecdhDerive(await ecdhFromScalar(clientScalar), fromBase64Url(f.serverKey));
      const { reqKey, resKey } = await deriveSessionKeys(z, fromBase64Url(f.salt), f.appId);
      Object.assign(secrets, { [`z#${i}`]: z, [`reqKey#${i}`]: reqKey, [`resKey#${i}`]: resKey });
    }
    // Every issuance the gateway made went through the spy (the one the wrong-pinned client refuses too), so no session's keys go unscanned.
    expect(issuances).toHaveLength(gateway.stats().issuances);
    expect(issuances).toHaveLength(4);
    expect(out.lines.length).toBeGreaterThan(60);
    expect(findSecretsDeep(out.lines, secrets)).toEqual([]);
  });

  it('the scan finds a planted secret in every form it searches (raw, hex, base64, base64url, decimal byte lists, a 16-character window)', async () => {
    const s = 'pUbLiC-sEcReT-16';
    const bytes = new TextEncoder().encode(s);
    const b64 = Buffer.from(bytes).toString('base64');
    expect(findSecrets([`x ${s} y`], { s })).not.toEqual([]);
    expect(findSecrets([Buffer.from(bytes).toString('hex').toUpperCase()], { s })).not.toEqual([]);
    expect(findSecrets([b64.replace(/=+$/, '')], { s })).not.toEqual([]);
    expect(findSecrets([Buffer.from(new Uint8Array([251, 255, 190, ...bytes])).toString('base64url')], { k: new Uint8Array([251, 255, 190, ...bytes]) })).not.toEqual([]);
    expect(findSecrets(['nothing here'], { s })).toEqual([]);
    const key = new Uint8Array(32).map((_, i) => i * 7 + 3);
    const hex = Buffer.from(key).toString('hex');
    expect(findSecretsDeep([`truncated: ${hex.slice(8, 30)}`], { key })).not.toEqual([]);
    const derived = await withDerivedKeys({ s }, 'md5');
    expect(findSecretsDeep([Buffer.from(derived[`s (AES key under md5)`] as Uint8Array).toString('base64')], derived)).not.toEqual([]);
    // Key bytes held in an error's details (as bytes, not text): what out.error collects shows them.
    const planted = new RpcError('GATEWAY', 'x', { details: { k: key as any } });
    const viaError = new OutputCollector();
    viaError.error(planted);
    expect(findSecrets(viaError.lines, { key })).not.toEqual([]);
    // ...and so does the Node inspector's view of it ('Uint8Array(32) [ 3, 10, …' over several padded lines).
    const viaInspector = new OutputCollector();
    collectInspected(viaInspector, planted);
    expect(viaInspector.lines.join('\n')).toContain('Uint8Array(32)');
    expect(findSecrets(viaInspector.lines, { key })).not.toEqual([]);
    // Decimal lists as JSON ('3,10,…') and as a one-line print ('3, 10, …').
    expect(findSecrets([JSON.stringify({ k: [...key] })], { key })).not.toEqual([]);
    expect(findSecrets([`k: ${[...key].join(', ')}`], { key })).not.toEqual([]);
    expect(findSecrets([JSON.stringify(Buffer.from(key))], { key })).not.toEqual([]);
    // An event payload with bytes in it (safeStringify writes them as hex, never as a bare length).
    expect(findSecrets([safeStringify({ payload: { key } })], { key })).not.toEqual([]);
    expect(findSecrets([safeStringify({ payload: { other: new Uint8Array(32) } })], { key })).toEqual([]);
  });
});
