/**
 * Credentials in a real browser: IndexedDB keeps them across a reload, and three tabs
 * of one browser context that all find their credential expired cause exactly one
 * issuance (Web Locks around issuance, the store re-read inside the lock). The page is
 * examples/script-tag.html (the IIFE bundle from a plain <script>), served with the demo
 * gateways by one node:http server on 127.0.0.1.
 */
import type { Browser, BrowserContext, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoGateways } from '../../examples/node-backend/demo-gateway.js';
import type { Running } from '../helpers/servers.js';
import { startDemoSite } from './browser-static.js';

let site: Awaited<ReturnType<typeof startDemoSite>> | undefined;
let server: Running | undefined;
let browser: Browser | undefined;
let demo: DemoGateways;

beforeAll(async () => {
  site = await startDemoSite();
  ({ demo, server, browser } = site);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

const stats = () => demo.gateways.modern.stats();

/** Opens examples/script-tag.html and waits (bounded) until its client exists. */
async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server!.url}/examples/script-tag.html`, { timeout: 15_000 });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
  return page;
}

/** One call through the page's own client (window.demoClient), bounded. */
function echo(page: Page, tag: string): Promise<unknown> {
  return page.evaluate((t) => (window as unknown as { demoClient: { call(op: string, p: object, o: object): Promise<unknown> } }).demoClient.call('/echo', { tag: t }, { timeoutMs: 10_000 }), tag);
}

/** What IndexedDB holds for the client: every CryptoKey found in the stored records. */
function storedKeys(page: Page): Promise<{ records: number; keys: { extractable: boolean; algorithm: string }[] }> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('sealed-rpc');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const names = Array.from(db.objectStoreNames);
          if (names.length === 0) return resolve({ records: 0, keys: [] });
          const req = db.transaction(names[0], 'readonly').objectStore(names[0]).getAll();
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const keys: { extractable: boolean; algorithm: string }[] = [];
            const walk = (v: unknown, depth: number): void => {
              if (depth > 6 || v === null || typeof v !== 'object') return;
              if (v instanceof CryptoKey) keys.push({ extractable: v.extractable, algorithm: v.algorithm.name });
              else for (const x of Object.values(v)) walk(x, depth + 1);
            };
            walk(req.result, 0);
            db.close();
            resolve({ records: req.result.length, keys });
          };
        };
      }),
  );
}

describe('credentials in real Chromium (IndexedDB, Web Locks)', () => {
  it('a credential persists in IndexedDB across a page reload: no second issuance', async () => {
    const context = await browser!.newContext();
    try {
      const before = stats().issuances;
      const page = await openPage(context);
      expect(await echo(page, 'first')).toEqual({ tag: 'first' });
      expect(stats().issuances).toBe(before + 1);

      // What survives the reload: a record whose session keys are non-extractable CryptoKeys.
      const stored = await storedKeys(page);
      expect(stored.records).toBe(1);
      expect(stored.keys.length).toBeGreaterThanOrEqual(2);
      for (const k of stored.keys) expect(k).toEqual({ extractable: false, algorithm: 'AES-GCM' });

      await page.reload({ timeout: 15_000 });
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      expect(await echo(page, 'after reload')).toEqual({ tag: 'after reload' });
      expect(stats().issuances).toBe(before + 1);
    } finally {
      await context.close();
    }
  });

  it('three tabs whose credential expired at the gateway renew it with exactly one issuance', async () => {
    const context = await browser!.newContext();
    try {
      const start = stats().issuances;
      const tabs = [await openPage(context)];
      await echo(tabs[0], 'tab 1 issues');
      expect(stats().issuances).toBe(start + 1);
      // Tabs 2 and 3 load the credential tab 1 stored.
      tabs.push(await openPage(context), await openPage(context));
      await Promise.all(tabs.slice(1).map((t, i) => echo(t, `tab ${i + 2} loads`)));
      expect(stats().issuances).toBe(start + 1);
      expect(await tabs[0].evaluate(() => typeof navigator.locks?.request)).toBe('function');

      demo.gateways.modern.expireCredentials();
      const calls = stats().calls;
      const expired = stats().rejections.CREDENTIAL_EXPIRED ?? 0;
      // Every tab at once: each gets 401 CREDENTIAL_EXPIRED, renews, resends.
      const results = await Promise.all(tabs.map((t, i) => echo(t, `tab ${i + 1} after expiry`)));
      expect(results).toEqual(tabs.map((_, i) => ({ tag: `tab ${i + 1} after expiry` })));
      expect(stats().issuances).toBe(start + 2);
      // Each tab's first send was refused as expired (3), and each resent once with the renewed credential (3):
      // 6 calls reached the gateway, no more (a tab that renewed twice, or resent twice, would show here).
      expect((stats().rejections.CREDENTIAL_EXPIRED ?? 0) - expired).toBe(3);
      expect(stats().calls - calls).toBe(6);

      // All three now use the one renewed credential: no further issuance.
      await Promise.all(tabs.map((t, i) => echo(t, `tab ${i + 1} again`)));
      expect(stats().issuances).toBe(start + 2);
    } finally {
      await context.close();
    }
  });
});
