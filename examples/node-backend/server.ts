/**
 * A Node back end on `sealed-rpc/server`: one node:http server that runs a `modern`
 * gateway under /api and serves a page (plus the browser bundle) that calls it.
 *
 *   npm run build && node examples/node-backend/run.mjs      # Node 20 (runs this file through Vite)
 *   node --experimental-strip-types examples/node-backend/server.ts   # Node >= 22.6
 *
 * GATEWAY_KEY_PEM (a PKCS#8 P-256 key) keeps the key across restarts; without it a key is
 * made at start. PORT / HOST choose where to listen (default 127.0.0.1:8787).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createGateway, generateSigningKeyPair, modern, OperationError, toNodeHandler, useNodeCrypto } from 'sealed-rpc/server';

/** The gateway's signing key (PEM) and the public JWK the page pins. */
async function gatewayKey(): Promise<{ pem: string; jwk: JsonWebKey }> {
  const fromEnv = process.env.GATEWAY_KEY_PEM;
  if (fromEnv) {
    const der = Buffer.from(fromEnv.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const priv = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
    const { x, y } = await crypto.subtle.exportKey('jwk', priv);
    return { pem: fromEnv, jwk: { kty: 'EC', crv: 'P-256', x, y } };
  }
  const { privateKeyPem, publicJwk } = await generateSigningKeyPair();
  return { pem: privateKeyPem, jwk: publicJwk };
}

/** The page: the IIFE bundle from a plain script tag, the gateway's public key pinned inline. */
function page(jwk: JsonWebKey): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sealed-rpc: Node back end</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:40rem;padding:0 1rem}pre{background:#f4f4f4;padding:.75rem;white-space:pre-wrap}</style>
</head><body>
<h1>Node back end</h1>
<p>This page and the gateway under <code>/api</code> come from one <code>node:http</code> server (<code>examples/node-backend/server.ts</code>).</p>
<button id="go">/sum 40 + 2</button>
<pre id="out">…</pre>
<script src="/sealed-rpc.iife.js"></script>
<script>
  var client = SealedRpc.createClient({
    profile: SealedRpc.modern({ serverKeys: { k1: ${JSON.stringify(jwk)} } }),
    transport: SealedRpc.fetchTransport({ baseUrl: '/api' })
  });
  function go() {
    client.call('/sum', { a: '40', b: '2' }).then(
      function (r) { document.getElementById('out').textContent = '40 + 2 = ' + r.sum; document.body.setAttribute('data-sum', r.sum); },
      function (e) { document.getElementById('out').textContent = e.code + ': ' + e.hint; }
    );
  }
  document.getElementById('go').onclick = go;
  go();
</script>
</body></html>`;
}

export interface ExampleServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startExampleServer(options: { port?: number; host?: string } = {}): Promise<ExampleServer> {
  // A Node gateway runs the SDK's primitives on OpenSSL (same bytes; WebCrypto in Node is a
  // thread-pool job per call): less gateway CPU per call (README, "Performance").
  useNodeCrypto();
  const key = await gatewayKey();
  const gateway = createGateway({ profile: modern({ signingKeys: { k1: key.pem } }) })
    .operation('/sum', (p: { a?: string; b?: string }) => ({ sum: String(Number(p.a) + Number(p.b)) }))
    .operation('/hello', (p: { name?: string }) => {
      if (!p.name) throw new OperationError('E_NO_NAME', 'name is required');
      return { greeting: `Hello, ${p.name}` };
    });
  const api = toNodeHandler(gateway, { basePath: '/api' });
  // The script-tag bundle and the files it loads on demand (pure-JS crypto where the page has
  // no crypto.subtle, the offline-package unzipper), all served from the same folder.
  const bundleDir = dirname(createRequire(import.meta.url).resolve('sealed-rpc/iife'));
  const BUNDLES = new Set(['sealed-rpc.iife.js', 'sealed-rpc.fallback.iife.js', 'sealed-rpc.unzip.iife.js']);
  const html = page(key.jwk);

  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/' || url === '/index.html') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(html);
    } else if (BUNDLES.has(url.slice(1))) {
      readFile(join(bundleDir, url.slice(1))).then(
        (js) => {
          res.setHeader('content-type', 'text/javascript; charset=utf-8');
          res.end(js);
        },
        () => {
          res.statusCode = 500;
          res.end(`dist${url} is missing: run npm run build`);
        },
      );
    } else {
      api(req, res, () => {
        res.statusCode = 404;
        res.end();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Run directly (Node >= 22.6 with --experimental-strip-types): listen and say where.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const s = await startExampleServer({ port: Number(process.env.PORT ?? 8787), host: process.env.HOST ?? '127.0.0.1' });
  console.log(`sealed-rpc example back end: ${s.url}/ (gateway under /api)`);
}
