/**
 * The examples that need no build step, in real Chromium: examples/script-tag.html (the
 * IIFE bundle from a plain <script>, served with the demo gateways by node:http on
 * 127.0.0.1), and examples/node-backend/server.ts (a node:http server on
 * `sealed-rpc/server` that serves its own page).
 */
import type { Browser } from 'playwright';
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

describe('examples that run from a plain <script> (IIFE)', () => {
  it('examples/script-tag.html: SealedRpc from ../dist/sealed-rpc.iife.js calls the gateway, and onError shows a refusal', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      const scripts: string[] = [];
      page.on('request', (r) => {
        if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname);
      });
      await page.goto(`${server!.url}/examples/script-tag.html`, { timeout: 15_000 });
      // The page has no module script: only the classic bundle and inline code.
      expect(await page.locator('script[type="module"]').count()).toBe(0);
      expect(await page.locator('script[src="../dist/sealed-rpc.iife.js"]').count()).toBe(1);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      expect(await page.evaluate(() => typeof (window as unknown as { SealedRpc: { createClient: unknown } }).SealedRpc.createClient)).toBe('function');

      const before = demo.gateways.modern.stats();
      await page.click('#sum');
      await expect.poll(() => page.textContent('#out'), { timeout: 10_000 }).toContain('"sum": "3"');
      expect(demo.gateways.modern.stats().executions).toBe(before.executions + 1);

      await page.click('#fail');
      await expect.poll(() => page.textContent('#error'), { timeout: 10_000 }).toContain('GATEWAY');
      // The service's own code and words, not only the SDK's generic hint; the earlier result is cleared.
      expect(await page.textContent('#error')).toMatch(/^GATEWAY E_DEMO: .*demo failure/);
      expect(await page.textContent('#out')).not.toContain('"sum"');
      expect(pageErrors).toEqual([]);
      // 127.0.0.1 is a secure context (crypto.subtle is there): the on-demand files are never fetched.
      expect(scripts).toEqual(['/dist/sealed-rpc.iife.js']);
    } finally {
      await context.close();
    }
  });

  it('examples/node-backend/server.ts serves a page whose plain <script> client calls its sealed-rpc/server gateway, with no console error (no favicon.ico 404)', async () => {
    const { startExampleServer } = await import('../../examples/node-backend/server.js');
    const example = await startExampleServer({ port: 0, host: '127.0.0.1' });
    // This test's own server: stopped by this test, whatever happens in it.
    try {
      const context = await browser!.newContext();
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`${example.url}/`, { timeout: 15_000 });
        await page.waitForSelector('body[data-sum]', { timeout: 15_000 });
        expect(await page.getAttribute('body', 'data-sum')).toBe('42');
        expect(await page.textContent('#out')).toBe('40 + 2 = 42');
        await page.waitForTimeout(500); // the browser's own favicon request
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    } finally {
      await example.close();
    }
  });
});
