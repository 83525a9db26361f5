/**
 * The demo gateway the playground and the examples talk to: one gateway per dialect,
 * each with the same few operations. Keys are made fresh at start (demo only: a real
 * gateway loads its signing key from a secret store and clients pin its public key).
 */
import { createGateway, modern, OperationError, type Gateway } from '../../src/server/index.js';

export interface DemoGateways {
  /** Gateways by dialect name, mounted at `/gw/<dialect>`. */
  gateways: Record<string, Gateway>;
  /** What a client needs to talk to each (public values only). */
  clientConfig: Record<string, unknown>;
}

function operations(gw: Gateway): Gateway {
  return gw
    .operation('/echo', (params) => params)
    .operation('/sum', (p: { a?: unknown; b?: unknown }) => ({ sum: String(Number(p.a) + Number(p.b)) }))
    .operation('/user/get', (p: { id?: unknown }) => ({ id: String(p.id ?? '1'), name: '张三', tier: 'gold' }))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
}

export async function createDemoGateways(): Promise<DemoGateways> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const pem = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...pkcs8))}\n-----END PRIVATE KEY-----\n`;
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const modernGw = operations(createGateway({ profile: modern({ signingKeys: { demo: pem } }) }));
  return {
    gateways: { modern: modernGw },
    clientConfig: { modern: { serverKeys: { demo: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } } } },
  };
}
