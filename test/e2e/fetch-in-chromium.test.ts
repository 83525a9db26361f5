/**
 * fetchTransport as pages meet the network, in real Chromium (Debian's, never a downloaded
 * one): a page on one 127.0.0.1 origin, a second origin on another port, both node:http
 * servers in front of real gateways (modern under /m, mgs under /g) that redirect, or hide
 * headers from the page, as misconfigured proxies and CORS set-ups do.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, generateSigningKeyPair, mgs, modern, toNodeHandler } from '../../src/server/index.js';
import { CHROMIUM } from './browser-static.js';

const IIFE = fileURLToPath(new URL('../../dist/sealed-rpc.iife.js', import.meta.url));
const MGS_SECRET = 'mgs-secret-never-in-errors';

interface Running { server: Server; url: string; sockets: Set<Socket> }
interface Hit { origin: 'A' | 'B'; method: string; url: string; headers: IncomingMessage['headers'] }

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Running> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

const stop = (s: Running | undefined) =>
  s ? new Promise<void>((r) => { for (const x of s.sockets) x.destroy(); s.server.close(() => r()); }) : Promise.resolve();

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Passes a request on to the gateways' own server, as a reverse proxy does. */
function forward(gw: string, req: IncomingMessage, path: string, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length', 'origin', 'referer'].includes(k)) headers[k] = v;
    const r = httpRequest(gw + path, { method: req.method, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string' && !['connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k)) h[k] = v;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(parts) });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

let gw: Running | undefined, A: Running | undefined, B: Running | undefined;
let browser: Browser | undefined;
let page: Page;
let serverKeys: Record<string, JsonWebKey>;
const hits: Hit[] = [];

beforeAll(async () => {
  const key = await generateSigningKeyPair();
  serverKeys = { k1: key.publicJwk };
  const modernH = toNodeHandler(createGateway({ profile: modern({ signingKeys: { k1: key.privateKeyPem } }) }).operation('/echo', (p) => p), { basePath: '/m' });
  const mgsH = toNodeHandler(createGateway({ profile: mgs({ appId: 'APP1', workspaceId: 'ws', secret: MGS_SECRET }) }).operation('echo.op', (p) => p), { basePath: '/g' });
  gw = await listen((req, res) => modernH(req, res, () => mgsH(req, res, () => { res.statusCode = 404; res.end(); })));
  const iife = await readFile(IIFE);
  const origins: Record<'A' | 'B', string> = { A: '', B: '' };

  /** `/<mode>/<rest>`: <rest> goes to the gateways as they are mounted, through what <mode> names. */
  const site = (name: 'A' | 'B') => async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    hits.push({ origin: name, method: req.method ?? '', url, headers: req.headers });
    if (url === '/page.html') {
      res.setHeader('content-type', 'text/html');
      return res.end('<!doctype html><title>page</title><script src="/sealed-rpc.iife.js"></script>');
    }
    if (url === '/sealed-rpc.iife.js') {
      res.setHeader('content-type', 'text/javascript');
      return res.end(iife);
    }
    if (url.startsWith('/login')) {
      res.setHeader('content-type', 'text/html');
      return res.end('<html>please sign in</html>');
    }
    const m = /^\/([a-z0-9-]+)(\/.*)$/.exec(url);
    if (!m) return void ((res.statusCode = 404), res.end());
    const [, mode, rest] = m;
    // CORS for the page's origin: a preflight answered, and the headers each mode exposes.
    const expose = mode === 'cors-no-date' ? 'Result-Status, Memo, Tips, Mgw-TraceId' : 'Result-Status, Memo, Tips, Mgw-TraceId, Date';
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', expose);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.setHeader('access-control-allow-headers', String(req.headers['access-control-request-headers'] ?? '*'));
      return res.end();
    }
    const body = await readBody(req);
    const redirect = (status: number, location: string) => {
      res.statusCode = status;
      res.setHeader('location', location);
      res.end();
    };
    switch (mode) {
      case 'plain':
      case 'cors':
      case 'cors-no-date': {
        const r = await forward(gw!.url, req, rest, body);
        res.writeHead(r.status, r.headers);
        return res.end(r.body);
      }
      case 'r302': case 'r307': case 'r308':
        return redirect(Number(mode.slice(1)), `/plain${rest}`);
      case 'x307':
        return redirect(307, `${origins[name === 'A' ? 'B' : 'A']}/cors${rest}`);
      case 'to-login':
        return redirect(302, '/login');
      default:
        res.statusCode = 404;
        return res.end();
    }
  };
  A = await listen(site('A'));
  B = await listen(site('B'));
  origins.A = A.url;
  origins.B = B.url;
  browser = await chromium.launch(CHROMIUM);
  page = await (await browser.newContext()).newPage();
  await page.goto(`${A.url}/page.html`, { timeout: 15_000 });
  await page.waitForFunction(() => 'SealedRpc' in window, undefined, { timeout: 15_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([stop(A), stop(B), stop(gw)]);
});

interface Outcome {
  ok: boolean;
  data?: unknown;
  code?: string;
  message?: string;
  hint?: string;
  status?: number;
  text?: string;
  retries: string[];
}

