/**
 * The page lifecycle in real Chromium: a page that used the SDK is put in the back/forward
 * cache and restored, frozen mid-call and resumed, taken offline and back, and closed in the
 * middle of an issuance while another tab waits for the cross-tab lock.
 *
 * Playwright launches Chromium with --disable-back-forward-cache (CDP then reports
 * BackForwardCacheDisabledByCommandLine): this file launches it without that switch, which is
 * all headless Chromium needs here. Its pages are served without Cache-Control: no-store
 * (repoFiles' pages carry it, and Chromium keeps such a page out of the cache:
 * MainResourceHasCacheControlNoStore). The truth is Chromium's own: `pageshow`'s
 * `event.persisted`, and CDP's Page.backForwardCacheNotUsed with its reasons.
 *
 * One node:http server on 127.0.0.1: the demo gateways, dist/, and two pages of its own; it
 * can hold chosen requests (an issuance, a call) until the test releases them.
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright';
import { chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoMiddleware } from '../../examples/node-backend/mount.js';
import { DEMO_DIALECTS, type DemoGateways } from '../../examples/node-backend/demo-gateway.js';
import { appSecret as appSecretGateway } from '../../src/server/index.js';
import { listen, type Running } from '../helpers/servers.js';
import { CHROMIUM, repoFiles } from './browser-static.js';

const DIALECTS = ['modern', 'app-secret', 'sorted-sign', 'mgs'] as const;
/** A 24-character secret is an AES-192 key, which Chromium's WebCrypto refuses: its AES-GCM runs on sealed-rpc.fallback.iife.js. */
const AES192 = { publicSecret: 'abcdefghijklmnopqrstuvwx', cipher: 'AES-GCM' as const };

/** Every demo dialect's client (default store: IndexedDB), plus `app-secret-aes`, which needs the fallback file. */
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>lifecycle</title>
<script src="/dist/sealed-rpc.iife.js"></script>
<script>
  window.shows = [];
  addEventListener('pageshow', (e) => window.shows.push(e.persisted));
  window.ready = fetch('/gw/config').then((r) => r.json()).then((config) => {
    const S = SealedRpc;
    const t = (d) => S.fetchTransport({ baseUrl: '/gw/' + d });
    window.clients = {
      modern: S.createClient({ profile: S.modern({ serverKeys: config.modern.serverKeys }), transport: t('modern') }),
      'app-secret': S.createClient({ profile: S.appSecret({ publicSecret: config['app-secret'].publicSecret }), transport: t('app-secret') }),
      'sorted-sign': S.createClient({ profile: S.sortedSign(config['sorted-sign']), transport: t('sorted-sign') }),
      mgs: S.createClient({ profile: S.mgs(config.mgs), transport: t('mgs') }),
      'app-secret-aes': S.createClient({ profile: S.appSecret(config['app-secret-aes']), transport: t('app-secret-aes') }),
    };
    return true;
  });
</script><body>lifecycle</body>`;

let demo: DemoGateways;
let server: Running | undefined;
let browser: Browser | undefined;
/** Every request the server saw, as "METHOD /path". */
const seen: string[] = [];
/** Requests for which this returns true are held (once each) until releaseHeld(). */
let holdIf: ((url: string) => boolean) | undefined;
let held: (() => void)[] = [];
const releaseHeld = () => {
  holdIf = undefined;
  const h = held;
  held = [];
  h.forEach((go) => go());
};

beforeAll(async () => {
  const mounted = await demoMiddleware([
    ...DEMO_DIALECTS,
    { name: 'app-secret-aes', create: async () => ({ profile: appSecretGateway(AES192), clientConfig: AES192 }) },
  ]);
  demo = mounted.demo;
  const files = repoFiles(['/dist/']);
  server = await listen((req, res) => {
    const url = req.url ?? '';
    seen.push(`${req.method} ${url.split('?')[0]}`);
    if (url === '/lc/page.html' || url === '/lc/other.html') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return res.end(url === '/lc/page.html' ? PAGE : '<!doctype html><link rel="icon" href="data:,"><title>other</title><body>other</body>');
    }
    const go = () => mounted.middleware(req, res, () => files(req, res));
    // A held request whose page gave up on it (closed, aborted) never reaches the gateway.
    if (holdIf?.(url)) held.push(() => (req.socket.destroyed ? res.destroy() : go()));
    else go();
  });
  try {
    browser = await chromium.launch({ ...CHROMIUM, ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  } catch (e) {
    await server.close();
    throw e;
  }
}, 60_000);

afterAll(async () => {
  releaseHeld();
  try {
    await browser?.close();
  } finally {
    await server?.close();
  }
});

const issuances = (d: string) => demo.gateways[d].stats().issuances;
/** Holds the first request (only) whose path starts with one of `prefixes`. */
function holdFirst(...prefixes: string[]): void {
  const left = new Set(prefixes);
  holdIf = (url) => {
    const p = [...left].find((x) => url.startsWith(x));
    if (p === undefined) return false;
    left.delete(p);
    return true;
  };
}
async function untilHeld(n: number): Promise<void> {
  for (let i = 0; i < 100 && held.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  expect(held.length).toBe(n);
}

/** A context; `leaseOnly` hides Web Locks, so the SDK takes its localStorage lease (older Safari, some web views). */
async function newContext(leaseOnly = false): Promise<BrowserContext> {
  const context = await browser!.newContext();
  if (leaseOnly) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true }));
  return context;
}
async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server!.url}/lc/page.html`, { timeout: 15_000 });
  expect(await page.evaluate(() => (window as unknown as { ready: Promise<boolean> }).ready)).toBe(true);
  return page;
}

