/**
 * A gateway in its own process for the throughput run: `node gateway-child.mjs <dialect>`.
 * Tells the parent its port and the client options over IPC, and answers `cpu` with its
 * CPU time, so the parent can report gateway CPU per request apart from the load generator's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '../../src/server/node.ts';
import { createGateway, textAnswer, wireProfile } from '../../src/server/gateway.ts';
import { useNodeCrypto } from '../../src/crypto/node.ts';
import { dialectSetup, echoGateway } from './fixtures.ts';
import type { DialectName } from './core.ts';

// Lift the per-credential and storage bounds the defaults set for one client: the load
// generator sends far more than one real client does (documented in the README).
const OVERRIDES: Partial<Record<DialectName, Record<string, unknown>>> = {
  modern: { callsPerMinute: 1e9, maxStoredBytes: 1 << 30, maxRequestIds: 10_000_000, maxNonces: 10_000_000, issuesPerMinute: 1e6 },
};

/**
 * Floors for the table: node:http echoing the body; the same echo through toNodeHandler with a
 * plain (Request) => Response handler (web Request/Response made for each call); and through
 * toNodeHandler(createGateway(...)) with a profile on the gateway's wire-level path, as the
 * built-in dialects are served (no web objects; the gateway's in-flight bound and error handling).
 */
const FLOORS: Record<string, Parameters<typeof createServer>[1]> = {
  'http-echo': (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(Buffer.concat(chunks));
    });
  },
  'adapter-echo': toNodeHandler(async (request: Request) => new Response(await request.text(), { headers: { 'content-type': 'text/plain' } })),
  'gateway-echo': toNodeHandler(createGateway({ profile: wireProfile({ name: 'echo' }, async (request) => textAnswer(200, await request.text(), { 'content-type': 'text/plain' })) })),
};

async function main() {
  const dialect = process.argv[2];
  // BENCH_NODE_CRYPTO=1: the SDK's primitives on node:crypto, as a gateway gets with useNodeCrypto() from sealed-rpc/server.
  if (process.env.BENCH_NODE_CRYPTO) useNodeCrypto();
  if (FLOORS[dialect]) {
    const server = createServer({ keepAliveTimeout: 60_000 }, FLOORS[dialect]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    process.on('message', (m: any) => {
      if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
      if (m === 'exit') server.close(() => process.exit(0));
    });
    process.send!({ port: (server.address() as AddressInfo).port, clientOptions: {} });
    return;
  }
  const setup = await dialectSetup(dialect as DialectName, OVERRIDES[dialect as DialectName] ?? {});
  if (!setup) throw new Error('unknown dialect ' + dialect);
  const gateway = echoGateway(setup.gatewayProfile);
  const handler = toNodeHandler(gateway);
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.on('message', (m: any) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage(), stats: gateway.stats() });
    if (m === 'exit') server.close(() => process.exit(0));
  });
  process.send!({ port: (server.address() as AddressInfo).port, clientOptions: setup.clientOptions });
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
