/**
 * Java back ends whose MD5 helper writes hex with `new BigInteger(1, digest).toString(16)`, which
 * drops leading zeros (a common copy-paste helper): they refuse the calls whose sign begins with
 * 0, about 1 in 16, and accept the rest. The SDK cannot make such a back end accept them, but the
 * refusal it reports must say why, since nothing else links 1 failure in 16 to the back end's hex.
 * JDK only (test/interop/java*, with a `signHex=biginteger` / `md5-biginteger` switch); these fail
 * without a JDK, never skip.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, fetchTransport, memoryStore, mgs, type Client, type RpcError, type Transport, type WireRequest } from '../../src/index.js';
import { appSecret, type AppSecretOptions } from '../../src/profiles/app-secret.js';
import { sortedSign, type SortedSignOptions } from '../../src/profiles/sorted-sign.js';
import { compileJava, javaSources, legacyServerProperties, startJavaServer, stopJava, type JavaServer } from '../helpers/java.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const APP_SECRET: AppSecretOptions = { publicSecret: 'pubSecret-16byte' };
const SORTED_SIGN: SortedSignOptions = { appId: 9, appKey: 'ZVNH8HUW5K3VQZKK' };
const MGS_APP = { appId: 'JAVA-BIGINT', workspaceId: 'default', secret: 'mgs-secret-bigint' };
/** (15/16)^400 < 1e-11: a run that never sends a sign beginning with 0 does not happen. */
const MAX_CALLS = 400;

let workDir = '';
const started: JavaServer[] = [];
let legacyBase = '';
let mgsBase = '';

beforeAll(async () => {
  workDir = compileJava('sealed-rpc-java-zeros-', javaSources(join(HERE, 'java'), join(HERE, 'java-gaps')));
  const config = join(workDir, 'zeros.properties');
  const props = legacyServerProperties({ 'as-bigint': APP_SECRET }, { 'ss-bigint': SORTED_SIGN }) + 'as-bigint.signHex=biginteger\nss-bigint.signHex=biginteger\n';
  writeFileSync(config, props, 'utf8');
  const [legacy, mgsServer] = await Promise.all([startJavaServer(workDir, 'LegacyServer', [config]), startJavaServer(workDir, 'MgsServer', [`${MGS_APP.appId}:${MGS_APP.secret}:md5-biginteger`])]);
  started.push(legacy, mgsServer);
  legacyBase = legacy.url;
  mgsBase = mgsServer.url;
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((j) => stopJava(j.proc)));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 20_000);

/** Calls until the first refusal (at most MAX_CALLS); the successes before it and the refusal. */
async function untilRefused(client: Client): Promise<{ ok: number; refused: RpcError }> {
  for (let i = 0; i < MAX_CALLS; i++) {
    try {
      await client.call('/api/echo', { n: String(i), text: '中文 ' + i });
    } catch (e) {
      return { ok: i, refused: e as RpcError };
    }
  }
  throw new Error(`no refusal in ${MAX_CALLS} calls: the back end did not drop a leading zero`);
}

const NOTE = /sign sent began with 0: a Java back end that hex-encodes with new BigInteger\(1, digest\)\.toString\(16\) drops leading zeros/;

describe('a Java back end whose hex drops leading zeros: the refusal says so', () => {
  it('app-secret: the refused call is SIGNATURE_INVALID whose hint names the dropped zero (the other calls went through)', async () => {
    const client = createClient({ profile: appSecret(APP_SECRET), transport: fetchTransport({ baseUrl: `${legacyBase}/as-bigint` }), store: memoryStore() });
    const { refused } = await untilRefused(client);
    expect(refused.code).toBe('SIGNATURE_INVALID');
    expect(refused.hint).toMatch(NOTE);
  }, 60_000);

  it('sorted-sign: the refused call is SIGNATURE_INVALID (1002) whose hint names the dropped zero', async () => {
    const client = createClient({ profile: sortedSign(SORTED_SIGN), transport: fetchTransport({ baseUrl: `${legacyBase}/ss-bigint` }), store: memoryStore() });
    const { refused } = await untilRefused(client);
    expect(refused).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 1002 });
    expect(refused.hint).toMatch(NOTE);
  }, 60_000);

  it('mgs: exactly the calls whose Sign began with 0 are refused (7002), and only their hint carries the note', async () => {
    const inner = fetchTransport({ baseUrl: mgsBase });
    const sent: WireRequest[] = [];
    const transport: Transport = { send: (req, o) => (sent.push(req), inner.send(req, o)) };
    const client = createClient({ profile: mgs(MGS_APP), transport, store: memoryStore() });
    const { ok, refused } = await untilRefused(client);
    expect(refused).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
    expect(refused.hint).toMatch(NOTE);
    expect(sent.slice(0, ok).every((r) => !r.headers.Sign.startsWith('0'))).toBe(true);
    expect(sent[ok].headers.Sign).toMatch(/^0[0-9a-f]{31}$/);
  }, 60_000);

  it('a wrong secret: every call refused (7002), and the note is on exactly those whose Sign began with 0', async () => {
    const inner = fetchTransport({ baseUrl: mgsBase });
    const sent: WireRequest[] = [];
    const transport: Transport = { send: (req, o) => (sent.push(req), inner.send(req, o)) };
    const client = createClient({ profile: mgs({ ...MGS_APP, secret: 'not-the-secret' }), transport, store: memoryStore() });
    for (let i = 0; i < 40; i++) {
      const e = (await client.call('/echo', { n: String(i) }).then(() => undefined, (x: unknown) => x)) as RpcError;
      expect(e).toMatchObject({ code: 'SIGNATURE_INVALID', gatewayCode: 7002 });
      expect(NOTE.test(e.hint)).toBe(sent[i].headers.Sign.startsWith('0'));
    }
  }, 60_000);
});
