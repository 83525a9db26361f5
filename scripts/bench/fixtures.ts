/**
 * Node only. Builds the canned exchanges every bench run (Node and Chromium) replays:
 * for each dialect and size, the request the SDK client half seals under a fixed clock and
 * a fixed pool of "random" bytes, and the sealed answer the real gateway half
 * (src/server/*) gives to it. Credentials are issued by that gateway, in process.
 * Everything here is JSON, so the page gets exactly the same fixtures.
 */
import { createECDH, hkdfSync, randomBytes as nodeRandom } from 'node:crypto';
import { createGateway, type Gateway, type GatewayProfile } from '../../src/server/gateway.ts';
import { modern as modernGateway } from '../../src/server/modern.ts';
import { appSecret as appSecretGateway } from '../../src/server/app-secret.ts';
import { sortedSign as sortedSignGateway } from '../../src/server/sorted-sign.ts';
import { mgs as mgsGateway } from '../../src/server/mgs.ts';
import { ecdhFromScalar, generateSigningKeyPair } from '../../src/crypto/ec.ts';
import { BENCH_DIALECTS, credFor, makeClientProfile, poolRandom, type DialectFixture, type DialectName, type Fixtures, type WireRequestLike, type WireResponseLike } from './core.ts';


export function toRequest(wire: WireRequestLike, base = 'http://127.0.0.1'): Request {
  return new Request(base + wire.path, { method: wire.method, headers: wire.headers, ...(wire.body !== undefined ? { body: wire.body } : {}) });
}

export async function toWire(res: Response): Promise<WireResponseLike> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
  return { status: res.status, headers, body: await res.text() };
}

/** `n` bytes of params as 8 string fields (legacy dialects carry strings; app-secret encrypts each). */
export function paramsOfSize(n: number, seed: number): Record<string, string> {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let x = seed >>> 0 || 1;
  const fields = 8;
  const each = Math.max(1, Math.floor((n - fields * 8) / fields)); // ~8 bytes of JSON per field: "f0":"",
  const out: Record<string, string> = {};
  for (let f = 0; f < fields; f++) {
    let s = '';
    for (let i = 0; i < each; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += alpha[(x >>> 0) % 62];
    }
    out['f' + f] = s;
  }
  return out;
}

export async function signingKey(): Promise<{ pem: string; jwk: JsonWebKey }> {
  const { privateKeyPem, publicJwk } = await generateSigningKeyPair();
  return { pem: privateKeyPem, jwk: publicJwk };
}

/** Gateway + client options for one dialect, with fixed bench secrets. Shared with the throughput bench. */
export async function dialectSetup(dialect: DialectName, gatewayOverrides: Record<string, unknown> = {}): Promise<{ gatewayProfile: GatewayProfile; clientOptions: Record<string, unknown> } | undefined> {
  switch (dialect) {
    case 'modern': {
      const key = await signingKey();
      return { gatewayProfile: modernGateway({ signingKeys: { k1: key.pem }, ...gatewayOverrides }), clientOptions: { serverKeys: { k1: key.jwk } } };
    }
    case 'app-secret': {
      const publicSecret = 'bench-public-16b';
      return { gatewayProfile: appSecretGateway({ publicSecret, ...gatewayOverrides }), clientOptions: { publicSecret } };
    }
    case 'sorted-sign': {
      const appId = '10001';
      const appKey = 'bench-appkey-16b';
      return { gatewayProfile: sortedSignGateway({ apps: { [appId]: appKey }, ...gatewayOverrides }), clientOptions: { appId, appKey } };
    }
    case 'mgs': {
      const app = { appId: 'BENCH0001', workspaceId: 'default', secret: 'bench-mgs-secret-0123456789abcdef' };
      return { gatewayProfile: mgsGateway({ apps: { [app.appId]: { secret: app.secret, workspaceId: app.workspaceId } }, ...gatewayOverrides }), clientOptions: { ...app, did: 'bench-device-0001' } };
    }
  }
}

