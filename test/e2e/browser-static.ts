/** Shared by the test/e2e/browser-*.test.ts files: Chromium launch options and a static file handler. */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LaunchOptions } from 'playwright';

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
