/** Real servers on 127.0.0.1 for tests: every test that starts one closes it. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RpcError } from '../../src/errors.js';
import { createGateway, generateSigningKeyPair, modern, OperationError, toNodeHandler, type Gateway } from '../../src/server/index.js';
import type { ModernGatewayOptions } from '../../src/server/modern.js';

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function listen(handler: Parameters<typeof createServer>[1]): Promise<Running> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function serveGateway(gateway: Gateway): Promise<Running> {
  return listen(toNodeHandler(gateway));
}

/** A fresh P-256 signing key: the PKCS#8 PEM for the gateway and the JWK for the client. */
export async function signingKey(): Promise<{ pem: string; jwk: JsonWebKey }> {
  const { privateKeyPem, publicJwk } = await generateSigningKeyPair();
  return { pem: privateKeyPem, jwk: publicJwk };
}

/** A modern gateway with the demo operations, and the serverKeys a client pins. */
export async function modernGateway(options: Partial<ModernGatewayOptions> & { now?: () => number } = {}) {
  const key = await signingKey();
  const { now, ...profileOptions } = options;
  const gateway = createGateway({ profile: modern({ signingKeys: { k1: key.pem }, ...profileOptions }), ...(now ? { now } : {}) })
    .operation('/echo', (params) => params)
    .operation('/sum', (p: { a: string; b: string }) => ({ sum: String(Number(p.a) + Number(p.b)) }))
    .operation('/fail', () => {
      throw new OperationError('E_DEMO', 'demo failure');
    });
  return { gateway, serverKeys: { k1: key.jwk }, pem: key.pem };
}

/** The RpcError a promise rejects with (fails the test if it resolves or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(e)}`);
    return e;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** A promise and the function that resolves it, for tests that hold a step until they release it. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
