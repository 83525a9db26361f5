/** Shared by the test/e2e/browser-*.test.ts files: Chromium launch options, a static file handler, the demo site. */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { createServer as createViteServer, type ServerOptions, type ViteDevServer } from 'vite';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright';
import { demoMiddleware } from '../../examples/node-backend/mount.js';
import type { DemoGateways } from '../../examples/node-backend/demo-gateway.js';
import { listen, type Running } from '../helpers/servers.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Debian's Chromium (never a downloaded browser); CHROMIUM_PATH elsewhere. */
export const CHROMIUM: LaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  timeout: 30_000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
};

/**
 * Serves repository files under the given URL prefixes (e.g. `/dist/`, `/examples/`), GET
 * only, never outside the repository; `/dir/` serves `/dir/index.html`. Anything else: 404.
 */
export function repoFiles(prefixes: string[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const notFound = () => {
      res.statusCode = 404;
      res.end();
    };
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    } catch {
      return notFound();
    }
    if (req.method !== 'GET' || !prefixes.some((p) => path.startsWith(p))) return notFound();
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(REPO, '.' + path);
    if (!file.startsWith(REPO.endsWith(sep) ? REPO : REPO + sep)) return notFound();
    readFile(file).then(
      (body) => {
        res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
        res.setHeader('cache-control', 'no-store');
        res.end(body);
      },
      () => notFound(),
    );
  };
}

/**
 * The demo site the browser tests drive: the demo gateways and the repo's dist/ and
 * examples/ on one node:http server on 127.0.0.1, and a headless Chromium.
 */
export async function startDemoSite(): Promise<{ demo: DemoGateways; server: Running; browser: Browser; close(): Promise<void> }> {
  const iife = fileURLToPath(new URL('../../dist/sealed-rpc.iife.js', import.meta.url));
  if (!existsSync(iife)) throw new Error('dist/sealed-rpc.iife.js is missing: run `npm run build` first');
  const mounted = await demoMiddleware();
  const files = repoFiles(['/dist/', '/examples/']);
  const server = await listen((req, res) => mounted.middleware(req, res, () => files(req, res)));
  let browser: Browser;
  try {
    browser = await chromium.launch(CHROMIUM);
  } catch (e) {
    // No site to hand back, so nobody else would close the server: close it here.
    await server.close();
    throw e;
  }
  return {
    demo: mounted.demo,
    server,
    browser,
    async close() {
      try {
        await browser.close();
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * `npm run dev` as the browser tests start it: Vite with `root`'s vite.config.ts (the demo
 * gateways at /gw/<dialect>) on 127.0.0.1, an ephemeral port, no HMR and no dependency
 * discovery. `server` adds to (or overrides) those server options.
 */
export async function startDevServer(root: string, cacheDir: string, server: ServerOptions = {}): Promise<{ vite: ViteDevServer; origin: string }> {
  const vite = await createViteServer({
    root,
    configFile: join(root, 'vite.config.ts'),
    cacheDir,
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, ...server },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  try {
    await vite.listen();
    const address = vite.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('vite did not listen');
    return { vite, origin: `http://127.0.0.1:${address.port}` };
  } catch (e) {
    await vite.close();
    throw e;
  }
}
