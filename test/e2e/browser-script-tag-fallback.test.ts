/**
 * The IIFE's on-demand files, in real Chromium: a page that loads only
 * `<script src=".../sealed-rpc.iife.js">` gets the pure-JS crypto from
 * sealed-rpc.fallback.iife.js (next to it) the first time a call needs it without
 * crypto.subtle, and never when subtle is there; offline packages get the unzipper from
 * sealed-rpc.unzip.iife.js the same way. A missing file is a typed RpcError naming it, and a
 * later call loads it again. Requests are counted by the node:http server on 127.0.0.1
 * (served with no-store, so none can come from a cache).
 */
import type { Browser, Page } from 'playwright';
import { chromium } from 'playwright';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { demoMiddleware } from '../../examples/node-backend/mount.js';
import type { DemoGateways } from '../../examples/node-backend/demo-gateway.js';
import { listen, type Running } from '../helpers/servers.js';
import { versioned } from '../helpers/iife-build.js';
import { CHROMIUM, repoFiles } from './browser-static.js';

const FALLBACK = 'sealed-rpc.fallback.iife.js';
const UNZIP = 'sealed-rpc.unzip.iife.js';
const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));

let server: Running;
let browser: Browser;
let demo: DemoGateways;
/** GET count per path, since the last beforeEach. */
const hits = new Map<string, number>();
/** Whether /lone/ (the IIFE alone, nothing next to it) also serves the on-demand files. */
let loneServesAll = false;

/** The page: the IIFE from `src`, then nothing else (the tests drive it with page.evaluate). */
const page = (src: string) => `<!doctype html><meta charset="utf-8"><title>fallback</title><script src="${src}"></script><body>ready</body>`;

