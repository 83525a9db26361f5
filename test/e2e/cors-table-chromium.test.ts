/**
 * The README's CORS table ("Pages on another origin"), in real Chromium: a page on one
 * 127.0.0.1 origin calls the four gateways on another, behind a CORS middleware built from the
 * table's rows as the README prints them, and every dialect's calls go through (mgs's clock
 * correction too, which needs `Date` exposed). Drop one header the table lists and the call
 * fails as NETWORK, so the rows are not padded either.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appSecret, createGateway, generateSigningKeyPair, mgs, modern, sortedSign, toNodeHandler } from '../../src/server/index.js';
import { listen, type Running } from '../helpers/servers.js';
import { CHROMIUM } from './browser-static.js';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const IIFE = fileURLToPath(new URL('../../dist/sealed-rpc.iife.js', import.meta.url));

/** The table under "Pages on another origin": dialect label -> allowed and exposed header names. */
function corsTable(): Record<string, { allow: string[]; expose: string[] }> {
  const section = README.slice(README.indexOf('**Pages on another origin.**'));
  const rows: Record<string, { allow: string[]; expose: string[] }> = {};
  const names = (cell: string) => (/`([^`]+)`/.exec(cell)?.[1] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  for (const line of section.split('\n').slice(0, 14)) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || !cells[1].startsWith('`')) continue;
    rows[cells[1]] = { allow: names(cells[3]), expose: names(cells[4]) };
  }
  return rows;
}

/** Closes a server started here (its open connections too). */
const stop = (s: Running | undefined) => s?.close() ?? Promise.resolve();

const APP_KEY = 'aPpKeY-16-chars!';
const PUBLIC_SECRET = '0123456789abcdef';
const MGS_APP = { appId: 'CORS1234567890', workspaceId: 'default', secret: 'mgs-secret-16-ch' };

let page: Page;
let browser: Browser | undefined;
let A: Running | undefined;
let B: Running | undefined;
let serverKeys: Record<string, JsonWebKey>;
/** A header name the CORS middleware leaves out of modern's allowed list (the negative control). */
const withhold = { header: '' };

