/**
 * `npm install && npm run dev` on a fresh clone: no dist/ yet. The dev server (vite.config.ts
 * as the repository has it) must still serve every example page that the playground links:
 * the SPA's `import 'sealed-rpc'` and the classic pages' `../dist/sealed-rpc.iife.js`.
 * The repository's files are copied to a temporary directory without dist/ (node_modules is
 * linked), Vite is started there on 127.0.0.1, and the pages run in real Chromium.
 */
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, REPO, startDevServer } from './browser-static.js';

const COPIED = ['src', 'examples', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'];

let dir = '';
let vite: ViteDevServer | undefined;
let origin = '';
let browser: Browser | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealed-rpc-fresh-'));
  for (const f of COPIED) await cp(join(REPO, f), join(dir, f), { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // The watcher stays on: the last test edits src/ and expects a rebuild.
  ({ vite, origin } = await startDevServer(dir, join(dir, '.vite-cache'), { fs: { allow: [dir, join(REPO, 'node_modules')] } }));
  browser = await chromium.launch(CHROMIUM);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await vite?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function withPage(run: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const context = await browser!.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await run(page, errors);
  } finally {
    await context.close();
  }
}

describe('npm run dev on a fresh clone (no dist/ built yet)', () => {
  it('the copy starts without dist/', () => {
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  });

  it("examples/spa/: `import 'sealed-rpc'` resolves to the source and the page makes its calls", async () => {
    await withPage(async (page, errors) => {
      await page.goto(`${origin}/examples/spa/`, { timeout: 20_000 });
      await page.waitForSelector('body[data-done]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-done')).toBe('true');
      expect(await page.textContent('#out')).toContain('/sum: 20');
      expect(errors).toEqual([]);
    });
  });

  it('examples/script-tag.html: ../dist/sealed-rpc.iife.js is served (built from src/) and the page calls the gateway', async () => {
    await withPage(async (page, errors) => {
      await page.goto(`${origin}/examples/script-tag.html`, { timeout: 20_000 });
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await page.click('#sum');
      await expect.poll(() => page.textContent('#out'), { timeout: 10_000 }).toContain('"sum": "3"');
      expect(errors).toEqual([]);
    });
  });

  it('examples/offline-package/: the on-demand unzip file is served too, so the signed package verifies', async () => {
    await withPage(async (page) => {
      await page.goto(`${origin}/examples/offline-package/`, { timeout: 20_000 });
      await page.click('#good');
      await page.waitForSelector('body[data-result]', { timeout: 20_000 });
      expect(await page.getAttribute('body', 'data-result')).toBe('ok');
    });
  });

  it('after every page above was served, the dev server has written no dist/ (the bundles were built in memory)', () => {
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  });

  it('after an edit under src/, /dist/sealed-rpc.iife.js is rebuilt from the edited source', async () => {
    const iife = async () => (await fetch(`${origin}/dist/sealed-rpc.iife.js`)).text();
    const mark = `fresh-clone-mark-${Date.now()}`;
    expect(await iife()).not.toContain(mark);
    const file = join(dir, 'src/iife.ts');
    await writeFile(file, `${await readFile(file, 'utf8')}\n(globalThis as Record<string, unknown>).__devMark = '${mark}';\n`);
    await expect.poll(iife, { timeout: 15_000, interval: 300 }).toContain(mark);
  });
});
