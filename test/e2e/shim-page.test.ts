/**
 * The container's documented page snippet, verbatim, running in real Chromium outside the
 * container: only the shim (the IIFE bundle + a few set-up lines) is added, and the alert
 * shows the gateway's answer. One node:http server serves the page, the bundle and the
 * gateways on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, modern as modernGateway, toNodeHandler } from '../../src/server/index.js';
import { mgs as mgsGateway } from '../../src/server/mgs.js';
import { signingKey } from '../helpers/servers.js';

/** The built bundle; SEALED_RPC_IIFE may point at one built elsewhere. */
const IIFE = process.env.SEALED_RPC_IIFE ?? fileURLToPath(new URL('../../dist/sealed-rpc.iife.js', import.meta.url));

/** The snippet from the gateway FAQ, character for character. */
const SNIPPET = `window.onload = function() {
     ready(function() {
       window.AlipayJSBridge.call('rpc', {
         operationType: 'MYAPI',
         requestData: [
         {"_requestBody":"{\\"key1\\":\\"value1\\",\\"key2\\":\\"value2\\"}"}],
         headers:{},
         getResponse: true
       }, function(data) {
         alert(JSON.stringify(data));
       });
     });
   }`;

const READY = `function ready(cb){ if (window.AlipayJSBridge) cb(); else document.addEventListener('AlipayJSBridgeReady', cb, false); }`;

const MGS_APP = { appId: 'SHIM0000000001', workspaceId: 'default', secret: 'shim-e2e-' + randomBytes(8).toString('hex') };
/** Made per run, so the alert can only hold it if it came back from the gateway. */
const ANSWER_TOKEN = randomBytes(12).toString('hex');
const answerFor = (dialect: string, params: unknown) => ({ from: `${dialect} gateway`, token: ANSWER_TOKEN, received: params });

function page(profileExpression: string, basePath: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>rpc shim e2e</title>
<script src="/dist/sealed-rpc.iife.js"></script>
<script>
  var client = SealedRpc.createClient({
    profile: ${profileExpression},
    transport: SealedRpc.fetchTransport({ baseUrl: location.origin + '${basePath}' }),
    store: SealedRpc.memoryStore()
  });
  SealedRpc.installRpcShim(client);
</script>
</head><body>
<script>
${READY}
${SNIPPET}
</script>
</body></html>`;
}

let server: Server;
let origin = '';
let browser: Browser | undefined;
const pages: Record<string, string> = {};
const received: Record<string, unknown[]> = { mgs: [], modern: [] };

beforeAll(async () => {
  if (!existsSync(IIFE)) throw new Error('dist/sealed-rpc.iife.js is missing: run `npm run build` (or `npx vite build`) first');
  const bundle = readFileSync(IIFE);

  const mgsGw = createGateway({ profile: mgsGateway({ apps: { [MGS_APP.appId]: { secret: MGS_APP.secret, workspaceId: MGS_APP.workspaceId } } }) }).operation('MYAPI', (p) => {
    received.mgs.push(p);
    return answerFor('mgs', p);
  });
  const key = await signingKey();
  const modernGw = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem } }) }).operation('MYAPI', (p) => {
    received.modern.push(p);
    return answerFor('modern', p);
  });
  pages['/mgs.html'] = page(`SealedRpc.mgs(${JSON.stringify(MGS_APP)})`, '/gw');
  pages['/modern.html'] = page(`SealedRpc.modern({ serverKeys: { k1: ${JSON.stringify(key.jwk)} } })`, '/gw-modern');

  const gwMgs = toNodeHandler(mgsGw, { basePath: '/gw' });
  const gwModern = toNodeHandler(modernGw, { basePath: '/gw-modern' });
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (pages[url]) {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(pages[url]);
    } else if (url === '/dist/sealed-rpc.iife.js') {
      res.setHeader('content-type', 'text/javascript; charset=utf-8');
      res.end(bundle);
    } else {
      gwMgs(req, res, () => gwModern(req, res, () => {
        res.statusCode = 404;
        res.end();
      }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Opens the page and returns the text of its first alert (bounded wait). */
async function alertTextOf(path: string): Promise<{ text: string; pageErrors: string[] }> {
  const context = await browser!.newContext();
  try {
    const p = await context.newPage();
    const pageErrors: string[] = [];
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    const alerted = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no alert within 15 s; page errors: ${pageErrors.join(' | ')}`)), 15_000);
      p.on('dialog', (d) => {
        clearTimeout(timer);
        resolve(d.message());
        d.accept().catch(() => {});
      });
    });
    await p.goto(origin + path, { timeout: 15_000 });
    return { text: await alerted, pageErrors };
  } finally {
    await context.close();
  }
}

describe('the container page snippet, unchanged, in real Chromium with the rpc shim', () => {
  it('the page the server serves holds the snippet verbatim, byte for byte as the FAQ prints it', async () => {
    // The FAQ text as a raw literal (no escape processing, so no quoting of ours in between),
    // searched for in the bytes the running server actually sends to the browser.
    const faq = String.raw`window.onload = function() {
     ready(function() {
       window.AlipayJSBridge.call('rpc', {
         operationType: 'MYAPI',
         requestData: [
         {"_requestBody":"{\"key1\":\"value1\",\"key2\":\"value2\"}"}],
         headers:{},
         getResponse: true
       }, function(data) {
         alert(JSON.stringify(data));
       });
     });
   }`;
    for (const path of ['/mgs.html', '/modern.html']) {
      const res = await fetch(origin + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      const served = Buffer.from(await res.arrayBuffer());
      expect(served.includes(Buffer.from(faq, 'utf8')), `${path} does not hold the FAQ snippet byte for byte`).toBe(true);
    }
  });

  it.each([
    ['mgs', '/mgs.html'],
    ['modern', '/modern.html'],
  ])('over %s: alert(JSON.stringify(data)) shows the gateway answer as {header, resData}', async (dialect, path) => {
    const { text, pageErrors } = await alertTextOf(path);
    const expected = answerFor(dialect, { key1: 'value1', key2: 'value2' });
    // The operation got the params the page put in _requestBody…
    expect(received[dialect]).toEqual([{ key1: 'value1', key2: 'value2' }]);
    // …and its answer, opened by the client (decrypted for modern), is what the page alerted.
    expect(text).toContain(JSON.stringify(expected));
    expect(JSON.parse(text)).toEqual({ header: {}, resData: expected });
    expect(pageErrors).toEqual([]);
  });
});