/** One call from the page (the IIFE bundle), bounded by its timeoutMs; what it resolved or the RpcError's fields. */
function callFromPage(o: { dialect: 'modern' | 'mgs'; baseUrl: string; headers?: Record<string, string>; skewMs?: number }): Promise<Outcome> {
  return page.evaluate(
    async ({ o, serverKeys, secret }) => {
      const S = (window as any).SealedRpc;
      const profile = o.dialect === 'modern' ? S.modern({ serverKeys }) : S.mgs({ appId: 'APP1', workspaceId: 'ws', secret });
      const retries: string[] = [];
      try {
        const client = S.createClient({
          profile,
          transport: S.fetchTransport({ baseUrl: o.baseUrl, ...(o.headers ? { headers: o.headers } : {}) }),
          store: S.memoryStore(),
          clock: { now: () => Date.now() + (o.skewMs ?? 0) },
        });
        client.events.on('retry', (e: { cause: string }) => retries.push(e.cause));
        const data = await client.call(o.dialect === 'modern' ? '/echo' : 'echo.op', { q: 'v' }, { timeoutMs: 8000 });
        return { ok: true, data, retries };
      } catch (e: any) {
        const text = [e.message, e.hint, JSON.stringify(e), String(e.cause ?? ''), JSON.stringify(e.details ?? {})].join(' ');
        return { ok: false, code: e.code, message: e.message, hint: e.hint, status: e.status, text, retries };
      }
    },
    { o, serverKeys, secret: MGS_SECRET },
  );
}

/** The requests the servers saw while `run` ran. */
async function seen<T>(run: () => Promise<T>): Promise<{ result: T; requests: Hit[] }> {
  const from = hits.length;
  const result = await run();
  return { result, requests: hits.slice(from) };
}

describe('fetchTransport in real Chromium: redirects', () => {
  it('control: through the proxy, without redirects, both dialects answer', async () => {
    expect(await callFromPage({ dialect: 'mgs', baseUrl: `${A!.url}/plain/g` })).toMatchObject({ ok: true, data: { q: 'v' } });
    expect(await callFromPage({ dialect: 'modern', baseUrl: `${A!.url}/plain/m` })).toMatchObject({ ok: true, data: { q: 'v' } });
  });

  it('a 307 to another origin is not followed: the sealed request and the headers option (an API key) reach no other origin, and the page gets HTTP_STATUS about the redirect, not that origin’s answer as data', async () => {
    const { result, requests } = await seen(() => callFromPage({ dialect: 'mgs', baseUrl: `${A!.url}/x307/g`, headers: { 'x-api-key': 'key-for-the-gateway-only' } }));
    // Today: the signed body and x-api-key are sent on to B, and B's answer comes back as the gateway's data.
    expect(requests.filter((r) => r.origin === 'B')).toEqual([]);
    expect(result).toMatchObject({ ok: false, code: 'HTTP_STATUS' });
    expect(result.hint).toMatch(/redirect/i);
    expect(result.hint).toMatch(/baseUrl/);
  });

  it.each([
    ['mgs', 302, 'GATEWAY 3002 "the request body is not in the format the gateway expects"'],
    ['mgs', 308, 'the call resent to the Location, which answers as the gateway'],
    ['modern', 302, 'HTTP_STATUS 405 from a body-less GET'],
    ['modern', 307, 'issuance and the sealed call resent to the Location'],
  ] as const)('%s: a %i from the gateway URL is not followed (it was: %s); the call ends with HTTP_STATUS naming the redirect and its status, and nothing is sent to the Location', async (dialect, status, _before) => {
    const { result, requests } = await seen(() => callFromPage({ dialect, baseUrl: `${A!.url}/r${status}/${dialect === 'modern' ? 'm' : 'g'}` }));
    expect(requests.filter((r) => r.url.startsWith('/plain/'))).toEqual([]);
    expect(result).toMatchObject({ ok: false, code: 'HTTP_STATUS' });
    expect(result.message).toMatch(/redirect/);
    expect(result.hint).toMatch(/redirect/i);
  });

  it('modern: a 302 to a sign-in page is HTTP_STATUS about the redirect, not RESPONSE_UNREADABLE blaming "the secret and cipher options"', async () => {
    const { result, requests } = await seen(() => callFromPage({ dialect: 'modern', baseUrl: `${A!.url}/to-login/m` }));
    expect(requests.some((r) => r.url.startsWith('/login'))).toBe(false);
    expect(result).toMatchObject({ ok: false, code: 'HTTP_STATUS' });
    expect(result.hint).not.toMatch(/secret|cipher/);
  });
});

describe('fetchTransport in real Chromium: mgs on another origin', () => {
  it('control: with Date exposed, a 7003 corrects the clock from Date and the one resend succeeds', async () => {
    const r = await callFromPage({ dialect: 'mgs', baseUrl: `${B!.url}/cors/g`, skewMs: 600_000 });
    expect(r).toMatchObject({ ok: true, data: { q: 'v' }, retries: ['CLOCK_SKEW'] });
  });

  it('a 7003 whose Date header the page cannot read (not in Access-Control-Expose-Headers): the CLOCK_SKEW hint says the gateway must expose Date, not only to fix the device clock', async () => {
    const r = await callFromPage({ dialect: 'mgs', baseUrl: `${B!.url}/cors-no-date/g`, skewMs: 600_000 });
    // Chromium hides Date cross-origin (not a CORS-safelisted response header): no correction, no resend.
    expect(r).toMatchObject({ ok: false, code: 'CLOCK_SKEW', retries: [] });
    expect(r.hint).toMatch(/Access-Control-Expose-Headers/);
    expect(r.hint).toMatch(/\bDate\b/);
    expect(r.text).not.toContain(MGS_SECRET);
  });
});