type Outcome = { ok: unknown } | { code: string; hint: string; retryable: boolean; message: string };
/** One call through the page's client of dialect `d`, as its outcome (never throws). */
function call(page: Page, d: string, tag: string, timeoutMs = 10_000): Promise<Outcome> {
  return page.evaluate(
    ([d, tag, timeoutMs]) =>
      (window as any).clients[d].call('/echo', { tag }, { timeoutMs }).then(
        (ok: unknown) => ({ ok }),
        (e: any) => ({ code: e.code, hint: e.hint, retryable: e.retryable, message: e.message }),
      ),
    [d, tag, timeoutMs] as const,
  );
}
const echoed = (d: string, tag: string) => ({ ok: d.startsWith('app-secret') ? { tag, accessFrom: 'h5' } : { tag } });

/** Web Locks held or pending in this origin (the lease fallback: its localStorage keys). */
function locksInUse(page: Page): Promise<number> {
  return page.evaluate(async () => {
    if (!navigator.locks) return Object.keys(localStorage).filter((k) => k.startsWith('sealed-rpc-lock:')).length;
    const q = await navigator.locks.query();
    return (q.held?.length ?? 0) + (q.pending?.length ?? 0);
  });
}
/** How many records the SDK's IndexedDB store holds. */
function storedRecords(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('sealed-rpc');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('credentials')) return db.close(), resolve(0);
          const req = db.transaction('credentials').objectStore('credentials').count();
          req.onsuccess = () => (db.close(), resolve(req.result));
          req.onerror = () => (db.close(), reject(req.error));
        };
      }),
  );
}

/** Away to another page and back: `pageshow`'s persisted on the return, and CDP's reasons when it was not restored. */
async function awayAndBack(page: Page, cdp: CDPSession): Promise<{ persisted: boolean; reasons: string[] }> {
  const reasons: string[] = [];
  const onNotUsed = (e: { notRestoredExplanations: { reason: string }[] }) => reasons.push(...e.notRestoredExplanations.map((x) => x.reason));
  cdp.on('Page.backForwardCacheNotUsed', onNotUsed);
  try {
    const shows = await page.evaluate(() => (window as unknown as { shows: boolean[] }).shows.length);
    await page.goto(`${server!.url}/lc/other.html`, { timeout: 15_000 });
    await page.goBack({ waitUntil: 'commit', timeout: 15_000 });
    // A restored page keeps its `shows` and gets one more; a reloaded one starts a new list.
    await page.waitForFunction((n) => (window as any).shows?.length > n || (window as any).shows?.length === 1, shows, { timeout: 15_000 });
    const after = await page.evaluate(() => (window as unknown as { shows: boolean[] }).shows);
    await page.evaluate(() => (window as any).ready);
    return { persisted: after[after.length - 1], reasons };
  } finally {
    cdp.off('Page.backForwardCacheNotUsed', onNotUsed);
  }
}