beforeAll(async () => {
  for (const f of ['sealed-rpc.iife.js', FALLBACK, UNZIP]) if (!existsSync(dist(f))) throw new Error(`dist/${f} is missing: run \`npm run build\` first`);
  const mounted = await demoMiddleware();
  demo = mounted.demo;
  const files = repoFiles(['/dist/']);
  server = await listen((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const html = (body: string) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      res.end(body);
    };
    if (path === '/page/dist.html') return html(page('/dist/sealed-rpc.iife.js'));
    if (path === '/page/lone.html') return html(page('/lone/sealed-rpc.iife.js'));
    // /lone/: the IIFE without its on-demand files (404) unless loneServesAll.
    const lone = /^\/lone\/(sealed-rpc(?:\.[a-z]+)?\.iife\.js)$/.exec(path);
    if (lone && (lone[1] === 'sealed-rpc.iife.js' || loneServesAll)) {
      res.setHeader('content-type', 'text/javascript; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      return res.end(readFileSync(dist(lone[1])));
    }
    mounted.middleware(req, res, () => files(req, res));
  });
  browser = await chromium.launch(CHROMIUM);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

beforeEach(() => {
  hits.clear();
  loneServesAll = false;
});

/** A fresh page at `path`; `noSubtle` hides crypto.subtle before any script runs (as on an http: web view). */
async function open(path: string, noSubtle: boolean): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const context = await browser.newContext();
  if (noSubtle) await context.addInitScript(() => Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined, configurable: true }));
  const p = await context.newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${server.url}${path}`, { timeout: 15_000 });
  await p.waitForFunction(() => typeof (globalThis as { SealedRpc?: unknown }).SealedRpc === 'object', undefined, { timeout: 15_000 });
  return { page: p, errors, close: () => context.close() };
}

interface Outcome {
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
  hint?: string;
  details?: Record<string, unknown>;
  isRpcError?: boolean;
}

/** In the page: one `modern` call to the demo gateway (a new client and memory store each time, so it issues a credential too). */
function modernSum(p: Page, a: number): Promise<Outcome> {
  return p.evaluate(async (a) => {
    const S = (globalThis as unknown as { SealedRpc: Record<string, any> }).SealedRpc;
    const config = await (await fetch('/gw/config')).json();
    const client = S.createClient({
      profile: S.modern({ serverKeys: config.modern.serverKeys }),
      transport: S.fetchTransport({ baseUrl: '/gw/modern' }),
      store: S.memoryStore(),
    });
    try {
      return { ok: true, value: await client.call('/sum', { a: String(a), b: '2' }) };
    } catch (e: any) {
      return { ok: false, code: e?.code, message: e?.message, hint: e?.hint, details: e?.details, isRpcError: e instanceof S.RpcError };
    }
  }, a);
}

describe('sealed-rpc.iife.js loads what only some pages need from classic scripts next to it', () => {
  it('without crypto.subtle: a real modern call fetches sealed-rpc.fallback.iife.js exactly once, next to the IIFE', async () => {
    const { page: p, errors, close } = await open('/page/dist.html', true);
    try {
      expect(await p.evaluate(() => globalThis.crypto.subtle)).toBeUndefined();
      // Nothing fetched by loading the page.
      expect(hits.get(`/dist/${FALLBACK}`) ?? 0).toBe(0);
      const before = demo.gateways.modern.stats();
      // Two calls at once, then one more (each a new client: issuance, ECDH, GCM, ECDSA), all on the one fetch.
      const [a, b] = await Promise.all([modernSum(p, 1), modernSum(p, 40)]);
      expect(a).toEqual({ ok: true, value: { sum: '3' } });
      expect(b).toEqual({ ok: true, value: { sum: '42' } });
      expect(await modernSum(p, 5)).toEqual({ ok: true, value: { sum: '7' } });
      expect(demo.gateways.modern.stats().executions).toBe(before.executions + 3);
      expect(hits.get(`/dist/${FALLBACK}`)).toBe(1);
      expect(hits.get(`/dist/${UNZIP}`) ?? 0).toBe(0);
      // The injected <script> is gone again; the engines are on their global.
      expect(await p.evaluate(() => document.querySelectorAll('script').length)).toBe(1);
      expect(await p.evaluate(() => typeof (globalThis as Record<string, any>).__sealedRpcFallback?.pureEc?.p256)).toBe('object');
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('with crypto.subtle: the same call never fetches sealed-rpc.fallback.iife.js', async () => {
    const { page: p, errors, close } = await open('/page/dist.html', false);
    try {
      expect(await p.evaluate(() => typeof globalThis.crypto.subtle)).toBe('object');
      expect(await modernSum(p, 1)).toEqual({ ok: true, value: { sum: '3' } });
      expect(await modernSum(p, 2)).toEqual({ ok: true, value: { sum: '4' } });
      expect(hits.get('/dist/sealed-rpc.iife.js')).toBe(1);
      expect(hits.get(`/dist/${FALLBACK}`) ?? 0).toBe(0);
      expect(hits.get(`/dist/${UNZIP}`) ?? 0).toBe(0);
      expect(await p.evaluate(() => '__sealedRpcFallback' in globalThis)).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('a 404 for sealed-rpc.fallback.iife.js is RpcError CRYPTO_UNAVAILABLE naming the file and setAssetBase; the next call loads it', async () => {
    const { page: p, close } = await open('/page/lone.html', true);
    try {
      const failed = await modernSum(p, 1);
      expect(failed).toMatchObject({ ok: false, code: 'CRYPTO_UNAVAILABLE', isRpcError: true, details: { file: FALLBACK, url: versioned(`${server.url}/lone/${FALLBACK}`) } });
      expect(failed.message).toContain(`${FALLBACK}`);
      expect(failed.message).toContain(versioned(`${server.url}/lone/${FALLBACK}`));
      expect(failed.hint).toContain(FALLBACK);
      expect(failed.hint).toContain('SealedRpc.setAssetBase(');
      expect(hits.get(`/lone/${FALLBACK}`)).toBe(1);
      // Once more while it is still missing: tried again (not a cached failure), same error.
      expect(await modernSum(p, 1)).toMatchObject({ ok: false, code: 'CRYPTO_UNAVAILABLE' });
      expect(hits.get(`/lone/${FALLBACK}`)).toBe(2);
      // The file appears: the next call loads it, and the one after needs no fetch.
      loneServesAll = true;
      expect(await modernSum(p, 1)).toEqual({ ok: true, value: { sum: '3' } });
      expect(await modernSum(p, 2)).toEqual({ ok: true, value: { sum: '4' } });
      expect(hits.get(`/lone/${FALLBACK}`)).toBe(3);
      expect(await p.evaluate(() => document.querySelectorAll('script').length)).toBe(1);
    } finally {
      await close();
    }
  });

  it('SealedRpc.setAssetBase(url) loads the on-demand files from another folder', async () => {
    const { page: p, errors, close } = await open('/page/lone.html', true);
    try {
      // Relative to the page, resolved when set; a bad value is BAD_CONFIG.
      expect(await p.evaluate(() => { try { (globalThis as any).SealedRpc.setAssetBase(''); return 'no error'; } catch (e: any) { return e.code; } })).toBe('BAD_CONFIG');
      await p.evaluate(() => (globalThis as any).SealedRpc.setAssetBase('../dist'));
      expect(await modernSum(p, 1)).toEqual({ ok: true, value: { sum: '3' } });
      expect(hits.get(`/dist/${FALLBACK}`)).toBe(1);
      expect(hits.get(`/lone/${FALLBACK}`) ?? 0).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('SealedRpc.preloadAssets() fetches the unzipper up front (and the fallback only without crypto.subtle); verifyPackage then needs no network for code', async () => {
    const withSubtle = await open('/page/lone.html', false);
    try {
      loneServesAll = true;
      const pkg = [...new Uint8Array(await (await fetch(`${server.url}/gw/offline-package/demo.amr`)).arrayBuffer())];
      const verify = () =>
        withSubtle.page.evaluate(async (pkg) => {
          const S = (globalThis as any).SealedRpc;
          const publicKey = await (await fetch('/gw/offline-package/public-key.pem')).text();
          try {
            const r = await S.verifyPackage(new Uint8Array(pkg), { publicKey });
            return { ok: true, files: Object.keys(r.files).sort() };
          } catch (e: any) {
            return { ok: false, code: e?.code };
          }
        }, pkg);
      await withSubtle.page.evaluate(() => (globalThis as any).SealedRpc.preloadAssets());
      expect(hits.get(`/lone/${UNZIP}`)).toBe(1);
      expect(hits.get(`/lone/${FALLBACK}`) ?? 0).toBe(0);
      loneServesAll = false; // "offline" from here: the on-demand files are gone
      expect(await verify()).toEqual({ ok: true, files: ['app.css', 'index.html'] });
      expect(hits.get(`/lone/${UNZIP}`)).toBe(1);
      // A name it does not know is BAD_CONFIG naming preloadAssets.
      expect(await withSubtle.page.evaluate(() => (globalThis as any).SealedRpc.preloadAssets('zip').catch((e: any) => [e.code, e.details?.option]))).toEqual(['BAD_CONFIG', 'preloadAssets']);
      expect(withSubtle.errors).toEqual([]);
    } finally {
      await withSubtle.close();
    }
    const noSubtle = await open('/page/dist.html', true);
    try {
      await noSubtle.page.evaluate(() => (globalThis as any).SealedRpc.preloadAssets());
      expect(hits.get(`/dist/${UNZIP}`)).toBe(1);
      expect(hits.get(`/dist/${FALLBACK}`)).toBe(1);
    } finally {
      await noSubtle.close();
    }
  });

  it('loadPackage fetches sealed-rpc.unzip.iife.js once; a 404 for it is ok: false with RpcError NETWORK naming the file', async () => {
    const load = (p: Page) =>
      p.evaluate(async () => {
        const S = (globalThis as any).SealedRpc;
        const publicKey = await (await fetch('/gw/offline-package/public-key.pem')).text();
        const r = await S.loadPackage('/gw/offline-package/demo.amr', { publicKey, fallbackUrl: '/online/' });
        return r.ok ? { ok: true, files: Object.keys(r.files).sort() } : { ok: false, fallbackUrl: r.fallbackUrl, code: r.error.code, hint: r.error.hint, details: r.error.details, isRpcError: r.error instanceof S.RpcError };
      });
    const good = await open('/page/dist.html', false);
    try {
      expect(await load(good.page)).toEqual({ ok: true, files: ['app.css', 'index.html'] });
      expect(await load(good.page)).toEqual({ ok: true, files: ['app.css', 'index.html'] });
      expect(hits.get(`/dist/${UNZIP}`)).toBe(1);
      expect(hits.get(`/dist/${FALLBACK}`) ?? 0).toBe(0);
      expect(good.errors).toEqual([]);
    } finally {
      await good.close();
    }
    const bad = await open('/page/lone.html', false);
    try {
      const r = await load(bad.page);
      expect(r).toMatchObject({ ok: false, fallbackUrl: '/online/', code: 'NETWORK', isRpcError: true, details: { file: UNZIP, url: versioned(`${server.url}/lone/${UNZIP}`) } });
      expect((r as { hint: string }).hint).toContain('SealedRpc.setAssetBase(');
      loneServesAll = true;
      expect(await load(bad.page)).toEqual({ ok: true, files: ['app.css', 'index.html'] });
      expect(hits.get(`/lone/${UNZIP}`)).toBe(2);
    } finally {
      await bad.close();
    }
  });
});