beforeAll(async () => {
  const table = corsTable();
  expect(Object.keys(table)).toEqual(['`modern`', '`mgs`', "`sorted-sign` with `method: 'POST'`", '`sorted-sign` GET, `app-secret`']);
  const key = await generateSigningKeyPair();
  serverKeys = { k1: key.publicJwk };
  // Each gateway under its own basePath, with the table row that applies to it.
  const mounts: [string, (req: IncomingMessage, res: ServerResponse, next: () => void) => void, string][] = [
    ['/m', toNodeHandler(createGateway({ profile: modern({ signingKeys: { k1: key.privateKeyPem } }) }).operation('/echo', (p) => p), { basePath: '/m' }), '`modern`'],
    ['/g', toNodeHandler(createGateway({ profile: mgs(MGS_APP) }).operation('echo.op', (p) => p), { basePath: '/g' }), '`mgs`'],
    ['/s', toNodeHandler(createGateway({ profile: sortedSign({ apps: { '1': APP_KEY } }) }).operation('/echo', (p) => p), { basePath: '/s' }), "`sorted-sign` with `method: 'POST'`"],
    ['/a', toNodeHandler(createGateway({ profile: appSecret({ publicSecret: PUBLIC_SECRET }) }).operation('/echo', (p) => p), { basePath: '/a' }), '`sorted-sign` GET, `app-secret`'],
  ];
  const iife = await readFile(IIFE);
  A = await listen((req, res) => {
    if (req.url === '/sealed-rpc.iife.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(iife);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title><script src="/sealed-rpc.iife.js"></script>');
  });
  const pageOrigin = A.url;
  B = await listen((req, res) => {
    const mount = mounts.find(([base]) => req.url?.startsWith(base + '/'));
    if (!mount) return res.writeHead(404).end();
    const row = table[mount[2]];
    const allow = row.allow.filter((h) => !(mount[0] === '/m' && h === withhold.header));
    res.setHeader('access-control-allow-origin', pageOrigin);
    if (row.expose.length) res.setHeader('access-control-expose-headers', row.expose.join(', '));
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.setHeader('access-control-max-age', '0'); // no preflight cache: the control below changes the answer
      if (allow.length) res.setHeader('access-control-allow-headers', allow.join(', '));
      return res.writeHead(204).end();
    }
    mount[1](req, res, () => res.writeHead(404).end());
  });
  browser = await chromium.launch(CHROMIUM);
  page = await (await browser.newContext()).newPage();
  await page.goto(`${A.url}/page.html`, { timeout: 15_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([stop(A), stop(B)]);
});

/** Runs `dialect`'s calls in the page against origin B; returns what each gave. */
function callFromPage(dialect: 'modern' | 'mgs' | 'sorted-sign POST' | 'sorted-sign GET' | 'app-secret') {
  return page.evaluate(
    async ({ dialect, gw, serverKeys, APP_KEY, PUBLIC_SECRET, MGS_APP }) => {
      const S = (window as unknown as { SealedRpc: any }).SealedRpc;
      const make = (profile: unknown, base: string, extra: object = {}) => S.createClient({ profile, transport: S.fetchTransport({ baseUrl: gw + base }), store: S.memoryStore(), timeoutMs: 10_000, ...extra });
      const events: string[] = [];
      const client =
        dialect === 'modern' ? make(S.modern({ serverKeys }), '/m')
        : dialect === 'mgs' ? make(S.mgs(MGS_APP), '/g', { clock: { now: () => Date.now() - 600_000 } }) // 10 min slow: one 7003, corrected from Date
        : dialect === 'sorted-sign POST' ? make(S.sortedSign({ appId: 1, appKey: APP_KEY, method: 'POST' }), '/s')
        : dialect === 'sorted-sign GET' ? make(S.sortedSign({ appId: 1, appKey: APP_KEY }), '/s')
        : make(S.appSecret({ publicSecret: PUBLIC_SECRET }), '/a');
      client.events.on('clock-corrected', () => events.push('clock-corrected'));
      const op = dialect === 'mgs' ? 'echo.op' : '/echo';
      try {
        const data = await client.call(op, { note: '跨域 ok' });
        return { ok: true, data, events };
      } catch (e) {
        return { ok: false, code: (e as { code?: string }).code, hint: (e as { hint?: string }).hint, events };
      }
    },
    { dialect, gw: B!.url, serverKeys, APP_KEY, PUBLIC_SECRET, MGS_APP },
  );
}

describe("the README's CORS table, in real Chromium (page and gateways on two 127.0.0.1 origins)", () => {
  it('with exactly the headers the table lists, every dialect calls across origins: modern (issuance and call), mgs (with its 7003 clock correction from the exposed Date), sorted-sign POST and GET, app-secret', async () => {
    withhold.header = '';
    expect(await callFromPage('modern')).toMatchObject({ ok: true, data: { note: '跨域 ok' } }); // (its issuance corrects the clock by the ms it is off)
    expect(await callFromPage('mgs')).toEqual({ ok: true, data: { note: '跨域 ok' }, events: ['clock-corrected'] });
    expect(await callFromPage('sorted-sign POST')).toEqual({ ok: true, data: { note: '跨域 ok' }, events: [] });
    expect(await callFromPage('sorted-sign GET')).toEqual({ ok: true, data: { note: '跨域 ok' }, events: [] });
    expect(await callFromPage('app-secret')).toEqual({ ok: true, data: { note: '跨域 ok', accessFrom: 'h5' }, events: [] });
  }, 60_000);

  it("one header of modern's row left out (x-nonce): the call fails as NETWORK, and the hint names CORS", async () => {
    withhold.header = 'x-nonce';
    try {
      const r = await callFromPage('modern');
      expect(r).toMatchObject({ ok: false, code: 'NETWORK' });
      expect(r.hint).toMatch(/CORS/);
    } finally {
      withhold.header = '';
    }
  }, 60_000);
});
