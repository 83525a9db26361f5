/** The built package, as users get it: dist/ files only (npm test builds first). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { listen, signingKey, type Running } from '../helpers/servers.js';

const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));
const running: Running[] = [];
afterAll(async () => Promise.all(running.map((r) => r.close())));

describe('built dist/ files', () => {
  it('npm run build emitted ESM, IIFE and .d.ts for both entry points', () => {
    for (const f of ['sealed-rpc.js', 'sealed-rpc.iife.js', 'server.js', 'types/index.d.ts', 'types/server/index.d.ts']) expect(existsSync(dist(f)), f).toBe(true);
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
    expect(pkg.exports['.'].import).toBe('./dist/sealed-rpc.js');
    expect(pkg.exports['./server'].import).toBe('./dist/server.js');
    expect(existsSync(dist(pkg.exports['.'].types.replace('./dist/', '')))).toBe(true);
    expect(existsSync(dist(pkg.exports['./server'].types.replace('./dist/', '')))).toBe(true);
  });

  it('the built ESM client talks to the built server over 127.0.0.1', async () => {
    const client = await import(/* @vite-ignore */ dist('sealed-rpc.js'));
    const server = await import(/* @vite-ignore */ dist('server.js'));
    const key = await signingKey();
    const gw = server.createGateway({ profile: server.modern({ signingKeys: { k1: key.pem } }) }).operation('/echo', (p: unknown) => p);
    const srv = await listen(server.toNodeHandler(gw));
    running.push(srv);
    const c = client.createClient({ profile: client.modern({ serverKeys: { k1: key.jwk } }), transport: client.fetchTransport({ baseUrl: srv.url }), store: client.memoryStore() });
    expect(await c.call('/echo', { hello: '世界' })).toEqual({ hello: '世界' });
    const err = await c.call('/missing', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.RpcError);
    expect((err as { code: string }).code).toBe('HTTP_STATUS');
  });

  it('the IIFE bundle defines the global SealedRpc with the public API', async () => {
    const sandbox: Record<string, unknown> = { crypto, TextEncoder, TextDecoder, EventTarget, CustomEvent, AbortController, AbortSignal, URLSearchParams, DOMException, setTimeout, clearTimeout };
    sandbox.globalThis = sandbox;
    sandbox.self = sandbox;
    runInNewContext(readFileSync(dist('sealed-rpc.iife.js'), 'utf8'), sandbox);
    const g = sandbox.SealedRpc as Record<string, unknown>;
    for (const name of ['createClient', 'RpcError', 'modern', 'fetchTransport', 'indexedDbStore', 'memoryStore']) expect(typeof g[name], name).toBe('function');
    // Exactly the public API of the built ESM entry: nothing missing from the global, nothing extra on it.
    const esm = (await import(/* @vite-ignore */ dist('sealed-rpc.js'))) as Record<string, unknown>;
    const esmKeys = Object.keys(esm).sort();
    expect(esmKeys.length).toBeGreaterThan(10);
    expect(Object.keys(g).sort()).toEqual(esmKeys);
    for (const name of esmKeys) expect(typeof g[name], name).toBe(typeof esm[name]);
  });
});
