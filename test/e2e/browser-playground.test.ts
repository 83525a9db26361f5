/**
 * The playground (index.html + examples/playground/) as `npm run dev` serves it: Vite
 * started programmatically on 127.0.0.1 with the repository's vite.config.ts (which mounts
 * the demo gateways at /gw/<dialect>), driven in real Chromium. Each button does what it
 * says; screenshots at 1280x800 and 390x844 go to test-artifacts/ (gitignored).
 * The SPA example (an ESM module page) is served by the same dev server.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, REPO, startDevServer } from './browser-static.js';

const ARTIFACTS = join(REPO, 'test-artifacts');
const STAGES = ['params', 'signed', 'encrypted', 'wire-request', 'wire-response', 'opened'];

let vite: ViteDevServer | undefined;
let cacheDir: string | undefined;
let origin = '';
let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  cacheDir = await mkdtemp(join(tmpdir(), 'sealed-rpc-vite-'));
  // No watcher: files edited meanwhile must not restart or reload the pages under test.
  ({ vite, origin } = await startDevServer(REPO, cacheDir, { watch: null }));
  browser = await chromium.launch(CHROMIUM);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await vite?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

async function gwStats(dialect: string): Promise<{ issuances: number; calls: number }> {
  const res = await fetch(`${origin}/gw/${dialect}/__admin/stats`);
  return (await res.json()) as { issuances: number; calls: number };
}

/** A fresh context (fresh IndexedDB) with the playground loaded and ready. */
async function openPlayground(viewport = { width: 1280, height: 800 }, query = ''): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser!.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/${query}`, { timeout: 20_000 });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return { context, page, errors };
}

/** Press Send and wait (bounded) for the call's outcome in the summary. */
async function send(page: Page): Promise<string> {
  const before = await page.evaluate(() => document.querySelector('.summary .call-id')?.textContent ?? null);
  await page.click('#send');
  await page.waitForFunction(
    (prev) => {
      const id = document.querySelector('.summary .call-id')?.textContent;
      return id !== prev && !!document.querySelector('[data-testid="result"]');
    },
    before,
    { timeout: 15_000 },
  );
  return (await page.locator('[data-testid="result"]').textContent()) ?? '';
}

const timeline = (page: Page) => page.locator('#timeline li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')));
const stageState = (page: Page, stage: string) => page.locator(`.stage[data-stage="${stage}"]`).getAttribute('data-state');

describe('playground (npm run dev) in real Chromium', () => {
  it('shows every stage of one call — params, signed, encrypted, wire request, wire response, opened — with ciphertext on the wire; screenshot 1280x800', async () => {
    const { context, page, errors } = await openPlayground();
    try {
      await page.selectOption('#operation', '/echo');
      await page.fill('#params', JSON.stringify({ note: 'playground-plaintext-marker', amount: '9.45' }));
      expect(await send(page)).toBe('✓ ok');
      for (const s of STAGES) expect(await stageState(page, s), s).toBe('done');

      const text = (s: string) => page.locator(`.stage[data-stage="${s}"]`).innerText();
      expect(await text('params')).toContain('playground-plaintext-marker');
      expect(await text('opened')).toContain('playground-plaintext-marker');
      // The wire carries ciphertext only: the plaintext appears in neither direction.
      for (const s of ['encrypted', 'wire-request', 'wire-response']) expect(await text(s), s).not.toContain('playground-plaintext-marker');
      expect(await text('wire-request')).toContain('POST /gw/modern/echo');
      expect(await text('wire-response')).toContain('HTTP 200');
      expect(await text('signed')).toMatch(/x-nonce/);
      // The timeline saw the issuance; the timing bar has one segment per step.
      expect(await timeline(page)).toContain('issued');
      expect(await page.locator('.timing .seg').count()).toBeGreaterThanOrEqual(3);
      // The pinned gateway key is shown, and that it ships with a real app is said.
      expect(await page.locator('#pinned').innerText()).toMatch(/serverKeys\.demo[\s\S]*P-256/);
      expect(await page.locator('.card-config').innerText()).toContain('A real app ships the gateway key with the app');

      await page.screenshot({ path: join(ARTIFACTS, 'playground-1280x800.png') });
      // Nothing cut off sideways at 1280.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('"Expire credential" expires it at the gateway: the next call gets a `renewed` event and succeeds', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok');
      const issued = (await gwStats('modern')).issuances;
      await page.click('#fault-expire');
      await expect.poll(() => timeline(page), { timeout: 5_000 }).toContain('fault');
      expect(await send(page)).toBe('✓ ok');
      const types = await timeline(page);
      expect(types).toContain('retry');
      expect(types).toContain('renewed');
      expect(await page.locator('.summary').innerText()).toContain('resent after CREDENTIAL_EXPIRED');
      expect(await page.locator('#attempts .tab').count()).toBe(2);
      expect((await gwStats('modern')).issuances).toBe(issued + 1);
    } finally {
      await context.close();
    }
  });

  it('"Skew clock +10 min" makes the gateway answer CLOCK_SKEW: a `clock-corrected` event, then success', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok'); // issued (and the clock set) before the skew
      const corrections = (await timeline(page)).filter((t) => t === 'clock-corrected').length;
      await page.click('#fault-skew');
      await expect.poll(() => page.locator('#fault-status').innerText(), { timeout: 5_000 }).toContain('clock +10 min');
      expect(await send(page)).toBe('✓ ok');
      const types = await timeline(page);
      expect(types.filter((t) => t === 'clock-corrected').length).toBe(corrections + 1);
      expect(await page.locator('.summary').innerText()).toContain('resent after CLOCK_SKEW');
      const corrected = await page.locator('#timeline li[data-type="clock-corrected"]').last().innerText();
      // About −600 s: the gateway's signed time against a clock 10 minutes ahead.
      const offset = Number(/offsetMs (-?\d+)/.exec(corrected)?.[1]);
      expect(offset).toBeLessThan(-590_000);
      expect(offset).toBeGreaterThan(-610_000);
    } finally {
      await context.close();
    }
  });

  it('"Tamper next response" changes one byte: the call fails with RESPONSE_TAMPERED and no data is shown', async () => {
    const { context, page } = await openPlayground();
    try {
      await page.fill('#params', JSON.stringify({ secretish: 'tamper-plaintext-marker' }));
      expect(await send(page)).toBe('✓ ok');
      await page.click('#fault-tamper');
      expect(await page.getAttribute('#fault-tamper', 'aria-pressed')).toBe('true');
      expect(await send(page)).toBe('✗ RESPONSE_TAMPERED');
      expect(await stageState(page, 'wire-response')).toBe('done');
      expect(await stageState(page, 'opened')).toBe('failed');
      const opened = await page.locator('.stage[data-stage="opened"]').innerText();
      expect(opened).toContain('No data');
      expect(opened).not.toContain('tamper-plaintext-marker');
      expect(await page.locator('.summary').innerText()).toContain('discarded');
      // One shot: the next call is clean again.
      expect(await page.getAttribute('#fault-tamper', 'aria-pressed')).toBe('false');
      expect(await send(page)).toBe('✓ ok');
    } finally {
      await context.close();
    }
  });

  it('"Expire credential" then "Tamper": the byte is changed on the answer the client uses (the resend\'s 200), so modern still ends RESPONSE_TAMPERED, and the 401 attempt is not called tampered', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok');
      await page.click('#fault-expire');
      await expect.poll(() => timeline(page), { timeout: 5_000 }).toContain('fault');
      await page.click('#fault-tamper');
      expect(await send(page)).toBe('✗ RESPONSE_TAMPERED');
      expect(await page.locator('#attempts .tab').count()).toBe(2);
      expect(await page.locator('.stage[data-stage="opened"]').innerText()).not.toContain('not detected');
      await page.locator('#attempts .tab').first().click();
      expect(await page.locator('.stage[data-stage="wire-response"]').innerText()).toContain('What came back, before any check.');
    } finally {
      await context.close();
    }
  });

  it('"Reset clock skew" leaves no learned correction behind: after skew, send, reset, the next call goes through at once (no CLOCK_SKEW resend)', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok');
      await page.click('#fault-skew');
      expect(await send(page)).toBe('✓ ok'); // CLOCK_SKEW, corrected, resent
      const issued = (await gwStats('modern')).issuances;
      await page.click('#reset-clock');
      expect(await send(page)).toBe('✓ ok');
      expect(await page.locator('#attempts .tab').count()).toBe(0);
      expect(await page.locator('.summary').innerText()).not.toContain('resent');
      expect((await gwStats('modern')).issuances).toBe(issued); // the new client read the stored credential
    } finally {
      await context.close();
    }
  });

  it('"Forget credential" is disabled where credentials are static (sorted-sign, mgs), like "Expire"; the store line says what is stored (non-extractable keys on modern, plain data on app-secret)', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok');
      await expect.poll(() => page.locator('#state').innerText(), { timeout: 5_000 }).toContain('IndexedDB (keys non-extractable)');
      expect(await page.isDisabled('#forget')).toBe(false);
      for (const name of ['sorted-sign', 'mgs']) {
        await page.selectOption('#dialect', name);
        expect(await page.isDisabled('#forget')).toBe(true);
        expect(await page.isDisabled('#fault-expire')).toBe(true);
      }
      await page.selectOption('#dialect', 'app-secret');
      expect(await page.isDisabled('#forget')).toBe(false);
      expect(await send(page)).toBe('✓ ok');
      await expect.poll(() => page.locator('#state').innerText(), { timeout: 5_000 }).toContain('plain data');
    } finally {
      await context.close();
    }
  });

  it('"Drop network" makes every send fail with NETWORK, shown with its hint; turning it off recovers', async () => {
    const { context, page } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok');
      await page.click('#fault-network');
      expect(await send(page)).toBe('✗ NETWORK');
      expect(await page.locator('.summary .hint').innerText()).toMatch(/network/i);
      expect(await stageState(page, 'wire-response')).toBe('failed');
      expect(await stageState(page, 'opened')).toBe('failed');
      await page.click('#fault-network');
      expect(await send(page)).toBe('✓ ok');
    } finally {
      await context.close();
    }
  });

  it('the mgs dialect from the picker: a signed call succeeds and its signing secret is never on the page', async () => {
    const config = (await (await fetch(`${origin}/gw/config`)).json()) as Record<string, Record<string, string>>;
    expect(Object.keys(config)).toEqual(expect.arrayContaining(['modern', 'mgs']));
    const { context, page } = await openPlayground({ width: 1280, height: 800 }, '?dialect=mgs');
    try {
      expect(await page.inputValue('#dialect')).toBe('mgs');
      expect(await page.locator('#dialect option').allTextContents()).toEqual(expect.arrayContaining(['modern', 'mgs']));
      expect(await send(page)).toBe('✓ ok');
      expect(await page.locator('.stage[data-stage="signed"]').innerText()).toMatch(/Sign:\s*[0-9a-f]{32}/);
      expect(await page.isDisabled('#fault-expire')).toBe(true); // static credentials: nothing to expire
      const all = await page.evaluate(() => document.documentElement.outerHTML);
      expect(all).not.toContain(config.mgs.secret);
      expect(await page.locator('#pinned').innerText()).toContain('‹redacted›');
    } finally {
      await context.close();
    }
  });

  it('reads well at phone width 390x844: one column, no sideways scroll; screenshots of the first screen and the whole page', async () => {
    const { context, page, errors } = await openPlayground({ width: 390, height: 844 });
    try {
      await page.click('#fault-expire');
      expect(await send(page)).toBe('✓ ok');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      // Cards are stacked: every stage is as wide as the column.
      const widths = await page.locator('.stage').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      expect(widths).toHaveLength(6);
      for (const w of widths) expect(w).toBeGreaterThan(330);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(ARTIFACTS, 'playground-390x844.png') });
      await page.locator('#summary').evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await page.screenshot({ path: join(ARTIFACTS, 'playground-390x844-result.png') });
      await page.screenshot({ path: join(ARTIFACTS, 'playground-390x844-full.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('examples served by the dev server', () => {
  it("examples/spa/: `import 'sealed-rpc'` is the source (src/index.ts), not a dist/ build that may be stale, even with dist/ present", async () => {
    expect(existsSync(join(REPO, 'dist/sealed-rpc.js'))).toBe(true); // npm test built it
    const served = await (await fetch(`${origin}/examples/spa/main.ts`)).text();
    expect(served).toMatch(/from "\/src\/index\.ts"/);
    expect(served).not.toContain('/dist/');
  });

  it("examples/spa/: the ESM module imports 'sealed-rpc' and makes typed calls", async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/examples/spa/`, { timeout: 20_000 });
      await page.waitForSelector('body[data-done]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-done')).toBe('true');
      const out = await page.textContent('#out');
      expect(out).toContain('/sum: 20');
      expect(out).toContain('/user/get: 张三 (gold)');
      expect(out).toContain('/fail: refused by the service: E_DEMO');
    } finally {
      await context.close();
    }
  });

  it('examples/offline-package/: the signed package verifies, the tampered copy is refused with the fallback URL', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/examples/offline-package/`, { timeout: 20_000 });
      await page.click('#good');
      await page.waitForSelector('body[data-result]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-result')).toBe('ok');
      expect(await page.textContent('#files')).toContain('index.html');
      await page.click('#bad');
      await page.waitForSelector('body[data-result="PACKAGE_SIGNATURE_INVALID"]', { timeout: 20_000 });
      expect(await page.textContent('#status')).toContain('https://m.example.com/');
    } finally {
      await context.close();
    }
  });
});
