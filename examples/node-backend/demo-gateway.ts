/**
 * The demo gateway the playground and the examples talk to: one gateway per dialect,
 * each with the same few operations. Keys and secrets are made fresh at start (demo only:
 * a real gateway loads its signing key / app secrets from a secret store, and a real app
 * ships the gateway's public key, or its own static secret, with the app).
 *
 * Adding a dialect is one entry in DEMO_DIALECTS (and one in the playground's table,
 * examples/playground/dialects.ts).
 */
import { appSecret, createGateway, generateSigningKeyPair, mgs, modern, OperationError, sortedSign, type Gateway, type GatewayProfile } from '../../src/server/index.js';

export interface DemoGateways {
  /** Gateways by dialect name, mounted at `/gw/<dialect>`. */
  gateways: Record<string, Gateway>;
  /** What a client needs to talk to each, by dialect: the options of its client profile. */
  clientConfig: Record<string, unknown>;
}

export interface DemoDialect {
  /** Mounted at `/gw/<name>`; the playground's picker uses the same name. */
  name: string;
  /** The gateway half, and the options the client half of this dialect needs. */
  create(): Promise<{ profile: GatewayProfile; clientConfig: Record<string, unknown> }>;
}

/** The operations every demo gateway runs (operationType -> handler). */
export function demoOperations(gw: Gateway): Gateway {
  return gw
    .operation('/echo', (params) => params)
    .operation('/sum', (p: { a?: unknown; b?: unknown }) => ({ sum: String(Number(p.a) + Number(p.b)) }))
    .operation('/user/get', (p: { id?: unknown }) => ({ id: String(p.id ?? '1'), name: '张三', tier: 'gold' }))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
}

/** A fresh ECDSA P-256 key: PKCS#8 PEM for the gateway, the public JWK for clients to pin. */
export async function demoSigningKey(): Promise<{ pem: string; jwk: JsonWebKey }> {
  const { privateKeyPem, publicJwk } = await generateSigningKeyPair();
  return { pem: privateKeyPem, jwk: publicJwk };
}

/** `n` random hex characters (demo secrets). */
function randomHex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2))), (b) => b.toString(16).padStart(2, '0'))
    .join('')
    .slice(0, n);
}

/** One entry per dialect. */
export const DEMO_DIALECTS: DemoDialect[] = [
  {
    name: 'modern',
    async create() {
      const key = await demoSigningKey();
      return { profile: modern({ signingKeys: { demo: key.pem } }), clientConfig: { serverKeys: { demo: key.jwk } } };
    },
  },
  {
    name: 'app-secret',
    async create() {
      // The app embeds publicSecret (32 characters: an AES-256 key under keyFrom utf8); appId/appSecret are issued.
      const publicSecret = randomHex(32);
      return { profile: appSecret({ publicSecret }), clientConfig: { publicSecret } };
    },
  },
  {
    name: 'sorted-sign',
    async create() {
      // A static app number and 16-character app key, as the service console hands them out.
      const app = { appId: '10001', appKey: randomHex(16) };
      return { profile: sortedSign({ apps: { [app.appId]: app.appKey } }), clientConfig: app };
    },
  },
  {
    name: 'mgs',
    async create() {
      // The signing secret sits with the native container in a real app; in a plain page it is visible.
      const app = { appId: 'DEMO' + randomHex(8).toUpperCase(), workspaceId: 'default', secret: randomHex(32) };
      return { profile: mgs({ apps: { [app.appId]: { secret: app.secret, workspaceId: app.workspaceId } } }), clientConfig: app };
    },
  },
];

export async function createDemoGateways(dialects: DemoDialect[] = DEMO_DIALECTS): Promise<DemoGateways> {
  const gateways: Record<string, Gateway> = {};
  const clientConfig: Record<string, unknown> = {};
  for (const d of dialects) {
    const { profile, clientConfig: config } = await d.create();
    gateways[d.name] = demoOperations(createGateway({ profile }));
    clientConfig[d.name] = config;
  }
  return { gateways, clientConfig };
}
