/**
 * The playground and the examples as a new user meets them (`npm run dev`), in real Chromium
 * against Vite dev servers started from this repository on 127.0.0.1: one call at a time, what
 * the inspector says about keys on an insecure page, the example pages' end states, and the dev
 * server behind a base path.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import { createServer as createViteServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, REPO, startDevServer } from './browser-static.js';

/** A name Chromium resolves to 127.0.0.1 but treats as an ordinary (insecure) http: origin. */
const INSECURE_HOST = 'playground.insecure.test';

let vite: ViteDevServer | undefined;
let cacheDir: string | undefined;
let origin = '';
let browser: Browser | undefined;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'sealed-rpc-playground-'));
  ({ vite, origin } = await startDevServer(REPO, cacheDir, { watch: null, allowedHosts: [INSECURE_HOST] }));
  browser = await chromium.launch({ ...CHROMIUM, args: [...(CHROMIUM.args ?? []), `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await vite?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

async function openPlayground(url = `${origin}/`): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url, { timeout: 20_000 });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return { page, close: () => context.close() };
}

async function send(page: Page): Promise<string> {
  const before = await page.evaluate(() => document.querySelector('.summary .call-id')?.textContent ?? null);
  await page.click('#send');
  await page.waitForFunction(
    (prev) => document.querySelector('.summary .call-id')?.textContent !== prev && !!document.querySelector('[data-testid="result"]'),
    before,
    { timeout: 15_000 },
  );
  return (await page.locator('[data-testid="result"]').textContent()) ?? '';
}

describe('playground', () => {
  it('Ctrl+Enter while a call is in flight starts no second call, so a tampered modern response is never shown as "not detected: modern does not authenticate responses"', async () => {
    const { page, close } = await openPlayground();
    try {
      expect(await send(page)).toBe('✓ ok'); // issued
      await page.selectOption('#latency', '1000');
      await page.click('#fault-tamper');
      await page.click('#send'); // call A: in flight for 1 s, its answer will be tampered
      await page.focus('#params');
      await page.keyboard.press('Control+Enter'); // the documented-by-code shortcut, while A is in flight
      await expect.poll(() => page.isDisabled('#send'), { timeout: 10_000, interval: 100 }).toBe(false);
      await page.waitForTimeout(1500); // anything a second call would do is over
      const calls = await page.locator('#timeline li[data-type="call"]').count();
      expect(calls).toBe(2); // the first Send, and call A: Ctrl+Enter did not start a third
      // What the inspector shows is call A, which the tamper hit: RESPONSE_TAMPERED, never "not detected".
      expect(await page.locator('[data-testid="result"]').textContent()).toBe('✗ RESPONSE_TAMPERED');
      expect(await page.locator('.stage[data-stage="opened"]').innerText()).not.toContain('does not authenticate responses');
    } finally {
      await close();
    }
  });

  it('on an insecure http: page (no crypto.subtle, keys held as bytes by the pure-JS path), the modern "encrypted" panel does not claim that reqKey never leaves WebCrypto', async () => {
    const port = new URL(origin).port;
    const { page, close } = await openPlayground(`http://${INSECURE_HOST}:${port}/`);
    try {
      expect(await page.evaluate(() => [isSecureContext, !!globalThis.crypto?.subtle])).toEqual([false, false]);
      expect(await send(page)).toBe('✓ ok');
      // The client-state panel says what is really held...
      await expect.poll(() => page.locator('#state').innerText(), { timeout: 5_000 }).toContain('plain data');
      // ...and the stage panel must not contradict it.
      expect(await page.locator('.stage[data-stage="encrypted"]').innerText()).not.toContain('never leaves WebCrypto');
    } finally {
      await close();
    }
  });
});

describe('examples', () => {
  it('examples/script-tag.html: once a call has failed, the output no longer reads "<operation> …" as if it were still running', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/examples/script-tag.html`, { timeout: 20_000 });
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await page.click('#fail');
      await expect.poll(() => page.textContent('#error'), { timeout: 10_000 }).toContain('E_DEMO');
      expect((await page.textContent('#out'))?.trim()).not.toMatch(/…$/);
    } finally {
      await context.close();
    }
  });
});

describe('npm run dev behind a base path (vite --base /sub/), fresh clone (no dist/)', () => {
  const COPIED = ['src', 'examples', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'];
  let dir = '';
  let based: ViteDevServer | undefined;
  let basedOrigin = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealed-rpc-base-path-'));
    for (const f of COPIED) await cp(join(REPO, f), join(dir, f), { recursive: true });
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
    based = await createViteServer({
      root: dir,
      configFile: join(dir, 'vite.config.ts'),
      cacheDir: join(dir, '.vite-cache'),
      base: '/sub/',
      logLevel: 'error',
      clearScreen: false,
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null, fs: { allow: [dir, join(REPO, 'node_modules')] } },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await based.listen();
    const address = based.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('vite did not listen');
    basedOrigin = `http://127.0.0.1:${address.port}`;
  }, 60_000);

  afterAll(async () => {
    await based?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("every example link in the playground's header opens a page that exists", async () => {
    const { page, close } = await openPlayground(`${basedOrigin}/sub/`);
    try {
      const hrefs = await page.locator('header nav a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(hrefs).toHaveLength(4);
      const statuses = await page.evaluate((urls) => Promise.all(urls.map(async (u) => [u, (await fetch(u)).status] as const)), hrefs);
      for (const [u, status] of statuses) expect(status, u).toBe(200);
    } finally {
      await close();
    }
  });

  it('/sub/examples/script-tag.html gets its ../dist/sealed-rpc.iife.js (and the on-demand files) built in memory from src/, and calls the gateway', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${basedOrigin}/sub/examples/script-tag.html`, { timeout: 20_000 });
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await page.click('#sum');
      await expect.poll(() => page.textContent('#out'), { timeout: 10_000 }).toContain('"sum": "3"');
      // The offline-package page's unzipper is the on-demand file next to it.
      await page.goto(`${basedOrigin}/sub/examples/offline-package/`, { timeout: 20_000 });
      await page.click('#good');
      await page.waitForSelector('body[data-result]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-result')).toBe('ok');
    } finally {
      await context.close();
    }
  });
});
