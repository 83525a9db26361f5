/**
 * Resource hygiene in real Chromium: clients a page makes and drops leave no IndexedDB
 * connection open (Chromium keeps an IDBDatabase with listeners alive for the page's life),
 * and calls leave no listener on the caller's signal and no Web Lock held or pending. The
 * page is examples/script-tag.html (the IIFE bundle), served with the demo gateways on 127.0.0.1.
 */
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../helpers/servers.js';
import { startDemoSite } from './browser-static.js';

let site: Awaited<ReturnType<typeof startDemoSite>> | undefined;
let server: Running | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  site = await startDemoSite();
  ({ server, browser } = site);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

describe('resource hygiene in real Chromium', () => {
  it('40 clients made, used once and dropped: after gc none of their IndexedDB connections is open (each stayed open: 40); the caller\'s signal keeps 0 listeners, no Web Lock is held', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server!.url}/examples/script-tag.html`, { timeout: 15_000 });
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      const listeners = await page.evaluate(async () => {
        const w = window as unknown as { SealedRpc: any; refs: WeakRef<IDBDatabase>[] };
        w.refs = [];
        const open = indexedDB.open.bind(indexedDB);
        indexedDB.open = ((name: string, version?: number) => {
          const req = version === undefined ? open(name) : open(name, version);
          req.addEventListener('success', () => w.refs.push(new WeakRef(req.result)));
          return req;
        }) as IDBFactory['open'];
        // Listeners on the page's own long-lived signal, counted as they are added and removed.
        const signal = new AbortController().signal;
        let count = 0;
        const add = signal.addEventListener.bind(signal);
        const remove = signal.removeEventListener.bind(signal);
        signal.addEventListener = ((...a: Parameters<AbortSignal['addEventListener']>) => (count++, add(...a))) as AbortSignal['addEventListener'];
        signal.removeEventListener = ((...a: Parameters<AbortSignal['removeEventListener']>) => (count--, remove(...a))) as AbortSignal['removeEventListener'];
        const config = await (await fetch('/gw/config')).json();
        const useOnce = async (i: number) => {
          const c = w.SealedRpc.createClient({
            profile: w.SealedRpc.modern({ serverKeys: config.modern.serverKeys }),
            transport: w.SealedRpc.fetchTransport({ baseUrl: '/gw/modern' }),
            store: w.SealedRpc.indexedDbStore({ dbName: 'hygiene' }),
          });
          await c.call('/echo', { i: String(i) }, { signal, timeoutMs: 10_000 });
          await c.call('/fail', {}, { signal, timeoutMs: 10_000 }).catch(() => {});
        };
        for (let i = 0; i < 40; i++) await useOnce(i);
        return count;
      });
      expect(listeners).toBe(0);
      expect(JSON.parse(await page.evaluate(async () => JSON.stringify(await navigator.locks.query())))).toEqual({ held: [], pending: [] });
      const openConnections = () =>
        page.evaluate(
          () =>
            (window as unknown as { refs: WeakRef<IDBDatabase>[] }).refs.filter((r) => {
              const db = r.deref();
              if (!db) return false;
              try {
                db.transaction('credentials').abort();
                return true;
              } catch {
                return false; // closed
              }
            }).length,
        );
      expect(await page.evaluate(() => (window as unknown as { refs: unknown[] }).refs.length)).toBe(40);
      const cdp = await context.newCDPSession(page);
      let open = await openConnections();
      for (let i = 0; i < 10 && open > 0; i++) {
        await cdp.send('HeapProfiler.collectGarbage');
        await page.waitForTimeout(100);
        open = await openConnections();
      }
      expect(open).toBe(0);
    } finally {
      await context.close();
    }
  }, 60_000);
});