describe('the page lifecycle in real Chromium', () => {
  it('after calls in every dialect (IndexedDB store, the cross-tab lock, the fallback and unzip files loaded) the page is restored from the back/forward cache, with Web Locks and with the localStorage lease, and its next calls work with no second issuance', async () => {
    for (const leaseOnly of [false, true]) {
      const context = await newContext(leaseOnly);
      try {
        const page = await openPage(context);
        const cdp = await context.newCDPSession(page);
        await cdp.send('Page.enable');
        const issued = { modern: issuances('modern'), 'app-secret': issuances('app-secret'), 'app-secret-aes': issuances('app-secret-aes') };
        for (const d of [...DIALECTS, 'app-secret-aes']) expect(await call(page, d, 'before')).toEqual(echoed(d, 'before'));
        await page.evaluate(() => (window as any).SealedRpc.preloadAssets('unzip'));
        expect(await page.evaluate(() => typeof (globalThis as any).__sealedRpcFallback + typeof (globalThis as any).__sealedRpcUnzip)).toBe('objectobject');
        expect(await locksInUse(page)).toBe(0);

        const round = await awayAndBack(page, cdp);
        expect(round).toEqual({ persisted: true, reasons: [] });

        for (const d of [...DIALECTS, 'app-secret-aes']) expect(await call(page, d, 'restored')).toEqual(echoed(d, 'restored'));
        for (const [d, n] of Object.entries(issued)) expect(issuances(d), d).toBe(n + 1);
        expect(await locksInUse(page)).toBe(0);
      } finally {
        await context.close();
      }
    }
  }, 60_000);

  it('calls frozen in flight (CDP Page.setWebLifecycleState) past their timeoutMs end once resumed, every dialect as TIMEOUT while its answer is still held; the issuance then completes, no lock is left, and the next calls work with one issuance each', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context);
      const cdp = await context.newCDPSession(page);
      const issued = { modern: issuances('modern'), 'app-secret': issuances('app-secret') };
      // The issued dialects are held at their issuance, the static ones at their call.
      holdFirst('/gw/modern/issue', '/gw/app-secret/secret_key/generate.json', '/gw/sorted-sign/echo', '/gw/mgs/mgw.htm');
      await page.evaluate((ds) => {
        const w = window as any;
        w.out = {};
        for (const d of ds)
          w.clients[d].call('/echo', { tag: 'frozen' }, { timeoutMs: 1500 }).then(
            (ok: unknown) => (w.out[d] = { ok }),
            (e: any) => (w.out[d] = { code: e.code }),
          );
      }, DIALECTS);
      await untilHeld(4);
      await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
      try {
        await new Promise((r) => setTimeout(r, 2500)); // past timeoutMs, frozen
      } finally {
        await cdp.send('Page.setWebLifecycleState', { state: 'active' });
      }
      // Every call ends although none of the four answers has come.
      await page.waitForFunction((n) => Object.keys((window as any).out).length === n, DIALECTS.length, { timeout: 10_000 });
      expect(held.length).toBe(4);
      expect(await page.evaluate(() => (window as any).out)).toEqual(Object.fromEntries(DIALECTS.map((d) => [d, { code: 'TIMEOUT' }])));

      // The issuances (shared by every waiting call: their own timer) go on once answered.
      releaseHeld();
      for (const d of DIALECTS) expect(await call(page, d, 'after')).toEqual(echoed(d, 'after'));
      for (const [d, n] of Object.entries(issued)) expect(issuances(d), d).toBe(n + 1);
      expect(await locksInUse(page)).toBe(0);
    } finally {
      releaseHeld();
      await context.close();
    }
  }, 60_000);

  it('offline, every dialect fails NETWORK, retryable, with a hint; nothing reaches the gateway or IndexedDB; back online each call goes out once and the issued dialects issue once', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context);
      const issued = { modern: issuances('modern'), 'app-secret': issuances('app-secret') };
      await context.setOffline(true);
      const from = seen.length;
      for (const d of DIALECTS)
        for (const tag of ['offline 1', 'offline 2']) {
          const r = await call(page, d, tag, 5_000);
          expect(r, d).toMatchObject({ code: 'NETWORK', retryable: true, hint: expect.stringMatching(/connectivity/) });
        }
      await page.waitForTimeout(500);
      expect(seen.slice(from)).toEqual([]);
      expect(await storedRecords(page)).toBe(0);
      expect(await locksInUse(page)).toBe(0);

      await context.setOffline(false);
      const online = seen.length;
      for (const d of DIALECTS) expect(await call(page, d, 'online')).toEqual(echoed(d, 'online'));
      await page.waitForTimeout(500); // anything still retrying in the background would show here
      expect(seen.slice(online)).toEqual(['POST /gw/modern/issue', 'POST /gw/modern/echo', 'POST /gw/app-secret/secret_key/generate.json', 'POST /gw/app-secret/echo', 'GET /gw/sorted-sign/echo', 'POST /gw/mgs/mgw.htm']);
      for (const [d, n] of Object.entries(issued)) expect(issuances(d), d).toBe(n + 1);
      expect(await storedRecords(page)).toBe(2);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('offline, a call that must fetch sealed-rpc.fallback.iife.js (and the unzipper) fails retryable with a hint that says the device is offline (not to deploy the file); once online the next call fetches it and succeeds, with one issuance', async () => {
    const context = await newContext();
    try {
      const page = await openPage(context);
      const before = issuances('app-secret-aes');
      await context.setOffline(true);
      const r = await call(page, 'app-secret-aes', 'offline', 5_000);
      expect(r).toMatchObject({ code: 'CRYPTO_UNAVAILABLE', message: expect.stringContaining('sealed-rpc.fallback.iife.js') });
      const { hint, retryable } = r as { hint: string; retryable: boolean };
      expect(hint).toMatch(/offline/);
      expect(hint).not.toMatch(/Serve|setAssetBase/);
      expect(retryable).toBe(true);
      // The unzipper of offline packages, the other on-demand file: NETWORK, with the same offline hint.
      const unzip = await page.evaluate(() => (window as any).SealedRpc.preloadAssets('unzip').then(() => 'loaded', (e: any) => ({ code: e.code, hint: e.hint, retryable: e.retryable })));
      expect(unzip).toMatchObject({ code: 'NETWORK', retryable: true, hint: expect.stringMatching(/offline/) });

      await context.setOffline(false);
      const online = seen.length;
      expect(await call(page, 'app-secret-aes', 'online')).toEqual(echoed('app-secret-aes', 'online'));
      expect(seen.slice(online)).toEqual(['GET /dist/sealed-rpc.fallback.iife.js', 'POST /gw/app-secret-aes/secret_key/generate.json', 'POST /gw/app-secret-aes/echo']);
      expect(issuances('app-secret-aes')).toBe(before + 1);
    } finally {
      await context.close();
    }
  }, 60_000);

  // B's timeoutMs bounds its wait: Web Locks are released when A closes (B would otherwise wait
  // for maxWaitMs, 15 s); A's lease expires within leaseMs, 10 s, of its last renewal.
  for (const [kind, leaseOnly, timeoutMs] of [
    ['Web Locks: released at close', false, 5_000],
    ['localStorage lease: it expires', true, 14_000],
  ] as const) {
    it(`a tab closed while the gateway holds its issuance answer: the other tab's waiting call goes on, and exactly one issuance reaches the gateway (${kind})`, async () => {
      const context = await newContext(leaseOnly);
      try {
        const a = await openPage(context);
        const b = await openPage(context);
        const before = issuances('modern');
        holdFirst('/gw/modern/issue');
        // (Its evaluate rejects when A closes: that is the point.)
        a.evaluate(() => (window as any).clients.modern.call('/echo', { tag: 'a' }, { timeoutMs: 20_000 }).catch(() => {})).catch(() => {});
        await untilHeld(1);
        const waiting = call(b, 'modern', 'b', timeoutMs);
        await new Promise((r) => setTimeout(r, 500));
        // B waits for A's lock: it has not issued on its own.
        expect(issuances('modern')).toBe(before);
        await a.close();
        expect(await waiting).toEqual(echoed('modern', 'b'));
        releaseHeld(); // A's issuance: its page is gone, so it never reaches the gateway
        expect(await call(b, 'modern', 'b again')).toEqual(echoed('modern', 'b again'));
        expect(issuances('modern')).toBe(before + 1);
        expect(await locksInUse(b)).toBe(0);
      } finally {
        releaseHeld();
        await context.close();
      }
    }, 60_000);
  }
});
