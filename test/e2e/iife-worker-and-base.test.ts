/**
 * The IIFE (script-tag) bundle's on-demand files in real Chromium: classic workers that
 * importScripts sealed-rpc.iife.js, and setAssetBase given a URL with user:password@.
 * A node:http server on 127.0.0.1 serves dist/ under /vendor/sdk/ (no-store) and the pages and
 * worker scripts under /app/; requests are counted per path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listen, type Running } from '../helpers/servers.js';
import { versioned } from '../helpers/iife-build.js';
import { CHROMIUM } from './browser-static.js';

const IIFE = 'sealed-rpc.iife.js';
const FALLBACK = 'sealed-rpc.fallback.iife.js';
const UNZIP = 'sealed-rpc.unzip.iife.js';
const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));

let server: Running;
let browser: Browser;
const hits = new Map<string, number>();
/** Whether /vendor/sdk/ answers requests for the on-demand files (false: accepts and never answers). */
let answerOnDemand = true;

/** A worker script that importScripts the bundle from /vendor/sdk/ and runs preloadAssets(name) per message ('ping' answers 'pong'; 'base:<url>' calls setAssetBase). */
const WORKER = `importScripts('/vendor/sdk/${IIFE}');
onmessage = async (e) => {
  if (e.data === 'ping') return postMessage('pong');
  if (e.data.startsWith('base:')) { SealedRpc.setAssetBase(e.data.slice(5)); return postMessage({ ok: true }); }
  try { await SealedRpc.preloadAssets(e.data); postMessage({ ok: true }); }
  catch (x) { postMessage({ ok: false, code: x && x.code, message: String(x && x.message), details: x && x.details, hint: x && x.hint }); }
};`;

beforeAll(async () => {
  for (const f of [IIFE, FALLBACK, UNZIP]) if (!existsSync(dist(f))) throw new Error(`dist/${f} is missing: run \`npm run build\` first`);
  server = await listen((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const send = (type: string, body: string | Buffer) => {
      res.setHeader('content-type', type);
      res.setHeader('cache-control', 'no-store');
      res.end(body);
    };
    if (path === '/app/page.html') return send('text/html; charset=utf-8', `<!doctype html><meta charset="utf-8"><script src="/vendor/sdk/${IIFE}"></script><body>ready</body>`);
    if (path === '/app/worker.js' || path === '/vendor/sdk/worker.js') return send('text/javascript; charset=utf-8', WORKER);
    const m = /^\/vendor\/sdk\/(sealed-rpc(?:\.[a-z]+)?\.iife\.js)$/.exec(path);
    if (m) {
      if (m[1] !== IIFE && !answerOnDemand) return; // accepted, never answered
      return send('text/javascript; charset=utf-8', readFileSync(dist(m[1])));
    }
    res.statusCode = 404;
    res.end();
  });
  browser = await chromium.launch(CHROMIUM);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

beforeEach(() => {
  hits.clear();
  answerOnDemand = true;
});

async function open(): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/app/page.html`, { timeout: 15_000 });
  await page.waitForFunction(() => typeof (globalThis as { SealedRpc?: unknown }).SealedRpc === 'object', undefined, { timeout: 15_000 });
  return { page, close: () => context.close() };
}

describe('the IIFE in a classic worker', () => {
  it('a worker at /app/ that importScripts /vendor/sdk/sealed-rpc.iife.js looks for the files next to itself: NETWORK whose hint names setAssetBase; after setAssetBase(\'/vendor/sdk/\') in the worker they load from there', async () => {
    const { page, close } = await open();
    try {
      const r = (await page.evaluate(
        () =>
          new Promise<unknown[]>((resolve) => {
            const got: unknown[] = [];
            const w = new Worker('/app/worker.js');
            w.onmessage = (e) => {
              got.push(e.data);
              if (got.length === 1) w.postMessage('base:/vendor/sdk/');
              else if (got.length === 2) w.postMessage('unzip');
              else resolve(got);
            };
            w.postMessage('unzip');
          }),
      )) as unknown as { ok: boolean; code?: string; hint?: string; details?: { url?: string } }[];
      expect(r[0]).toMatchObject({ ok: false, code: 'NETWORK', details: { file: UNZIP, url: versioned(`${server.url}/app/${UNZIP}`) } });
      expect(r[0]!.hint).toMatch(/worker script.*setAssetBase/);
      expect(r.slice(1)).toEqual([{ ok: true }, { ok: true }]);
      expect(hits.get(`/app/${UNZIP}`)).toBe(1);
      expect(hits.get(`/vendor/sdk/${UNZIP}`)).toBe(1);
    } finally {
      await close();
    }
  });

  it('in a worker, an on-demand file with no answer is given up at 30 s as a typed RpcError (as on a page), and the worker keeps answering messages meanwhile', async () => {
    answerOnDemand = false;
    const { page, close } = await open();
    // (The worker script is next to the bundle here, so where the files are looked for is not in question.)
    try {
      const r2 = (await page.evaluate(
        () =>
          new Promise((resolve) => {
            const got: unknown[] = [];
            const started = performance.now();
            const w = new Worker('/vendor/sdk/worker.js');
            (globalThis as any).sdkWorker = w;
            w.onmessage = (e) => {
              got.push(e.data === 'pong' ? ['pong', Math.round(performance.now() - started)] : e.data);
              if (got.length === 2) resolve(got);
            };
            w.postMessage('unzip');
            setTimeout(() => w.postMessage('ping'), 1_000);
            setTimeout(() => resolve(got), 45_000);
          }),
      )) as unknown[];
      // The ping is answered while the load waits, and the load ends as NETWORK naming the file.
      expect(r2[0]).toEqual(['pong', expect.any(Number)]);
      expect((r2[0] as [string, number])[1]).toBeLessThan(5_000);
      expect(r2[1]).toMatchObject({ ok: false, code: 'NETWORK', details: { file: UNZIP } });
      expect((r2[1] as { message: string }).message).toContain('no answer in 30 s');
      // The file answers again: the next use in that worker loads it.
      answerOnDemand = true;
      const r3 = await page.evaluate(
        () =>
          new Promise((resolve) => {
            const w = (globalThis as any).sdkWorker as Worker;
            w.onmessage = (e) => resolve(e.data);
            w.postMessage('unzip');
          }),
      );
      expect(r3).toEqual({ ok: true });
    } finally {
      await close();
    }
  }, 120_000);
});

describe('setAssetBase and secrets', () => {
  it('setAssetBase refuses a URL holding user:password@ as BAD_CONFIG (as fetchTransport does), and no error field carries the password', async () => {
    const { page, close } = await open();
    try {
      const r = await page.evaluate(async (origin) => {
        const S = (globalThis as any).SealedRpc;
        const url = origin.replace('http://', 'http://user:s3cr3t-pw@') + '/vendor/sdk/';
        let e: any;
        try {
          S.setAssetBase(url);
          await S.preloadAssets('unzip');
          return { ok: true };
        } catch (x) {
          e = x;
        }
        return { ok: false, code: e.code, all: JSON.stringify({ message: e.message, hint: e.hint, details: e.details, cause: String(e.cause) }) };
      }, server.url);
      expect(r).toMatchObject({ ok: false, code: 'BAD_CONFIG' });
      expect((r as { all: string }).all).not.toContain('s3cr3t-pw');
      // Chromium never fetches a subresource URL with embedded credentials: nothing was requested.
      expect(hits.get(`/vendor/sdk/${UNZIP}`) ?? 0).toBe(0);
    } finally {
      await close();
    }
  });
});
