/**
 * The first hour with the SDK, in real Chromium (Debian's): a page on one 127.0.0.1 origin calls a
 * gateway on another, set up the ways developers first get CORS wrong, and compared with the
 * gateway being down. The browser hides the difference (fetch rejects with the same TypeError), so
 * what the developer can act on is the hint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, generateSigningKeyPair, mgs, modern, toNodeHandler } from '../../src/server/index.js';
import { listen, type Running } from '../helpers/servers.js';
import { CHROMIUM } from './browser-static.js';

const IIFE = fileURLToPath(new URL('../../dist/sealed-rpc.iife.js', import.meta.url));
const MGS_SECRET = 'mgs-secret-never-in-errors';

/** Closes a server started here (its open connections too). */
const stop = (s: Running | undefined) => s?.close() ?? Promise.resolve();

let page: Running | undefined, gw: Running | undefined;
let downUrl = '';
let browser: Browser | undefined;
let tab: Page;
let serverKeys: Record<string, JsonWebKey>;

beforeAll(async () => {
  const key = await generateSigningKeyPair();
  serverKeys = { k1: key.publicJwk };
  const modernH = toNodeHandler(createGateway({ profile: modern({ signingKeys: { k1: key.privateKeyPem } }) }).operation('/echo', (p) => p), { basePath: '/m' });
  const mgsH = toNodeHandler(createGateway({ profile: mgs({ appId: 'APP1', workspaceId: 'ws', secret: MGS_SECRET }) }).operation('echo.op', (p) => p), { basePath: '/g' });
  const gateways = (req: IncomingMessage, res: ServerResponse) => modernH(req, res, () => mgsH(req, res, () => ((res.statusCode = 404), res.end())));
  // The gateway's origin: `/<mode>/<m|g>/…`. `none`: no CORS at all (the gateway as it comes);
  // `origin-only`: Access-Control-Allow-Origin, and a preflight that allows only Content-Type (a
  // common first snippet), nothing exposed; `full`: what each dialect needs.
  gw = await listen((req, res) => {
    const m = /^\/(none|origin-only|full)(\/.*)$/.exec(req.url ?? '');
    if (!m) return void ((res.statusCode = 404), res.end());
    const [, mode, rest] = m;
    req.url = rest;
    if (mode !== 'none') {
      res.setHeader('access-control-allow-origin', '*');
      if (mode === 'full') res.setHeader('access-control-expose-headers', 'Result-Status, Memo, Tips, Mgw-TraceId, Date');
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.setHeader('access-control-allow-methods', 'GET, POST');
        res.setHeader('access-control-allow-headers', mode === 'full' ? String(req.headers['access-control-request-headers'] ?? '') : 'Content-Type');
        return res.end();
      }
    }
    gateways(req, res);
  });
  const iife = await readFile(IIFE);
  page = await listen((req, res) => {
    if (req.url === '/page.html') {
      res.setHeader('content-type', 'text/html');
      return res.end('<!doctype html><title>page</title><script src="/sealed-rpc.iife.js"></script>');
    }
    if (req.url === '/sealed-rpc.iife.js') {
      res.setHeader('content-type', 'text/javascript');
      return res.end(iife);
    }
    res.statusCode = 404;
    res.end();
  });
  const down = await listen(() => {});
  downUrl = down.url;
  await stop(down);
  browser = await chromium.launch(CHROMIUM);
  tab = await (await browser.newContext()).newPage();
  await tab.goto(`${page.url}/page.html`, { timeout: 15_000 });
  await tab.waitForFunction(() => 'SealedRpc' in window, undefined, { timeout: 15_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([stop(page), stop(gw)]);
});

interface Outcome { ok: boolean; data?: unknown; code?: string; message?: string; hint?: string; text?: string }

/** One call from the page (the IIFE bundle), bounded by its timeoutMs. */
function callFromPage(dialect: 'modern' | 'mgs', baseUrl: string): Promise<Outcome> {
  return tab.evaluate(
    async ({ dialect, baseUrl, serverKeys, secret }) => {
      const S = (window as any).SealedRpc;
      const profile = dialect === 'modern' ? S.modern({ serverKeys }) : S.mgs({ appId: 'APP1', workspaceId: 'ws', secret });
      try {
        const client = S.createClient({ profile, transport: S.fetchTransport({ baseUrl }), store: S.memoryStore() });
        const data = await client.call(dialect === 'modern' ? '/echo' : 'echo.op', { q: 'v' }, { timeoutMs: 8000 });
        return { ok: true, data };
      } catch (e: any) {
        return { ok: false, code: e.code, message: e.message, hint: e.hint, text: [String(e), e.message, e.hint, JSON.stringify(e)].join(' ') };
      }
    },
    { dialect, baseUrl, serverKeys, secret: MGS_SECRET },
  );
}

describe('first hour in Chromium: a gateway on another origin', () => {
  it('control: with the CORS headers each dialect needs, both answer', async () => {
    expect(await callFromPage('modern', `${gw!.url}/full/m`)).toMatchObject({ ok: true, data: { q: 'v' } });
    expect(await callFromPage('mgs', `${gw!.url}/full/g`)).toMatchObject({ ok: true, data: { q: 'v' } });
  });

  it.each([
    ['modern', 'none', 'no CORS headers at all'],
    ['mgs', 'none', 'no CORS headers at all'],
    ['modern', 'origin-only', "Allow-Origin but x-app-id, x-op, x-ts, x-nonce not in Allow-Headers"],
    ['mgs', 'origin-only', 'Allow-Origin but Operation-Type, AppId, Ts, Sign… not in Allow-Headers'],
  ] as const)('%s, gateway with %s (%s): NETWORK, as when the server is down, and the hint names CORS as a possible cause', async (dialect, mode, _why) => {
    const r = await callFromPage(dialect, `${gw!.url}/${mode}/${dialect === 'modern' ? 'm' : 'g'}`);
    expect(r).toMatchObject({ ok: false, code: 'NETWORK' });
    // Before: "The network request failed; check connectivity and the base URL." — nothing of CORS,
    // though in a browser a refused cross-origin request is indistinguishable from a dead server.
    expect(r.hint).toMatch(/CORS/);
    expect(r.text).not.toContain(MGS_SECRET);
  });

  it('the gateway is down: NETWORK too (the browser cannot tell it apart), with the same hint', async () => {
    const down = await callFromPage('modern', downUrl);
    const cors = await callFromPage('modern', `${gw!.url}/none/m`);
    expect(down).toMatchObject({ ok: false, code: 'NETWORK' });
    expect({ message: down.message, hint: down.hint }).toEqual({ message: cors.message, hint: cors.hint });
  });
});
