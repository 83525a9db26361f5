/** The built package, as users get it: dist/ files only (npm test builds first). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, signingKey, type Running } from '../helpers/servers.js';

const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));
/** The classic scripts sealed-rpc.iife.js loads on demand (src/crypto/load-script.ts). */
const FALLBACK = 'sealed-rpc.fallback.iife.js';
const UNZIP = 'sealed-rpc.unzip.iife.js';

/** A global object for running the IIFE bundles in node:vm: no document, no window. */
function iifeSandbox(extra: Record<string, unknown> = {}): Record<string, any> {
  const sandbox: Record<string, unknown> = { crypto, TextEncoder, TextDecoder, EventTarget, CustomEvent, AbortController, AbortSignal, URL, URLSearchParams, DOMException, setTimeout, clearTimeout, ...extra };
  sandbox.globalThis = sandbox;
  sandbox.self = sandbox;
  return sandbox;
}
/** Servers the current test started: each test's own are stopped when it ends. */
const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

/** The built gateway with /echo on 127.0.0.1, and the serverKeys its clients pin. */
async function echoGateway(): Promise<{ serverKeys: Record<string, JsonWebKey>; srv: Running }> {
  const server = await import(/* @vite-ignore */ dist('server.js'));
  const key = await signingKey();
  const gw = server.createGateway({ profile: server.modern({ signingKeys: { k1: key.pem } }) }).operation('/echo', (p: unknown) => p);
  const srv = await listen(server.toNodeHandler(gw));
  running.push(srv);
  return { serverKeys: { k1: key.jwk }, srv };
}

describe('built dist/ files', () => {
  it('npm run build emitted ESM, IIFE and .d.ts for both entry points', () => {
    for (const f of ['sealed-rpc.js', 'sealed-rpc.iife.js', FALLBACK, UNZIP, 'server.js', 'types/index.d.ts', 'types/server/index.d.ts']) expect(existsSync(dist(f)), f).toBe(true);
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

  it('the IIFE bundle defines the global SealedRpc with the public API (and setAssetBase, preloadAssets)', async () => {
    const sandbox = iifeSandbox();
    runInNewContext(readFileSync(dist('sealed-rpc.iife.js'), 'utf8'), sandbox);
    const g = sandbox.SealedRpc as Record<string, unknown>;
    for (const name of ['createClient', 'RpcError', 'modern', 'fetchTransport', 'indexedDbStore', 'memoryStore']) expect(typeof g[name], name).toBe('function');
    // Exactly the public API of the built ESM entry, plus setAssetBase and preloadAssets (the on-demand files; the ESM uses import()).
    const esm = (await import(/* @vite-ignore */ dist('sealed-rpc.js'))) as Record<string, unknown>;
    const esmKeys = Object.keys(esm).sort();
    expect(esmKeys.length).toBeGreaterThan(10);
    expect(esmKeys).not.toContain('setAssetBase');
    expect(esmKeys).not.toContain('preloadAssets');
    expect(Object.keys(g).sort()).toEqual([...esmKeys, 'preloadAssets', 'setAssetBase'].sort());
    for (const name of esmKeys) expect(typeof g[name], name).toBe(typeof esm[name]);
    expect(typeof g.setAssetBase).toBe('function');
    expect(typeof g.preloadAssets).toBe('function');
  });

  it('the up-front IIFE does not contain what its on-demand files hold (P-256, the GHASH of GCM, the unzip of fflate)', () => {
    const iife = readFileSync(dist('sealed-rpc.iife.js'), 'utf8');
    const fallback = readFileSync(dist(FALLBACK), 'utf8');
    const unzip = readFileSync(dist(UNZIP), 'utf8');
    // Strings the libraries carry in their code (error messages, constants), so a leak shows.
    for (const [marker, file] of [
      ['ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', fallback], // the P-256 prime
      ['ghash: invalid window size', fallback], // GCM's GHASH
      ['invalid zip data', unzip],
    ] as const) {
      expect(file, marker).toContain(marker);
      expect(iife, marker).not.toContain(marker);
    }
    expect(iife).toContain(FALLBACK);
    expect(iife).toContain(UNZIP);
    // A classic script with import() or import.meta in it is rewritten as a module by Vite's dev server, which breaks it.
    for (const f of [iife, fallback, unzip]) expect(f).not.toMatch(/\bimport\s*\(|\bimport\.meta\b/);
  });

  it('the IIFE without document or crypto.subtle: RpcError CRYPTO_UNAVAILABLE naming the fallback file; once that file has run, the same client calls', async () => {
    const { serverKeys, srv } = await echoGateway();
    const sandbox = iifeSandbox({ crypto: { getRandomValues: (a: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(a) }, fetch, Headers, Request, Response });
    runInNewContext(readFileSync(dist('sealed-rpc.iife.js'), 'utf8'), sandbox);
    const S = sandbox.SealedRpc;
    const c = S.createClient({ profile: S.modern({ serverKeys }), transport: S.fetchTransport({ baseUrl: srv.url }), store: S.memoryStore() });
    const err = await c.call('/echo', { a: '1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S.RpcError);
    expect(err.code).toBe('CRYPTO_UNAVAILABLE');
    expect(err.details).toEqual({ file: FALLBACK });
    expect(err.message).toContain(FALLBACK);
    expect(err.message).toContain('no document');
    expect(err.hint).toContain(`Run ${FALLBACK} in this context`);
    // A page (or a worker) may load the file itself: then nothing is fetched, and calls work.
    runInNewContext(readFileSync(dist(FALLBACK), 'utf8'), sandbox);
    expect(await c.call('/echo', { hello: '世界' })).toEqual({ hello: '世界' });
  });

  it('the IIFE in a classic worker (importScripts, no document): the fallback comes from importScripts, next to the worker script, once', async () => {
    const { serverKeys, srv } = await echoGateway();
    const imported: string[] = [];
    const sandbox = iifeSandbox({
      crypto: { getRandomValues: (a: Uint8Array<ArrayBuffer>) => crypto.getRandomValues(a) },
      fetch, Headers, Request, Response,
      location: { href: pathToFileURL(dist('worker.js')).href },
      importScripts: (...urls: string[]) => {
        for (const url of urls) {
          imported.push(url);
          runInNewContext(readFileSync(fileURLToPath(url), 'utf8'), sandbox);
        }
      },
    });
    runInNewContext(readFileSync(dist('sealed-rpc.iife.js'), 'utf8'), sandbox);
    const S = sandbox.SealedRpc;
    const c = S.createClient({ profile: S.modern({ serverKeys }), transport: S.fetchTransport({ baseUrl: srv.url }), store: S.memoryStore() });
    expect(await Promise.all([c.call('/echo', { n: '1' }), c.call('/echo', { n: '2' })])).toEqual([{ n: '1' }, { n: '2' }]);
    expect(imported).toEqual([pathToFileURL(dist(FALLBACK)).href]);
  });
});