export function echoGateway(profile: GatewayProfile, extra: Record<string, unknown> = {}): Gateway {
  // app-secret adds `accessFrom` to every call's params; the echo leaves it out so every dialect answers the same data.
  return createGateway({ profile, ...extra }).operation('/echo', (params) => {
    if (params && typeof params === 'object' && 'accessFrom' in params) {
      const { accessFrom: _a, ...rest } = params as Record<string, unknown>;
      return rest;
    }
    return params;
  });
}

export async function buildFixtures(sizes: number[], dialects: readonly DialectName[] = BENCH_DIALECTS): Promise<Fixtures> {
  const out: DialectFixture[] = [];
  const skipped: string[] = [];
  for (const dialect of dialects) {
    const setup = await dialectSetup(dialect, dialect === 'sorted-sign' ? { windowMs: 3_600_000 } : {});
    if (!setup) {
      skipped.push(dialect);
      continue;
    }
    const gateway = echoGateway(setup.gatewayProfile);
    const handle = async (wire: WireRequestLike) => toWire(await gateway.handle(toRequest(wire)));
    const now = Date.now();
    const fx: DialectFixture = { dialect, clientOptions: setup.clientOptions, now, sizes: [] };
    // Issued dialects: one credential, issued by the gateway half.
    if (dialect === 'modern') {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      // Node strips leading zero bytes from the private key (1 run in 256 got 31 bytes): left-padded to 32.
      const raw = ecdh.getPrivateKey();
      const scalar = new Uint8Array(32);
      scalar.set(raw, 32 - raw.length);
      let issued: Record<string, string> = {};
      const profile = makeClientProfile(dialect, { ...setup.clientOptions, ephemeral: () => ecdhFromScalar(scalar) });
      const ctx = {
        now: () => Date.now(),
        random: (n: number) => new Uint8Array(nodeRandom(n)),
        parseJson: JSON.parse,
        send: async (wire: WireRequestLike) => {
          const res = await handle(wire);
          issued = JSON.parse(res.body);
          return res;
        },
      };
      const value = (await profile.issue!(ctx as any)).value as { appId: string; expiresAt: number };
      // The same keys, derived independently with node:crypto (the page and the references need raw bytes).
      const z = ecdh.computeSecret(Buffer.from(issued.serverKey, 'base64url'));
      const salt = Buffer.from(issued.salt, 'base64url');
      const key = (label: string) => Buffer.from(hkdfSync('sha256', z, salt, Buffer.from(`sealed-rpc/v1 ${label} ${value.appId}`), 32)).toString('hex');
      fx.cred = { appId: value.appId, expiresAt: value.expiresAt, reqKey: key('req'), resKey: key('res') };
    } else if (dialect === 'app-secret') {
      const profile = makeClientProfile(dialect, setup.clientOptions);
      const ctx = { now: () => Date.now(), random: (n: number) => new Uint8Array(nodeRandom(n)), parseJson: JSON.parse, send: handle };
      fx.cred = (await profile.issue!(ctx as any)).value as Record<string, unknown>;
    }
    const profile = makeClientProfile(dialect, setup.clientOptions);
    for (const size of sizes) {
      const pool = new Uint8Array(nodeRandom(256));
      const params = paramsOfSize(size, size + 7);
      const op = '/echo';
      const rnd = poolRandom(pool);
      const cred = await credFor(fx, false);
      const ctx = { now: () => now, random: rnd.random, parseJson: JSON.parse, send: () => Promise.reject(new Error('no network in fixtures')) };
      rnd.reset();
      const sealed = await profile.seal({ operationType: op, params, options: {}, memo: {} }, cred as any, ctx as any);
      const response = await handle(sealed.wire as WireRequestLike);
      const data = await profile.open(response as any, sealed, cred as any, ctx as any);
      if (JSON.stringify(data) !== JSON.stringify(params)) throw new Error(`${dialect} ${size}: the gateway's echo did not open to the params (status ${response.status}: ${response.body.slice(0, 200)})`);
      fx.sizes.push({ size, op, params, pool: Buffer.from(pool).toString('hex'), wire: sealed.wire as WireRequestLike, response });
    }
    out.push(fx);
  }
  return { fixtures: out, skipped };
}
